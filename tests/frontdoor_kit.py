"""Helpers for front-door tests: Slack-signed requests, as Slack would send them, to the Chalice test client.

Bodies, signatures and the directory are the local world's (localworld/slack_user.py): one definition of what
Slack sends.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from chalice.test import Client

from localworld.slack_user import LOCAL_BOT_TOKEN as BOT_TOKEN
from localworld.slack_user import LOCAL_SIGNING_SECRET as SIGNING_SECRET
from localworld.slack_user import click_body, command_body, load_directory, signed_headers, uid

SHARED, STAGE, PROD = "111122223333", "222233334444", "333344445555"
ROOT = Path(__file__).resolve().parent.parent
__all__ = ["BOT_TOKEN", "PROD", "SHARED", "SIGNING_SECRET", "STAGE", "Slack", "answers", "app_for", "as_account",
           "directory", "put_slack_secret", "uid"]


def put_slack_secret(**value: Any) -> None:
    """The front door's Slack secret: the local world's workspace, or ``value`` (e.g. a placeholder)."""
    boto3.client("secretsmanager").create_secret(Name="switchboard/slack", SecretString=json.dumps(
        value or {"signing_secret": SIGNING_SECRET, "bot_token": BOT_TOKEN}))


_APPS: dict[str, ModuleType] = {}


def app_for(monkeypatch, account: str) -> ModuleType:
    """app.py as the account's Lambda imports it: with that account's environment, so with what its policy wires
    (only the front door has Slack routes). The test run's ``import app`` is prod's (conftest); this is another
    module from the same file, imported once per account."""
    as_account(monkeypatch, account)
    if account not in _APPS:
        spec = importlib.util.spec_from_file_location(f"app_{account.replace('-', '_')}", ROOT / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _APPS[account] = module
    return _APPS[account]


directory = load_directory


@dataclass
class Slack:
    """Sends what Slack sends: signed form posts to the two request URLs."""

    client: Client
    standin: Any
    runner: Any = None
    app: Any = None  # the front door's app module (app.py imported as shared-services)

    def signed(self, body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
        return signed_headers(body, secret=secret, timestamp=timestamp)

    def command_body(self, text: str, user: str = "dave", **fields: Any) -> str:
        return command_body(text, user, fields.pop("response_url", None) or self.standin.response_url(), **fields)

    def command(self, text: str, user: str = "dave", headers: dict[str, str] | None = None, **fields: Any) -> Any:
        body = self.command_body(text, user, **fields)
        return self.client.http.post("/slack/commands", body=body, headers=headers or self.signed(body))

    def click(self, action_id: str, value: str, user: str, message: Any = None) -> Any:
        """A click on the button, from ``message`` (default: the newest message in the stand-in showing it, else,
        for a decision whose buttons are gone, its card as the clicker's screen still showed it)."""
        message = message if message is not None else self.standin.message_with(action_id, value)
        if message is None and action_id in ("decision_approve", "decision_reject"):
            from chalicelib.decisions import store as decision_store

            item = decision_store.get(value)
            if item is not None and item.ts:
                message = {"channel": item.channel, "ts": item.ts}
        body = click_body(action_id, value, user, self.standin.response_url(), message=message)
        return self.client.http.post("/slack/interactive", body=body, headers=self.signed(body))


def as_account(monkeypatch, name: str) -> None:
    monkeypatch.setenv("SWITCHBOARD_ACCOUNT_NAME", name)
    monkeypatch.setenv("SWITCHBOARD_SIGNING_KEY", f"alias/switchboard-signing-{name}")
    monkeypatch.setenv("SWITCHBOARD_POLICY_FILE", f"policies/{name}.yaml")
    from chalicelib import settings
    from chalicelib.policy import loader as policy

    settings.get_settings.cache_clear()
    policy.current.cache_clear()


def answers(kit: Slack) -> list[str]:
    return [r.get("text", "") + " " + json.dumps(r.get("blocks", [])) for r in kit.standin.responses()]
