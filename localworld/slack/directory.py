"""The stand-in's workspace: who it is (team, bot), its channels (names to stable ids) and its directory of users
and user groups, which back ``users.info``, ``usergroups.list`` and ``usergroups.users.list``.

``users.info`` answers ``user_not_found`` for an id never registered (the bot user is built in);
``usergroups.list`` gives ``users`` only with ``include_users`` (``user_count`` is a string, as on Slack);
``usergroups.users.list`` answers ``no_such_subteam`` for an unknown group. Channel names (``#team-web`` or
``team-web``) resolve to a stable fake id (``C`` + 10 hex); a user id as a channel resolves to a stable DM id (``D…``).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "TL0CA1W0RLD"
TEAM_NAME = "Local World"
BOT_USER_ID = "UL0CA1B0T01"
BOT_ID = "BL0CA1B0T01"
APP_ID = "AL0CA1APP01"

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{8,}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_TRUE = ("1", "true", "yes")


class ApiError(Exception):
    """A Web API error: answered as HTTP 200 ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class _User:
    name: str
    real_name: str


@dataclass
class _Group:
    handle: str
    name: str
    users: list[str] = field(default_factory=list)  # member ids, in the order they were added


def channel_id_for(name: str) -> str:
    """The stable fake id for a channel name (``#team-web`` and ``team-web`` give the same id)."""
    digest = hashlib.sha256(name.lstrip("#").encode("utf-8")).hexdigest()
    return "C" + digest[:10].upper()


def dm_id_for(user: str) -> str:
    return "D" + hashlib.sha256(user.encode("utf-8")).hexdigest()[:10].upper()




class Directory:
    """Channels, users and user groups. ``_cond`` guards them (the server's lock, shared)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._channel_names: dict[str, str] = {}  # id -> name
        self._users: dict[str, _User] = {}
        self._groups: dict[str, _Group] = {}

    def forget_directory(self) -> None:
        with self._cond:
            self._users.clear()
            self._groups.clear()

    def add_user(
        self, user_id: str, name: str, *, groups: Iterable[str] = (), real_name: str | None = None
    ) -> None:
        """Register a user (``name`` is the Slack handle) and add them to user groups (``S…`` ids).

        Registering an id again renames the user and adds the new groups (it leaves none). A group
        not registered yet is created with a handle derived from its id; :meth:`add_group` may name it.
        """
        if not USER_ID.match(user_id):
            raise ValueError(f"not a Slack user id: {user_id!r}")
        groups = [groups] if isinstance(groups, str) else list(groups)
        for gid in groups:
            check_group_id(gid)
        with self._cond:
            self._users[user_id] = _User(name=name, real_name=real_name or name)
            for gid in groups:
                group = self._groups.setdefault(gid, _Group(handle=gid.lower(), name=gid.lower()))
                if user_id not in group.users:
                    group.users.append(user_id)

    def directory_users(self) -> dict[str, str]:
        """handle -> user id, for the OIDC stand-in's sign-in page."""
        with self._cond:
            return {u.name: uid for uid, u in self._users.items()}

    def add_group(self, group_id: str, handle: str, users: Iterable[str] = (), *, name: str | None = None) -> None:
        """Register a user group (``handle`` without ``@``) with members; again: rename it, add members."""
        check_group_id(group_id)
        users = [users] if isinstance(users, str) else list(users)
        for uid in users:
            if not USER_ID.match(uid):
                raise ValueError(f"not a Slack user id: {uid!r}")
        with self._cond:
            group = self._groups.setdefault(group_id, _Group(handle=handle, name=name or handle))
            group.handle, group.name = handle, name or handle
            for uid in users:
                if uid not in group.users:
                    group.users.append(uid)

    def _resolve_channel(self, channel: str) -> str:
        if CHANNEL_ID.match(channel):
            return channel
        if USER_ID.match(channel):
            return dm_id_for(channel)
        cid = channel_id_for(channel)
        self._channel_names.setdefault(cid, channel.lstrip("#"))
        return cid

    # -- the API methods (caller holds self._cond) --

    def _api_users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        uid = _opt_str(body.get("user")) or ""
        if uid == BOT_USER_ID:
            user = _User(name="switchboard", real_name="Switchboard")
        else:
            user = self._users.get(uid)
        if user is None:
            raise ApiError("user_not_found")
        return {
            "user": {
                "id": uid,
                "team_id": TEAM_ID,
                "name": user.name,
                "real_name": user.real_name,
                "deleted": False,
                "is_bot": uid == BOT_USER_ID,
                "is_admin": False,
                "tz": "UTC",
                "tz_offset": 0,
                "profile": {
                    "real_name": user.real_name,
                    "display_name": user.name,
                    "email": f"{user.name}@local-world.invalid",
                    "team": TEAM_ID,
                },
            }
        }

    def _api_usergroups_list(self, body: dict[str, Any]) -> dict[str, Any]:
        include_users = _flag(body.get("include_users"))
        groups = []
        for gid, group in self._groups.items():
            out: dict[str, Any] = {
                "id": gid,
                "team_id": TEAM_ID,
                "is_usergroup": True,
                "is_subteam": True,
                "name": group.name,
                "description": "",
                "handle": group.handle,
                "is_external": False,
                "date_create": 1732233600,
                "date_update": 1732233600,
                "date_delete": 0,
                "auto_type": None,
                "created_by": BOT_USER_ID,
                "updated_by": BOT_USER_ID,
                "deleted_by": None,
                "prefs": {"channels": [], "groups": []},
                "user_count": str(len(group.users)),
            }
            if include_users:
                out["users"] = list(group.users)
            groups.append(out)
        return {"usergroups": groups}

    def _api_usergroups_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        gid = _opt_str(body.get("usergroup"))
        if not gid:
            raise ApiError("invalid_arguments")
        group = self._groups.get(gid)
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group.users)}


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _flag(value: Any) -> bool:
    """A boolean argument as Slack reads it: ``true``/``1`` (slack_sdk sends ``"1"``/``"0"``)."""
    return value is True or str(value).strip().lower() in _TRUE


def check_group_id(group_id: str) -> None:
    if not GROUP_ID.match(group_id):
        raise ValueError(f"not a Slack user group id: {group_id!r}")


