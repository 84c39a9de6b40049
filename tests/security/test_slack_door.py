"""Attacks on the Slack endpoints (issue 11, item 1), each sent as an attacker would send it: an HTTP request to the
real routes (Chalice's test client, Bolt behind it), with the shipped policies, on the local world.

Each test asserts that nothing happened: no listener ran or was handed off, Slack was not called, nothing went on
the bus, no state was written; and that the refusal says why (the status and an audit entry).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from chalice.test import Client

from chalicelib.slackkit import slack as slack_adapter
from chalicelib.state import audit
from chalicelib.state.models import StateItem
from localworld.slack_user import click_body, command_body, signed_headers
from tests.frontdoor_kit import ROOT, SIGNING_SECRET, as_account, uid

# the attacker's favourite: the user prod's policy makes admin, asking prod to scale web to nothing
ADMIN_IN_PROD, ATTACK = "root", "scale web 0 in prod"


def nothing_happened(front, bus) -> None:
    assert front.runner.pending == type(front.runner.pending)() and front.runner.invocations == []
    assert front.standin.calls == [] and front.standin.responses() == []
    # nothing on the bus but the console's feed (which reports the refusal's audit entry to the front door)
    assert [e for e in bus() if e["detail"]["flow"] != "feed"] == []
    assert [i for i in StateItem.scan() if not i.pk.startswith("outbox")] == []


def refusals(reason_part: str) -> list[audit.AuditEntry]:
    today = datetime.now(UTC).date().isoformat()
    return [e for e in audit.for_day(today) if e.outcome in ("rejected", "failed") and reason_part in (e.reason or "")]


def put_secret(value: dict) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId="switchboard/slack", SecretString=json.dumps(value))
    slack_adapter._provider().clear_cache()


# ---- prod serves no Slack route ----

def test_prod_defines_no_slack_route_so_a_request_to_its_api_reaches_nothing(aws, slack, monkeypatch):
    import app  # the run's app.py, imported as prod (conftest)

    assert app.app.routes == {}
    with Client(app.app, stage_name="prod", project_dir=str(ROOT)) as client:
        body = command_body(ATTACK, ADMIN_IN_PROD, slack.response_url())
        response = client.http.post("/slack/commands", body=body, headers=signed_headers(body, secret="REPLACE_ME"))
    assert response.status_code in (403, 404)  # API Gateway's answer for a route that does not exist
    assert slack.calls == [] and audit.for_target("app/web") == []


def test_the_handler_itself_refuses_outside_the_front_door(front, bus, monkeypatch):
    """Defence in depth: were the routes wired in prod anyway, ``http.handle`` would refuse there (404, audited)."""
    as_account(monkeypatch, "prod")
    body = front.command_body(ATTACK, ADMIN_IN_PROD)
    with Client(front.app.app, stage_name="prod", project_dir=str(ROOT)) as prod:  # prod's environment
        response = prod.http.post("/slack/commands", body=body, headers=front.signed(body))
    assert response.status_code == 404
    assert "account prod is not the Slack front door" in json.loads(response.body)["error"]
    nothing_happened(front, bus)
    [entry] = refusals("is not the Slack front door")
    assert entry.account == "prod" and entry.action == "frontdoor.request" and entry.target == "http/slack/commands"


# ---- the front door with infra's placeholder (or no) secret ----

@pytest.mark.parametrize(("value", "why"), [
    ({"signing_secret": "REPLACE_ME", "bot_token": "REPLACE_ME"}, "signing_secret is still the placeholder"),
    ({"signing_secret": "", "bot_token": "xoxb-1"}, "signing_secret is missing or empty"),
    ({"bot_token": "xoxb-1"}, "signing_secret is missing or empty"),
])
def test_a_placeholder_or_empty_secret_is_refused_with_503_and_audited_once(front, bus, capsys, value, why):
    put_secret(value)
    for _ in range(2):
        body = front.command_body(ATTACK, ADMIN_IN_PROD)
        response = front.client.http.post("/slack/commands", body=body,
                                          headers=front.signed(body, secret=value.get("signing_secret") or "x"))
        assert response.status_code == 503 and why in json.loads(response.body)["error"]
    nothing_happened(front, bus)
    [entry] = refusals(why)  # twice refused, audited once (per container)
    assert (entry.action, entry.outcome, entry.target) == ("frontdoor.start", "failed", "slack")
    assert '"SlackSecretUnusable"' in capsys.readouterr().out  # the metric (EMF)


def test_a_secret_that_is_not_there_is_refused_with_503(front, bus):
    boto3.client("secretsmanager").delete_secret(SecretId="switchboard/slack", ForceDeleteWithoutRecovery=True)
    slack_adapter._provider().clear_cache()
    response = front.command(ATTACK, user=ADMIN_IN_PROD)
    assert response.status_code == 503 and "cannot be read" in json.loads(response.body)["error"]
    nothing_happened(front, bus)


def test_a_front_door_that_pins_no_workspace_serves_nobody(front, bus, monkeypatch):
    from chalicelib.policy import loader as policy

    shipped = policy.current()
    unpinned = shipped.model_copy(update={"slack": shipped.slack.model_copy(update={"team_id": None})})
    monkeypatch.setattr(policy, "current", lambda: unpinned)
    response = front.command(ATTACK, user=ADMIN_IN_PROD)
    assert response.status_code == 503
    assert json.loads(response.body)["error"] == "the front door's policy pins no workspace: set slack.team_id"
    nothing_happened(front, bus)
    assert len(refusals("pins no workspace")) == 1


# ---- requests that are not from our workspace and app ----

@pytest.mark.parametrize("fields", [{"team": "T0OTHERWS1"}, {"app": "A0OTHERAPP"}, {"team": ""}])
def test_a_command_from_another_workspace_or_app_is_refused_with_401(front, bus, fields):
    response = front.command(ATTACK, user=ADMIN_IN_PROD, **fields)
    assert response.status_code == 401
    assert "this front door answers only TL0CA1W0RLD, AL0CA1APP01" in json.loads(response.body)["error"]
    nothing_happened(front, bus)
    [entry] = refusals("this front door answers only")
    assert entry.action == "frontdoor.request" and entry.outcome == "rejected"


def test_a_click_from_another_workspace_is_refused_with_401(front, bus):
    body = click_body("decision_approve", "pro-123456", "carol", front.standin.response_url(), team="T0OTHERWS1")
    response = front.client.http.post("/slack/interactive", body=body, headers=front.signed(body))
    assert response.status_code == 401
    nothing_happened(front, bus)
    assert len(refusals("from workspace 'T0OTHERWS1'")) == 1


# ---- timestamps that are not numbers ----

@pytest.mark.parametrize("timestamp", ["abc", "1e9", "-5", " 1795000000", "", "1795000000.5"])
def test_a_non_numeric_timestamp_is_401_not_500(front, bus, timestamp):
    body = front.command_body(ATTACK, ADMIN_IN_PROD)
    headers = signed_headers(body)
    from slack_sdk.signature import SignatureVerifier

    headers["X-Slack-Request-Timestamp"] = timestamp
    headers["X-Slack-Signature"] = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    response = front.client.http.post("/slack/commands", body=body, headers=headers)
    assert response.status_code == 401
    nothing_happened(front, bus)
    assert len(refusals("X-Slack-Request-Timestamp")) == 1


def test_a_missing_timestamp_is_401_and_audited(front, bus):
    body = front.command_body(ATTACK, ADMIN_IN_PROD)
    headers = front.signed(body)
    del headers["X-Slack-Request-Timestamp"]
    assert front.client.http.post("/slack/commands", body=body, headers=headers).status_code == 401
    nothing_happened(front, bus)
    assert len(refusals("no X-Slack-Request-Timestamp header")) == 1


# ---- Bolt's lazy-mode headers from outside ----

LAZY = {"x-slack-bolt-lazy-only": "1", "x-slack-bolt-lazy-function-name": "_run_command"}


def test_lazy_mode_headers_from_outside_are_dropped(front, bus):
    """Honoured, they would run the listener inside this request and skip the ack. Dropped, the request is served
    as Slack sent it: acked, then handed off to the lazy listener like any other."""
    body = front.command_body("status web", "dave")
    response = front.client.http.post("/slack/commands", body=body, headers={**front.signed(body), **LAZY})
    assert response.status_code == 200 and json.loads(response.body)["text"].endswith("…on it")
    assert front.standin.responses() == [] and len(front.runner.pending) == 1  # not run here: handed off
    [entry] = refusals("lazy-mode header(s)")
    assert entry.reason == ("Bolt's lazy-mode header(s) x-slack-bolt-lazy-only, x-slack-bolt-lazy-function-name "
                            "from outside: dropped")
    assert front.runner.drain() == 1  # Bolt's own re-invocation still carries them, and runs the listener
    assert len(front.standin.responses()) == 1


def test_lazy_mode_headers_on_an_unsigned_request_change_nothing(front, bus):
    body = front.command_body(ATTACK, ADMIN_IN_PROD)
    headers = {**front.signed(body, secret="not-the-secret"), **LAZY}
    assert front.client.http.post("/slack/commands", body=body, headers=headers).status_code == 401
    nothing_happened(front, bus)


# ---- response_urls that are not Slack's ----

@pytest.mark.parametrize("url", [
    "https://evil.example/hook",
    "https://hooks.slack.com.evil.example/commands/1",
    "https://hooks.slack.com@evil.example/commands/1",
    "http://169.254.169.254/latest/meta-data/",
    "https://hooks.slack.com/commands/1",  # Slack's, but the local world answers on its stand-in only
])
def test_a_command_naming_another_response_url_is_refused_before_anything_runs(front, bus, url):
    response = front.command(ATTACK, user=ADMIN_IN_PROD, response_url=url)
    assert response.status_code == 401 and "is not Slack's" in json.loads(response.body)["error"]
    nothing_happened(front, bus)
    assert len(refusals("is not Slack's")) == 1


def test_a_click_naming_another_response_url_is_refused(front, bus):
    body = click_body("decision_approve", "pro-123456", "carol", "https://evil.example/hook")
    response = front.client.http.post("/slack/interactive", body=body, headers=front.signed(body))
    assert response.status_code == 401
    nothing_happened(front, bus)


def test_deliver_never_posts_to_another_host(front):
    """The last lock: whatever asks, ``deliver`` posts only to Slack's response_urls (refused, audited, not kept)."""
    assert slack_adapter.deliver("response_url", {"url": "https://evil.example/hook", "text": "secrets"},
                                 correlation_id="c-1", target="slack/U0EVE00001") is False
    assert [i for i in StateItem.scan()] == []  # not kept in the outbox for a retry either
    [entry] = audit.for_target("slack/U0EVE00001")
    assert (entry.action, entry.outcome) == ("slack.response_url", "rejected")
    assert entry.reason == "response_url host 'evil.example' is not Slack's: not posted"


