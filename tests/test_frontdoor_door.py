"""The door's pure checks (chalicelib/frontdoor/door.py), the Slack secret's, response_url hosts, and the user-group
cache on a freshly booted clock: table tests over plain data."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from chalicelib.frontdoor import door
from chalicelib.slackkit import slack
from localworld.slack_user import click_body, command_body

NOW = 1_795_000_000.0


def signed(body: str, secret: str = "s1", timestamp: str | None = None) -> dict[str, str]:  # noqa: S107
    ts = str(int(NOW)) if timestamp is None else timestamp
    return {"X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)}


@pytest.mark.parametrize(("headers", "secrets", "problem"), [
    (signed("b"), ("s1",), None),
    (signed("b", "s0"), ("s1", "s0"), None),  # the previous secret, inside its window
    (signed("b", "s0"), ("s1",), "the signature matches no signing secret"),
    (signed("b", timestamp=str(int(NOW) - 301)), ("s1",), "more than 5 minutes away from now"),
    (signed("b", timestamp=str(int(NOW) + 301)), ("s1",), "more than 5 minutes away from now"),
    (signed("b", timestamp=str(int(NOW) - 300)), ("s1",), None),
    (signed("b", timestamp="abc"), ("s1",), "X-Slack-Request-Timestamp 'abc' is not a number of seconds"),
    (signed("b", timestamp="-1"), ("s1",), "is not a number of seconds"),
    (signed("b", timestamp="9" * 40), ("s1",), "is not a number of seconds"),
    ({"X-Slack-Signature": "v0=00"}, ("s1",), "no X-Slack-Request-Timestamp header"),
    ({"X-Slack-Request-Timestamp": str(int(NOW))}, ("s1",), "no X-Slack-Signature header"),
    ({}, ("s1",), "no X-Slack-Signature header"),
])
def test_signature_problem(headers, secrets, problem):
    found = door.signature_problem("b", headers, secrets, NOW)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.status == 401 and problem in found.reason


@pytest.mark.parametrize(("body", "named"), [
    (command_body("help", "dave", "https://hooks.slack.com/commands/1"),
     door.Named("TL0CA1W0RLD", "AL0CA1APP01", "https://hooks.slack.com/commands/1")),
    (click_body("decision_approve", "x", "carol", "https://hooks.slack.com/actions/1", team="T0OTHER", app="A0X"),
     door.Named("T0OTHER", "A0X", "https://hooks.slack.com/actions/1")),
    (urlencode({"payload": "not json"}), door.Named()),
    (urlencode({"payload": json.dumps(["a list"])}), door.Named()),
    (urlencode({"payload": json.dumps({"team": "T1", "api_app_id": 5})}), door.Named()),
    ("", door.Named()),
    # a field given twice: the last counts, as Bolt parses the body (its listeners act on the last one)
    ("team_id=T1&api_app_id=A1&response_url=https%3A%2F%2Fhooks.slack.com%2F1&response_url=https%3A%2F%2Fevil.example",
     door.Named("T1", "A1", "https://evil.example")),
    ("team_id=TEVIL&team_id=T1&api_app_id=A1", door.Named("T1", "A1")),
    (urlencode([("payload", json.dumps({"team": {"id": "T9"}})), ("payload", json.dumps({"team": {"id": "T1"}}))]),
     door.Named("T1")),
])
def test_named_in(body, named):
    assert door.named_in(body) == named


def test_foreign_workspace_and_response_url():
    ours = door.Named("T1", "A1", "https://hooks.slack.com/x")
    assert door.foreign_workspace(ours, "T1", "A1") is None
    assert door.foreign_workspace(door.Named("T2", "A1"), "T1", "A1").status == 401
    assert door.foreign_workspace(door.Named("T1", None), "T1", "A1").status == 401
    assert door.foreign_response_url(ours, lambda url: "hooks.slack.com" in url) is None
    assert door.foreign_response_url(door.Named(), lambda url: False) is None  # nothing to answer on
    refused = door.foreign_response_url(door.Named(response_url="https://evil.example/x"), lambda url: False)
    assert refused.reason == "response_url on 'evil.example' is not Slack's"


@pytest.mark.parametrize(("account", "front_door", "status"), [
    ("shared-services", "shared-services", None), ("prod", "shared-services", 404), ("prod", None, 404)])
def test_not_the_front_door(account, front_door, status):
    refusal = door.not_the_front_door(account, front_door)
    assert (refusal.status if refusal else None) == status


@pytest.mark.parametrize(("team", "app", "reason"), [
    ("T1", "A1", None),
    (None, "A1", "set slack.team_id"),
    (None, None, "set slack.team_id and slack.api_app_id"),
])
def test_unpinned(team, app, reason):
    refusal = door.unpinned(team, app)
    assert (refusal.reason.split(": ")[1] if refusal else None) == reason


@pytest.mark.parametrize(("event", "self_invoked"), [
    ({"method": "NONE", "headers": {}, "requestContext": {}}, True),  # ChaliceLazyListenerRunner's payload
    ({"httpMethod": "POST", "headers": {"x-slack-bolt-lazy-only": "1"}, "requestContext": {}}, False),
    ({"method": "NONE", "httpMethod": "POST"}, False),
    ({"headers": {"method": "NONE"}}, False),
])
def test_self_invocation(event, self_invoked):
    assert door.self_invocation(event) is self_invoked


# ---- the Slack secret ----

LATER = (datetime.now(UTC) + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(("value", "problem"), [
    ({"signing_secret": "s", "bot_token": "t"}, None),
    ({"signing_secret": "s", "bot_token": "t", "previous_signing_secret": "p", "previous_valid_until": LATER}, None),
    ({"signing_secret": "REPLACE_ME", "bot_token": "t"}, "signing_secret is still the placeholder REPLACE_ME"),
    ({"signing_secret": "s", "bot_token": " REPLACE_ME "}, "bot_token is still the placeholder"),
    ({"signing_secret": "  ", "bot_token": "t"}, "signing_secret is missing or empty"),
    ({"signing_secret": 5, "bot_token": "t"}, "signing_secret is missing or empty"),
    ({"bot_token": "t"}, "signing_secret is missing or empty"),
    (["s", "t"], "is not a JSON object"),
    ({"signing_secret": "s", "bot_token": "t", "previous_signing_secret": "p"}, "previous_valid_until must be"),
    ({"signing_secret": "s", "bot_token": "t", "previous_signing_secret": "p",
      "previous_valid_until": "2026-01-01T00:00:00"}, "with a time zone"),
    ({"signing_secret": "s", "bot_token": "t", "previous_signing_secret": "p", "previous_valid_until": "soon"},
     "previous_valid_until must be"),
    ({"signing_secret": "s", "bot_token": "t", "previous_valid_until": LATER}, "previous_signing_secret is missing"),
    ({"signing_secret": "s", "bot_token": "t", "previous_signing_secret": "REPLACE_ME",
      "previous_valid_until": LATER}, "previous_signing_secret is still the placeholder"),
])
def test_parse_credentials(value, problem):
    if problem is None:
        assert slack.parse_credentials("switchboard/slack", value).signing_secret == "s"
        return
    with pytest.raises(slack.SlackSecretUnusable) as caught:
        slack.parse_credentials("switchboard/slack", value)
    assert problem in str(caught.value) and str(caught.value).startswith("secret switchboard/slack")
    assert "'s'" not in str(caught.value)  # a value is never quoted


def test_signing_secrets_follow_the_rotation_window():
    until = datetime(2026, 1, 31, 12, tzinfo=UTC)
    creds = slack.Credentials("new", "t", "old", until)
    assert creds.signing_secrets(until - timedelta(seconds=1)) == ("new", "old")
    assert creds.signing_secrets(until) == ("new",)
    assert slack.Credentials("new", "t").signing_secrets(until) == ("new",)
    assert "old" not in repr(creds) and "new" not in repr(creds)


# ---- response_url hosts ----

@pytest.mark.parametrize(("url", "local", "ok"), [
    ("https://hooks.slack.com/commands/T1/1/x", None, True),
    ("https://hooks.slack.com/actions/T1/1/x", None, True),
    ("http://hooks.slack.com/commands/1", None, False),
    ("https://hooks.slack.com:444/commands/1", None, False),
    ("https://hooks.slack.com.evil.example/commands/1", None, False),
    ("https://user@hooks.slack.com/commands/1", None, False),
    ("https://evil.example/?https://hooks.slack.com/", None, False),
    ("https://hooks.slack.com:notaport/x", None, False),
    ("", None, False),
    ("http://127.0.0.1:5000/response/abc", "http://127.0.0.1:5000/api/", True),
    ("http://127.0.0.1:5001/response/abc", "http://127.0.0.1:5000/api/", False),
    ("https://hooks.slack.com/commands/1", "http://127.0.0.1:5000/api/", False),  # the local world: its stand-in only
])
def test_response_url_ok(monkeypatch, url, local, ok):
    from chalicelib import settings

    if local:
        monkeypatch.setenv("SWITCHBOARD_SLACK_API_URL", local)
    else:
        monkeypatch.delenv("SWITCHBOARD_SLACK_API_URL", raising=False)
    settings.get_settings.cache_clear()
    try:
        assert slack.response_url_ok(url) is ok
    finally:
        settings.get_settings.cache_clear()


# ---- caches on a freshly booted clock ----

class Directory:
    def __init__(self) -> None:
        self.calls = 0

    def usergroups_list(self, include_users: bool) -> dict:
        self.calls += 1
        return {"usergroups": [{"id": "S0LEADS", "users": ["U0CAROL001"]}]}


def test_the_suite_runs_on_a_freshly_booted_clock(fresh_boot_clock):
    assert 0.4 <= time.monotonic() < 60  # conftest's fixture: as in a new Lambda microVM
    assert fresh_boot_clock is time.monotonic


@pytest.mark.parametrize(("filled_at", "now", "fresh"), [
    (None, 0.5, False), (None, 1e6, False),  # never filled: stale, whatever the clock says
    (0.5, 0.5, True), (0.5, 300.5, True), (0.5, 300.6, False),
    (10.0, 5.0, False),  # filled "in the future" (another clock): not trusted
])
def test_fresh(filled_at, now, fresh):
    assert slack.fresh(filled_at, slack.GROUPS_MAX_AGE, now) is fresh


def test_groups_are_fetched_on_first_use_on_a_fresh_machine(monkeypatch):
    clock = {"now": 0.5}  # a Lambda microVM booted half a second ago
    monkeypatch.setattr(time, "monotonic", lambda: clock["now"])
    slack.forget_groups()
    directory = Directory()
    try:
        assert slack.groups_of("U0CAROL001", directory) == {"S0LEADS"} and directory.calls == 1
        clock["now"] += slack.GROUPS_MAX_AGE
        assert slack.groups_of("U0CAROL001", directory) == {"S0LEADS"} and directory.calls == 1  # cached
        clock["now"] += 1
        assert slack.groups_of("U0DAVE0001", directory) == frozenset() and directory.calls == 2  # stale: again
    finally:
        slack.forget_groups()


def test_local_world_instances_boot_with_a_fresh_clock():
    """localworld.world sets SWITCHBOARD_FRESH_BOOT_CLOCK=1 for every instance, which then reads ~0.5 s at start."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from localworld import clock

    probe = ("import time; from localworld import instance; instance.boot_clock(); "
             "from chalicelib.slackkit import slack; print(time.monotonic())")
    root = Path(__file__).resolve().parent.parent
    ran = {flag: float(subprocess.run([sys.executable, "-c", probe], cwd=root, env={**os.environ, clock.ENV: flag},
                                      capture_output=True, text=True, check=True, timeout=60).stdout)
           for flag in ("1", "0")}
    assert 0.5 <= ran["1"] < 30
    assert ran["0"] == pytest.approx(clock.REAL_MONOTONIC(), abs=120)  # the machine's own clock, untouched
