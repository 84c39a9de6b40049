"""`/ops rotate <secret>`: roles (through the front door's own pipeline), refusals said plainly, a retried request
starting nothing twice, freeze windows and paired secrets, and prod's approval from the request to the rotation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import capabilities, pending
from chalicelib.capabilities import Capability
from chalicelib.decisions import service as decisions
from chalicelib.frontdoor import commands as frontdoor
from chalicelib.frontdoor import grammar
from chalicelib.intake.pipeline import Kind, handle
from chalicelib.rotation import commands
from chalicelib.slackkit.commands import Asked
from chalicelib.state import audit
from localworld.slack_user import USERS, uid
from tests.events import context
from tests.test_rotation_kit import capture_bus, secrets_world, slack_workspace, use_policy

ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "00:00", "to": "23:59"}


def asked(text: str, user: str = "alice", request: str | None = None, slack=None) -> Asked:
    return Asked(text=text, user=uid(user), groups=tuple(USERS[user][1]),
                 response_url=slack.response_url() if slack else "https://hooks.slack.com/commands/T/1/x",
                 request_id=request or f"slack:{uuid.uuid4().hex}")


def run(text: str, environment: str, user: str = "alice", request: str | None = None, **kw):
    from chalicelib.policy import loader as policy

    cmd = grammar.parse(text)
    return commands.rotate(cmd, environment, asked(text, user, request), policy.current(), **kw)


@pytest.fixture
def stage(aws, monkeypatch, tmp_path):
    monkeypatch.setitem(capabilities.LANDED, Capability.ROTATION, "chalicelib.rotation.handlers")
    use_policy(monkeypatch, tmp_path, "stage")
    world = secrets_world(aws.url)
    world.arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    assert world.rotate(world.arn).ok  # rotation enabled, with Switchboard's function
    return world


def test_rotate_starts_a_rotation_with_the_secrets_own_function(stage):
    answer = run("rotate web/api-key", "stage", request="slack:t1")
    version = str(uuid.uuid5(commands.TOKENS, f"{stage.arn}:slack:t1"))
    assert answer.text == f"rotation of web/api-key started (version {version})"
    assert stage.stages(stage.arn)[version] == ["AWSPENDING"]
    assert stage.sm.describe_secret(SecretId=stage.arn)["RotationLambdaARN"] == stage.function_arn
    assert stage.drive(stage.arn, version).ok  # Secrets Manager's side, played by the local world
    [entry] = [e for e in audit.for_target("secret/web/api-key") if e.action == "rotation.rotate"]
    assert (entry.outcome, entry.actor, entry.reason) == ("succeeded", uid("alice"), f"started version {version}")


def test_a_retried_request_starts_nothing_twice(stage):
    run("rotate web/api-key", "stage", request="slack:t1")
    versions = set(stage.stages(stage.arn))
    answer = run("rotate web/api-key", "stage", request="slack:t1")
    assert answer.text.startswith("the rotation of web/api-key was already started (version ")
    assert set(stage.stages(stage.arn)) == versions


@pytest.mark.parametrize(("setup", "reason"), [
    ("missing", "there is no secret nope/none in stage"),
    ("no-kind", "misc/plain has no kind in policy or tag: Switchboard does not know how to rotate it"),
    ("not-enabled", "rotation is not enabled for ops/fresh: configure it with Switchboard's rotation function first"),
    ("under-way", "a rotation of web/api-key is already under way (version {pending})"),
    ("stuck", "version {pending} of web/api-key is stuck in AWSPENDING: clear it first"),
])
def test_refusals_are_said_plainly_and_audited(stage, setup, reason):
    name, pending, now = "web/api-key", None, datetime.now(UTC)
    if setup == "missing":
        name = "nope/none"
    elif setup == "no-kind":
        name = "misc/plain"
        stage.create(name, "x")
    elif setup == "not-enabled":
        name = "ops/fresh"
        stage.create(name, {"key": "k"}, kind="api-key")
    else:
        pending = stage.start(stage.arn)
        if setup == "stuck":
            now += timedelta(hours=7)
    answer = run(f"rotate {name}", "stage", now=now)
    expected = reason.format(pending=pending)
    assert answer.text.startswith(f"Cannot rotate {name} in stage: {expected}")
    [entry] = [e for e in audit.for_target(f"secret/{name}") if e.action == "rotation.rotate"]
    assert entry.outcome == "refused" and entry.reason.startswith(expected)


def test_a_freeze_window_refuses_it(stage, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "stage", freezes=[{"name": "release-week", "environments": ["stage"],
                                                          "weekly": ALWAYS, "reason": "big launch"}])
    answer = run("rotate web/api-key", "stage", now=datetime.now(UTC).replace(hour=12))
    assert answer.text == "Cannot rotate web/api-key in stage: freeze 'release-week' is in force in stage (big launch)"


def test_paired_secrets_are_offset(stage, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "stage", {"groups": {"web": {"secrets": ["web/api-key", "web/other"],
                                                                     "spacing": "2h"}}})
    other = stage.create("web/other", {"key": "o"}, kind="api-key")
    stage.clock.advance(hours=3)  # web/api-key rotated when the fixture set it up
    assert stage.rotate(other).ok
    answer = run("rotate web/api-key", "stage")
    assert "web/other (group web) rotated at" in answer.text and "web/api-key may start from" in answer.text
    later = run("rotate web/api-key", "stage", now=datetime.now(UTC) + timedelta(hours=2, minutes=1))
    assert later.text.startswith("rotation of web/api-key started")


# ---- through the front door's pipeline: roles ----

@pytest.mark.parametrize(("user", "allowed"), [("alice", True), ("dave", False), ("eve", False), ("root", True)])
def test_only_operators_may_rotate(stage, slack, monkeypatch, user, allowed):
    slack_workspace(monkeypatch, slack)
    from chalicelib.policy import loader as policy

    policy.current.cache_clear()
    outcomes = frontdoor.handle(asked("rotate web/api-key", user, slack=slack))
    [reply] = slack.responses()
    if allowed:
        assert outcomes == ["succeeded"] and reply["text"].startswith("rotation of web/api-key started")
    else:
        assert outcomes == ["refused"] and "you need the operator role in stage" in reply["text"]
        assert not [e for e in audit.for_target("secret/web/api-key") if e.action == "rotation.rotate"]


# ---- prod: an approver must agree (four eyes), then the rotation starts ----

@pytest.fixture
def prod(aws, slack, monkeypatch, tmp_path):
    slack_workspace(monkeypatch, slack)
    monkeypatch.setitem(capabilities.LANDED, Capability.ROTATION, "chalicelib.rotation.handlers")
    use_policy(monkeypatch, tmp_path, "prod", {"channel": "#prod-secrets"})
    world = secrets_world(aws.url)
    world.arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    assert world.rotate(world.arn).ok
    world.take = capture_bus()
    world.take()
    world.slack = slack
    return world


def as_account(monkeypatch, tmp_path, name: str, rotation: dict | None = None, freezes=None) -> None:
    use_policy(monkeypatch, tmp_path, name, {"channel": "#prod-secrets" if name == "prod" else "#platform",
                                             **(rotation or {})}, freezes=freezes)


def ask_in_prod(prod) -> dict:
    answer = run("rotate web/api-key", "prod", request="slack:p1")
    assert answer.text == "Rotating web/api-key in prod needs an approver"
    assert "asked in #prod-secrets" in json.dumps(answer.blocks)
    [request] = [e for e in prod.take() if e["detail"]["flow"] == "approval-request"]
    payload = request["detail"]["payload"]
    stored = pending.get(payload["pending"]["id"])  # what would be rotated stays here; only its ticket travels
    assert stored.subject == {"action": "rotate", "secret": "web/api-key", "requested_by": uid("alice")}
    assert payload["payload"] is None and payload["pending"]["digest"] == pending.digest(stored.subject)
    assert (payload["environment"], payload["role"], payload["requester"]) == ("prod", "approver", uid("alice"))
    [planned] = [e for e in audit.for_target("secret/web/api-key") if e.action == "rotation.rotate"]
    assert planned.outcome == "planned"
    return request


def deliver(event: dict, account_id: str) -> dict:
    event = {**event, "account": account_id}
    return handle(Kind.PEER, event, context())


def decide_in_front_door(prod, monkeypatch, tmp_path, request: dict, user: str) -> decisions.Outcome:
    as_account(monkeypatch, tmp_path, "shared-services")
    assert deliver(request, "333344445555")["outcome"] == "processed"
    [card] = [m for m in prod.slack.messages("#prod-secrets") if "decision_approve" in json.dumps(m.blocks)]
    decision_id = next(e["value"] for b in card.blocks if b["type"] == "actions" for e in b["elements"])
    return decisions.decide(decision_id, "approved", user=uid(user), groups=frozenset(USERS[user][1]),
                            correlation_id="click")


def test_prod_needs_an_approver_then_rotates(prod, monkeypatch, tmp_path):
    request = ask_in_prod(prod)
    assert len(prod.stages(prod.arn)) == 2  # nothing started yet
    denied = decide_in_front_door(prod, monkeypatch, tmp_path, request, "alice")
    assert not denied.changed and "you need the approver role in prod" in denied.message
    outcome = decisions.decide(denied.decision["id"], "approved", user=uid("carol"),
                               groups=frozenset(USERS["carol"][1]), correlation_id="click2")
    assert outcome.changed, outcome.message
    [result] = [e for e in prod.take() if e["detail"]["flow"] == "approval-result"]
    as_account(monkeypatch, tmp_path, "prod")
    assert deliver(result, "111122223333")["results"][0]["outcome"] == "succeeded"
    version = str(uuid.uuid5(commands.TOKENS, f"{prod.arn}:{outcome.decision['id']}"))
    assert prod.stages(prod.arn)[version] == ["AWSPENDING"]
    [said] = [e["detail"]["payload"]["text"] for e in prod.take() if e["detail"]["flow"] == "announce"]
    assert said == f"rotation of web/api-key started (version {version}) (approved by <@{uid('carol')}>)"
    started = [e for e in audit.for_target("secret/web/api-key") if e.outcome == "succeeded"
               and e.action == "rotation.rotate"]
    assert started[0].actor == uid("alice") and started[0].detail["approver"] == uid("carol")


def test_the_requester_cannot_approve_their_own_rotation(prod, monkeypatch, tmp_path):
    monkeypatch.setitem(USERS, "alice", (uid("alice"), ["S0ENG", "S0PLATFORM", "S0LEADS"]))  # alice is a lead too
    request = ask_in_prod(prod)
    outcome = decide_in_front_door(prod, monkeypatch, tmp_path, request, "alice")
    assert not outcome.changed and "four eyes: you requested this" in outcome.message


def test_a_freeze_that_began_while_waiting_stops_the_approved_rotation(prod, monkeypatch, tmp_path):
    request = ask_in_prod(prod)
    outcome = decide_in_front_door(prod, monkeypatch, tmp_path, request, "carol")
    [result] = [e for e in prod.take() if e["detail"]["flow"] == "approval-result"]
    today = datetime.now(UTC).date()  # the decision handler reads the real clock: a freeze around it
    as_account(monkeypatch, tmp_path, "prod", freezes=[{"name": "incident", "environments": ["prod"], "dates": {
        "from": f"{today - timedelta(days=1)}T00:00:00", "to": f"{today + timedelta(days=2)}T00:00:00"}}])
    deliver(result, "111122223333")
    assert len(prod.stages(prod.arn)) == 2
    [said] = [e["detail"]["payload"]["text"] for e in prod.take() if e["detail"]["flow"] == "announce"]
    assert said.startswith("not started: freeze 'incident' is in force in prod")
    assert outcome.changed


def test_a_rejected_rotation_is_said_and_nothing_starts(prod, monkeypatch, tmp_path):
    request = ask_in_prod(prod)
    as_account(monkeypatch, tmp_path, "shared-services")
    deliver(request, "333344445555")
    [card] = [m for m in prod.slack.messages("#prod-secrets") if "decision_reject" in json.dumps(m.blocks)]
    decision_id = next(e["value"] for b in card.blocks if b["type"] == "actions" for e in b["elements"])
    decisions.decide(decision_id, "rejected", user=uid("carol"), groups=frozenset(USERS["carol"][1]),
                     correlation_id="c", reason="not during the sale")
    [result] = [e for e in prod.take() if e["detail"]["flow"] == "approval-result"]
    as_account(monkeypatch, tmp_path, "prod")
    deliver(result, "111122223333")
    assert len(prod.stages(prod.arn)) == 2
    [said] = [e["detail"]["payload"]["text"] for e in prod.take() if e["detail"]["flow"] == "announce"]
    assert said == f"rotate of web/api-key was rejected (by <@{uid('carol')}>)"
