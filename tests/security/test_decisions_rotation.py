"""Red team: an approval result that tries to make prod rotate a secret nobody approved rotating.

alice asks `/ops rotate web/api-key` in prod (an approver must agree). Results arrive as `approval-result` events
through prod's intake. Rotation acts on the secret prod stored when it asked, never on one a result names.
"""

from __future__ import annotations

import pytest

from chalicelib import capabilities, pending
from chalicelib.capabilities import Capability
from chalicelib.frontdoor import grammar
from chalicelib.intake.pipeline import Kind, handle
from chalicelib.policy import loader as policies
from chalicelib.rotation import commands
from chalicelib.slackkit.commands import Asked
from chalicelib.state import audit
from localworld.slack_user import USERS, uid
from tests.decision_kit import result_event, result_for
from tests.events import context
from tests.frontdoor_kit import PROD, SHARED
from tests.test_rotation_kit import capture_bus, secrets_world, slack_workspace, use_policy


@pytest.fixture
def prod(aws, slack, monkeypatch, tmp_path):
    slack_workspace(monkeypatch, slack)
    monkeypatch.setitem(capabilities.LANDED, Capability.ROTATION, "chalicelib.rotation.handlers")
    use_policy(monkeypatch, tmp_path, "prod", {"channel": "#prod-secrets"})
    world = secrets_world(aws.url)
    world.arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    world.other = world.create("web/other-key", {"key": "o0"}, kind="api-key")
    assert world.rotate(world.arn).ok and world.rotate(world.other).ok
    world.take = capture_bus()
    world.take()
    text = "rotate web/api-key"
    alice = Asked(text=text, user=uid("alice"), groups=tuple(USERS["alice"][1]), request_id="slack:p1",
                  response_url="https://hooks.slack.com/commands/T/1/x")
    answer = commands.rotate(grammar.parse(text), "prod", alice, policies.current())
    assert answer.text == "Rotating web/api-key in prod needs an approver"
    [request] = [e["detail"]["payload"] for e in world.take() if e["detail"]["flow"] == "approval-request"]
    world.request = request
    world.before = {arn: dict(world.stages(arn)) for arn in (world.arn, world.other)}
    return world


def deliver(result: dict, event_id: str = "res-1") -> dict:
    [outcome] = handle(Kind.PEER, result_event(result, to_account=PROD, sender_id=SHARED, event_id=event_id),
                       context())["results"]
    return outcome


def test_a_result_for_another_secret_rotates_nothing(prod):
    other = {"action": "rotate", "secret": "web/other-key", "requested_by": uid("alice")}
    forged = {**prod.request["pending"], "digest": pending.digest(other)}
    outcome = deliver(result_for(prod.request, "approved", [uid("carol")], decision_id="rot-f00001",
                                 pending=forged, payload=other))
    assert outcome["outcome"] == "rejected"
    assert outcome["reason"] == f"the subject does not match request {prod.request['pending']['id']}"
    assert {arn: dict(prod.stages(arn)) for arn in (prod.arn, prod.other)} == prod.before  # nothing rotated
    [entry] = audit.for_target("decision/rot-f00001")
    assert entry.outcome == "rejected" and entry.reason == outcome["reason"]
    assert not [e for e in audit.for_target("secret/web/other-key") if e.action == "rotation.rotate"]


def test_the_payload_is_never_read_the_stored_secret_is_rotated(prod):
    # a genuine verdict on alice's request whose payload says another secret: the stored one is rotated
    result = result_for(prod.request, "approved", [uid("carol")], decision_id="rot-000001",
                        payload={"action": "rotate", "secret": "web/other-key", "requested_by": uid("alice")})
    assert deliver(result)["outcome"] == "succeeded"
    assert prod.stages(prod.other) == prod.before[prod.other]  # the payload's secret: untouched
    assert len(prod.stages(prod.arn)) == len(prod.before[prod.arn]) + 1  # the stored one: a new AWSPENDING
    started = [e for e in audit.for_target("secret/web/api-key") if e.action == "rotation.rotate"
               and e.outcome == "succeeded"]
    assert len(started) == 1 and started[0].detail["approver"] == uid("carol")

    again = deliver(result, event_id="res-replayed")  # replayed: nothing more
    assert again["outcome"] == "rejected" and "already decided" in again["reason"]
    assert len(prod.stages(prod.arn)) == len(prod.before[prod.arn]) + 1
