"""The Slack app manifest matches what the app serves and calls."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from chalicelib.policy.loader import load
from tests.frontdoor_kit import app_for

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "docs" / "slack-app-manifest.yaml").read_text())
FRONT_DOOR_POLICY = load(ROOT / "chalicelib" / "policies" / "shared-services.yaml")

# Web API method -> the scope Slack requires for it
SCOPES = {"chat_postMessage": "chat:write", "chat_update": "chat:write", "usergroups_list": "usergroups:read"}


def test_request_urls_are_the_routes_the_app_serves(monkeypatch):
    front_door = app_for(monkeypatch, "shared-services")  # only the front door serves Slack
    routes = {path for path, methods in front_door.app.routes.items() if "POST" in methods
              and path.startswith("/slack/")}
    # the console's sign-in comes back to a page of the console's route
    assert MANIFEST["oauth_config"]["redirect_urls"] == ["API_URL/console/callback"]
    assert "/console/{page}" in front_door.app.routes
    [command] = MANIFEST["features"]["slash_commands"]
    urls = {command["url"], MANIFEST["settings"]["interactivity"]["request_url"]}
    assert {u.removeprefix("API_URL") for u in urls} == routes == {"/slack/commands", "/slack/interactive"}


def test_slash_command_is_the_policys():
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["command"] == FRONT_DOOR_POLICY.slack.command
    assert command["should_escape"] is False


def test_scopes_cover_every_web_api_method_the_code_calls():
    source = "\n".join(p.read_text() for p in (ROOT / "chalicelib").rglob("*.py"))
    called = set(re.findall(r"\.(chat_postMessage|chat_update|usergroups_list)\(", source))
    called |= {"chat_update"} if '"chat.update"' in source else set()
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert called and {SCOPES[m] for m in called} <= scopes
    assert "commands" in scopes