# ---- an old signing secret after its rotation window ----

def test_the_previous_signing_secret_works_only_inside_its_rotation_window(front, bus):
    now = datetime.now(UTC)
    rotated = {"signing_secret": "new-secret", "bot_token": "xoxb-local-world",
               "previous_signing_secret": SIGNING_SECRET}
    put_secret({**rotated, "previous_valid_until": (now + timedelta(hours=1)).isoformat()})
    for secret in ("new-secret", SIGNING_SECRET):
        body = front.command_body("help")
        assert front.client.http.post("/slack/commands", body=body,
                                      headers=front.signed(body, secret=secret)).status_code == 200

    put_secret({**rotated, "previous_valid_until": (now - timedelta(seconds=1)).isoformat()})
    body = front.command_body(ATTACK, ADMIN_IN_PROD)
    response = front.client.http.post("/slack/commands", body=body, headers=front.signed(body))
    assert response.status_code == 401
    assert json.loads(response.body)["error"] == "the signature matches no signing secret"
    body = front.command_body("help")
    assert front.client.http.post("/slack/commands", body=body,
                                  headers=front.signed(body, secret="new-secret")).status_code == 200


def test_the_user_prod_makes_admin_gets_nothing_from_the_front_door_with_a_forged_signature(front, bus):
    body = front.command_body(ATTACK, ADMIN_IN_PROD)
    response = front.client.http.post("/slack/commands", body=body, headers=front.signed(body, secret="REPLACE_ME"))
    assert response.status_code == 401
    nothing_happened(front, bus)
    [entry] = refusals("the signature matches no signing secret")
    assert entry.actor != uid(ADMIN_IN_PROD)  # unauthenticated: nobody is named as having asked
