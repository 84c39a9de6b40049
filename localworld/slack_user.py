"""People in the local world's Slack workspace, and the requests Slack sends for them (signed, form-encoded).

The directory (users, user groups) is the one the shipped policies' ``slack.roles`` refer to. ``SlackUser`` sends
slash commands and button clicks to the front door exactly as Slack would, so the whole path (signature, ack,
lazy listener, RBAC, response_url) runs for real.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from localworld.slack_standin import APP_ID, TEAM_ID

LOCAL_SIGNING_SECRET = "local-world-signing-secret"  # noqa: S105 - the emulated workspace's, not a real one
LOCAL_BOT_TOKEN = "xoxb-local-world"  # noqa: S105
# The stand-in's workspace and app: the ids the front door's policy pins (slack.team_id, slack.api_app_id).
TEAM, APP = TEAM_ID, APP_ID

# handle -> (user id, user-group ids). Roles come from the groups, per environment, in chalicelib/policies/.
USERS: dict[str, tuple[str, list[str]]] = {
    "alice": ("U0ALICE001", ["S0ENG", "S0PLATFORM"]),  # operator
    "bob": ("U0BOB00001", ["S0ENG", "S0LEADS"]),  # approver (and commits as bob@acme.example)
    "carol": ("U0CAROL001", ["S0ENG", "S0LEADS"]),  # approver
    "dave": ("U0DAVE0001", ["S0ENG"]),  # viewer
    "root": ("U0ADMIN001", []),  # admin
    "eve": ("U0EVE00001", []),  # no role anywhere
    "sam": ("U0SAM00001", ["S0STAGE"]),  # viewer of stage only (nothing of prod, in Slack or the console)
}
GROUPS = {"S0ENG": "engineering", "S0PLATFORM": "platform", "S0LEADS": "leads", "S0STAGE": "stage-watchers"}


def uid(handle: str) -> str:
    return USERS[handle][0]


def load_directory(standin: Any) -> None:
    for group_id, handle in GROUPS.items():
        standin.add_group(group_id, handle)
    for handle, (user_id, groups) in USERS.items():
        standin.add_user(user_id, handle, groups=groups)


def signed_headers(body: str, *, secret: str = LOCAL_SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)}


def command_body(text: str, handle: str, response_url: str, *, command: str = "/ops",
                 channel: str = "C0OPS00001", team: str = TEAM, app: str = APP) -> str:
    return urlencode({
        "token": "deprecated-verification-token", "team_id": team, "team_domain": "acme", "channel_id": channel,
        "channel_name": "ops", "user_id": uid(handle), "user_name": handle, "command": command, "text": text,
        "api_app_id": app, "response_url": response_url, "trigger_id": f"tr-{uuid.uuid4().hex[:12]}"})


def block_showing(blocks: list[dict[str, Any]] | None, action_id: str, value: str) -> str | None:
    """The block_id ("" if it has none) of the block holding the button (``action_id``, ``value``); None if the
    message does not show it."""
    for block in blocks or []:
        elements = [*(block.get("elements") or []), *([block["accessory"]] if block.get("accessory") else [])]
        if any(isinstance(e, dict) and e.get("action_id") == action_id and e.get("value") == value for e in elements):
            return str(block.get("block_id") or "")
    return None


def click_body(action_id: str, value: str, handle: str, response_url: str, *, message: Any = None,
               channel: str = "C0OPS00001", message_ts: str = "1", team: str = TEAM, app: str = APP) -> str:
    """A ``block_actions`` payload as Slack sends it for a button on a message: ``container`` (``message_ts``,
    ``channel_id``), ``channel`` and the ``message`` itself (as the stand-in's ``Message`` or Slack's dict) say
    which message the click came from. Without ``message``, ``channel`` and ``message_ts`` name it."""
    blocks = None
    if message is not None:
        get = message.get if isinstance(message, dict) else lambda k, d=None: getattr(message, k, d)
        channel, message_ts, blocks = get("channel", channel), get("ts", message_ts), get("blocks")
    payload = {"type": "block_actions", "team": {"id": team}, "user": {"id": uid(handle), "name": handle},
               "api_app_id": app, "trigger_id": f"tr-{uuid.uuid4().hex[:12]}", "response_url": response_url,
               "channel": {"id": channel}, "container": {"type": "message", "message_ts": message_ts,
                                                         "channel_id": channel, "is_ephemeral": False},
               "message": {"type": "message", "ts": message_ts, **({"blocks": blocks} if blocks else {})},
               "actions": [{"action_id": action_id, "value": value,
                            "block_id": block_showing(blocks, action_id, value) or f"decision:{value}",
                            "type": "button", "action_ts": f"{time.time():.6f}"}]}
    return urlencode({"payload": json.dumps(payload)})


class SlackUser:
    """One person typing /ops and clicking buttons, against the front door's URL (as Slack would call it)."""

    def __init__(self, handle: str, front_door_url: str, standin: Any, *, secret: str = LOCAL_SIGNING_SECRET):
        self.handle = handle
        self.url = front_door_url.rstrip("/")
        self.standin = standin
        self.secret = secret

    def _post(self, path: str, body: str, headers: dict[str, str] | None = None) -> tuple[int, Any, float]:
        import requests

        started = time.perf_counter()
        answer = requests.post(self.url + path, data=body.encode(), timeout=10,
                               headers=headers or signed_headers(body, secret=self.secret))
        elapsed = time.perf_counter() - started
        try:
            content: Any = answer.json()
        except ValueError:
            content = answer.text
        return answer.status_code, content, elapsed

    def command(self, text: str, *, headers: dict[str, str] | None = None) -> tuple[int, Any, float, str]:
        """POST /slack/commands; returns (status, ack body, seconds to the ack, the response_url to watch)."""
        response_url = self.standin.response_url(self.handle)
        body = command_body(text, self.handle, response_url)
        return (*self._post("/slack/commands", body, headers), response_url)

    def click(self, action_id: str, value: str, message: Any = None) -> tuple[int, Any, float, str]:
        """Click the button (``action_id``, ``value``) on ``message``; by default on the newest message that shows
        it (as a person would), so the click carries the message it came from."""
        response_url = self.standin.response_url(self.handle)
        message = message if message is not None else self.standin.message_with(action_id, value)
        body = click_body(action_id, value, self.handle, response_url, message=message)
        return (*self._post("/slack/interactive", body), response_url)
