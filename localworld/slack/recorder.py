"""What the stand-in keeps: every request as a :class:`Call` (tokens redacted, optionally appended to a JSON-lines
file), the current state of every posted message, and the bodies response_urls accepted; and the ways to look at
them (``messages``, ``message_with``, ``ephemerals``, ``responses``, ``wait_for``).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from localworld.slack.directory import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID

log = logging.getLogger("localworld.slack_standin")


@dataclass(frozen=True)
class Call:
    """One request the stand-in received (API call or response_url use), secrets redacted."""

    method: str  # "chat.postMessage", ..., or "response_url"
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float
    status: int = 200  # HTTP status answered
    response: Any = None  # the JSON answered (API) or the text answered (response_url)


@dataclass(frozen=True)
class Message:
    """The current state of one posted message."""

    channel: str  # resolved id, e.g. "C1A2B3C4D5E"
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    updated: int = 0  # how many times chat.update changed it
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)  # previous versions, oldest first
    attachments: list[dict[str, Any]] | None = None
    ephemeral_to: str | None = None  # the user, for chat.postEphemeral


@dataclass
class _MessageState:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    attachments: list[dict[str, Any]] | None
    thread_ts: str | None
    ephemeral_to: str | None = None
    updated: int = 0
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    def snapshot(self) -> Message:
        return Message(
            channel=self.channel,
            ts=self.ts,
            text=self.text,
            blocks=copy.deepcopy(self.blocks),
            thread_ts=self.thread_ts,
            updated=self.updated,
            deleted=self.deleted,
            history=copy.deepcopy(self.history),
            attachments=copy.deepcopy(self.attachments),
            ephemeral_to=self.ephemeral_to,
        )

    def as_slack(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "text": self.text,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": self.ts,
        }
        if self.blocks is not None:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.attachments is not None:
            out["attachments"] = copy.deepcopy(self.attachments)
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        return out


def redact_token(token: str) -> str:
    """``xoxb-123-abc`` -> ``xoxb-***`` (keeps only the token type)."""
    prefix = token.split("-", 1)[0] if "-" in token else ""
    return f"{prefix}-***" if prefix.startswith("xox") else "***"


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _redacted_headers(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for k, v in headers.items():
        if k.lower() == "authorization":
            token = _bearer(v)
            v = f"Bearer {redact_token(token)}" if token else "***"
        out[k] = v
    return out


def _redacted_body(body: dict[str, Any]) -> dict[str, Any]:
    if "token" in body and body["token"]:
        body = {**body, "token": redact_token(str(body["token"]))}
    return body



class Recorder:
    """Calls, messages and response bodies. Needs the ``_cond`` lock and ``_resolve_channel`` of the directory."""

    _cond: Any
    _resolve_channel: Callable[[str], str]

    def __init__(self, record_file: str | None, on_call: Callable[[Call], None] | None) -> None:
        self.record_file = record_file
        self.on_call = on_call
        self.calls: list[Call] = []
        self._messages: dict[tuple[str, str], _MessageState] = {}
        self._ephemerals: list[_MessageState] = []
        self._responses: list[tuple[str, dict[str, Any]]] = []

    def forget_recorded(self) -> None:
        # caller holds self._cond
        self.calls.clear()
        self._messages.clear()
        self._ephemerals.clear()
        self._responses.clear()

    # -- inspection --------------------------------------------------------------------------------

    def messages(self, channel: str | None = None) -> list[Message]:
        """Posted messages (current state, deleted ones flagged), oldest first; ephemerals excluded."""
        with self._cond:
            cid = self._resolve_channel(channel) if channel is not None else None
            states = [m for m in self._messages.values() if cid is None or m.channel == cid]
            return [m.snapshot() for m in sorted(states, key=lambda m: m.ts)]

    def message_with(self, action_id: str, value: str) -> Message | None:
        """The newest posted message that shows the button (``action_id``, ``value``): what a click on it comes
        from (its ``channel`` and ``ts`` go into the click's ``container``)."""
        from localworld.slack_user import block_showing

        found = [m for m in self.messages() if not m.deleted and block_showing(m.blocks, action_id, value) is not None]
        return found[-1] if found else None

    def ephemerals(self, channel: str | None = None) -> list[Message]:
        """Messages sent with chat.postEphemeral (``ephemeral_to`` says to whom)."""
        with self._cond:
            cid = self._resolve_channel(channel) if channel is not None else None
            return [m.snapshot() for m in self._ephemerals if cid is None or m.channel == cid]

    def responses(self, response_url: str | None = None) -> list[dict[str, Any]]:
        """Bodies accepted by response_urls (all, or those of one url or id), in order."""
        rid = response_url.rstrip("/").rsplit("/", 1)[-1] if response_url is not None else None
        with self._cond:
            return [copy.deepcopy(b) for r, b in self._responses if rid is None or r == rid]

    def wait_for(self, predicate: Callable[[list[Call]], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate(calls)`` holds (re-checked on each new call) or the timeout passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if predicate(list(self.calls)):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)

    def _record(self, call: Call) -> None:
        # caller holds self._cond
        self.calls.append(call)
        if self.record_file:
            with open(self.record_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(call), default=str, sort_keys=True) + "\n")
        self._cond.notify_all()
        if self.on_call is not None:
            try:
                self.on_call(call)
            except Exception:  # noqa: BLE001 - an observer must not break the server
                log.exception("on_call hook failed")

