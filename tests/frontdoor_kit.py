"""Helpers for front-door tests: a Slack-signed request, as Slack would send it, to the Chalice app."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import boto3
from chalice.test import Client
from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "local-signing-secret-3f9a"  # test value, not a real secret
BOT_TOKEN = "xoxb-local-world"
SHARED, STAGE, PROD = "111122223333", "222233334444", "333344445555"

USERS = {
    "alice": ("U0ALICE001", ["S0ENG", "S0PLATFORM"]),   # operator
    "bob": ("U0BOB00001", ["S0ENG", "S0LEADS"]),        # approver
    "carol": ("U0CAROL001", ["S0ENG", "S0LEADS"]),      # approver
    "dave": ("U0DAVE0001", ["S0ENG"]),                  # viewer
    "root": ("U0ADMIN001", []),                         # admin
    "eve": ("U0EVE00001", []),                          # no role at all
}


def uid(name: str) -> str:
    return USERS[name][0]


def put_slack_secret() -> None:
    boto3.client("secretsmanager").create_secret(
        Name="switchboard/slack", SecretString=json.dumps({"signing_secret": SIGNING_SECRET, "bot_token": BOT_TOKEN}))


def directory(standin: Any) -> None:
    for name, (user_id, groups) in USERS.items():
        standin.add_user(user_id, name, groups=groups)


@dataclass
class Slack:
    """Sends what Slack sends: signed form posts to the two request URLs."""

    client: Client
    standin: Any
    now: float | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)

    def signed(self, body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
        ts = str(int(time.time() if self.now is None else self.now) if timestamp is None else timestamp)
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature}

    def command_body(self, text: str, user: str = "dave", channel: str = "C0OPS00001") -> str:
        return urlencode({
            "token": "deprecated-verification-token", "team_id": "T0ACME0001", "team_domain": "acme",
            "channel_id": channel, "channel_name": "ops", "user_id": uid(user), "user_name": user,
            "command": "/ops", "text": text, "api_app_id": "A0SWITCH01",
            "response_url": self.standin.response_url(), "trigger_id": f"tr-{uuid.uuid4().hex[:12]}"})

    def command(self, text: str, user: str = "dave", headers: dict[str, str] | None = None) -> Any:
        body = self.command_body(text, user)
        return self.client.http.post("/slack/commands", body=body, headers=headers or self.signed(body))

    def click(self, action_id: str, value: str, user: str, message_ts: str = "1", channel: str = "C0OPS00001") -> Any:
        payload = {"type": "block_actions", "team": {"id": "T0ACME0001"}, "user": {"id": uid(user), "name": user},
                   "api_app_id": "A0SWITCH01", "trigger_id": f"tr-{uuid.uuid4().hex[:12]}",
                   "response_url": self.standin.response_url(), "channel": {"id": channel},
                   "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
                   "actions": [{"action_id": action_id, "value": value, "block_id": f"decision:{value}",
                                "type": "button", "action_ts": str(time.time())}]}
        body = urlencode({"payload": json.dumps(payload)})
        return self.client.http.post("/slack/interactive", body=body, headers=self.signed(body))
