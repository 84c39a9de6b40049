"""Red team: approval results that try to make prod act without a real, matching, sufficient approval.

prod's scaling asked the front door whether `api` may go from 2 to 1 (alice asked; prod needs an approver, four
eyes). Each attack is an `approval-result` event delivered to prod through the intake, as EventBridge would (from
the front door's account), and must change nothing: the ASG keeps its size, the request stays pending, no approval is
recorded, and the refusal is audited `rejected` with its reason. A genuine result, last, does act (the attacks
fail for the reason they name, not because nothing could ever act).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chalicelib import pending
from chalicelib.decisions import service as approvals
from chalicelib.intake.pipeline import Kind, handle
from chalicelib.scaling import service
from chalicelib.scaling.plan import Request
from chalicelib.state import audit
from localworld.slack_user import uid
from tests.decision_kit import groups_of, result_event, result_for
from tests.events import context
from tests.frontdoor_kit import PROD, SHARED, STAGE
from tests.scaling_kit import Bus, asg, group, shipped_with, use_policy, wire

ALICE, BOB, CAROL, DAVE, EVE, ROOT = (uid(h) for h in ("alice", "bob", "carol", "dave", "eve", "root"))


@pytest.fixture
def prod(aws, monkeypatch):
    use_policy(monkeypatch, shipped_with("prod"))
    wire(monkeypatch)
    asg("api", 1, 6, 2)
    bus = Bus()
    asked = service.run(Request("api", "set", 1, origin="slack", actor=ALICE, request_id="slack:t1"))
    assert asked.outcome == "refused" and group() == (2, 1, 6), asked  # waiting for an approver
    [request] = bus.approvals()
    return SimpleNamespace(request=request, bus=bus)


def deliver(result: dict, *, sender_id: str = SHARED, event_id: str = "res-1") -> dict:
    event = result_event(result, to_account=PROD, sender_id=sender_id, event_id=event_id,
                         from_account=result.get("from_account", "shared-services"))
    return handle(Kind.PEER, event, context())


def refusal(outcome: dict, decision_id: str) -> str:
    """The handler's verdict and the audit entry agree: rejected, with one reason."""
    [result] = outcome["results"]
    assert result["outcome"] == "rejected", result
    [entry] = [e for e in audit.for_target(f"decision/{decision_id}") if e.action == "scaling.decision"]
    assert entry.outcome == "rejected" and entry.reason == result["reason"]
    return entry.reason


def nothing_happened(request: dict) -> None:
    assert group() == (2, 1, 6)  # the ASG was not touched
    assert [e.outcome for e in audit.for_target("autoScalingGroup/api")] == ["refused"]  # only "awaiting approval"
    stored = pending.get(request["pending"]["id"])
    assert (stored.state, stored.approvers, stored.decision_id) == ("pending", None, None)


def test_a_result_for_a_request_never_asked_changes_nothing(prod):
    forged = {"id": "sca-0123456789abcdef", "nonce": "n" * 32, "digest": "0" * 64}
    reason = refusal(deliver(result_for(prod.request, "approved", [CAROL], decision_id="sca-f00001",
                                        pending=forged)), "sca-f00001")
    assert reason == "no request 'sca-0123456789abcdef' was asked for here"
    reason = refusal(deliver(result_for(prod.request, "approved", [CAROL], decision_id="sca-f00002", pending=None),
                             event_id="res-2"), "sca-f00002")
    assert reason == "the result names no request this account asked for"
    nothing_happened(prod.request)


def test_a_result_with_a_wrong_nonce_changes_nothing(prod):
    ticket = prod.request["pending"]
    wrong = {**ticket, "nonce": "guessed-" + "x" * 24}
    reason = refusal(deliver(result_for(prod.request, "approved", [CAROL], decision_id="sca-f00003", pending=wrong)),
                     "sca-f00003")
    assert reason == f"the nonce does not match request {ticket['id']}"
    nothing_happened(prod.request)


def test_a_result_for_another_subject_changes_nothing(prod):
    ticket = prod.request["pending"]
    other = Request("api", "set", 6, origin="slack", actor=ALICE, request_id="slack:t1").as_dict()  # scale OUT to 6
    swapped = {**ticket, "digest": pending.digest({"request": other})}
    reason = refusal(deliver(result_for(prod.request, "approved", [CAROL], decision_id="sca-f00004",
                                        pending=swapped)), "sca-f00004")
    assert reason == f"the subject does not match request {ticket['id']}"
    nothing_happened(prod.request)


def test_a_result_whose_approver_lacks_the_role_here_changes_nothing(prod):
    reason = refusal(deliver(result_for(prod.request, "approved", [DAVE], decision_id="sca-f00005")), "sca-f00005")
    assert reason == (f"0 of 1 required approvals count here (not counted: {DAVE}: needs the approver role in prod "
                      "(you have: viewer))")
    nothing_happened(prod.request)


def test_a_user_id_passed_off_as_a_group_grants_nothing(prod):
    # eve has no role; her "groups" name the admin's user id (roles.prod.admin lists U0ADMIN001)
    result = result_for(prod.request, "approved", [EVE], decision_id="sca-f00006", groups={EVE: [ROOT]})
    reason = refusal(deliver(result), "sca-f00006")
    assert reason.startswith("0 of 1 required approvals count here") and "needs the approver role in prod" in reason
    nothing_happened(prod.request)


def test_the_requester_approving_their_own_request_changes_nothing(prod):
    # alice asked; say the front door resolved her into the leads group: prod's four eyes still say no
    result = result_for(prod.request, "approved", [ALICE], decision_id="sca-f00007",
                        groups={ALICE: ["S0ENG", "S0PLATFORM", "S0LEADS"]})
    reason = refusal(deliver(result), "sca-f00007")
    assert reason == (f"0 of 1 required approvals count here (not counted: {ALICE}: four eyes: the requester may "
                      "not approve)")
    nothing_happened(prod.request)


def test_a_result_not_from_the_front_door_changes_nothing(prod, monkeypatch):
    # stage is a peer of prod, but not its front door (the intake keeps stage's approval-results out: policy)
    outcome = deliver(result_for(prod.request, "approved", [CAROL], decision_id="sca-f00008", from_account="stage"),
                      sender_id=STAGE)
    assert outcome["outcome"] == "rejected" and "may not send 'approval-result'" in outcome["reason"]
    # and the handler itself, should a result reach it some other way
    from chalicelib.scaling import handlers

    refused = handlers.decided(result_for(prod.request, "approved", [CAROL], decision_id="sca-f00009",
                                          from_account="stage"))
    assert refused == "approval results are accepted only from the front door 'shared-services', not 'stage'"
    [entry] = audit.for_target("decision/sca-f00009")
    assert entry.outcome == "rejected" and entry.reason == refused
    nothing_happened(prod.request)


def test_a_replayed_result_after_the_decision_changes_nothing_more(prod):
    genuine = result_for(prod.request, "approved", [CAROL], decision_id="sca-000001")
    assert deliver(genuine)["results"][0]["outcome"] == "succeeded"
    assert group() == (1, 1, 6)  # the genuine approval acted, on the stored request
    stored = pending.get(prod.request["pending"]["id"])
    assert (stored.state, stored.approvers, stored.decision_id) == ("done", [CAROL], "sca-000001")
    asg_entries = len(audit.for_target("autoScalingGroup/api"))

    replay = deliver(genuine, event_id="res-replayed")  # the same verdict as a new event
    assert refusal(replay, "sca-000001") == (f"request {stored.id} was already decided (approved in sca-000001)")
    reject = result_for(prod.request, "rejected", [BOB], decision_id="sca-000002")  # another verdict, later
    assert refusal(deliver(reject, event_id="res-late"), "sca-000002").startswith(f"request {stored.id} was already")
    assert group() == (1, 1, 6) and len(audit.for_target("autoScalingGroup/api")) == asg_entries


def test_fewer_distinct_approvers_than_required_change_nothing(prod):
    """A request for two approvers (asked through approvals.ask like any capability): one person listed twice, or
    one person alone, is one approver."""
    wanted = Request("api", "set", 4, origin="slack", actor=ALICE, request_id="slack:t2")
    approvals.ask(capability="scaling", title="api 2 -> 4 in prod", summary="two leads", environment="prod",
                  requester=ALICE, channel="#team-api", correlation_id="t2", required=2,
                  subject={"request": wanted.as_dict()})
    request = [r for r in prod.bus.approvals() if r.get("required") == 2][-1]
    twice = result_for(request, "approved", [BOB, BOB], decision_id="sca-f00010", groups=groups_of(BOB))
    reason = refusal(deliver(twice), "sca-f00010")
    assert reason == "1 of 2 required approvals count here"
    once = result_for(request, "approved", [BOB], decision_id="sca-f00011", required=1)  # "required" is not read
    assert refusal(deliver(once, event_id="res-2"), "sca-f00011") == "1 of 2 required approvals count here"
    assert group() == (2, 1, 6) and pending.get(request["pending"]["id"]).state == "pending"

    both = result_for(request, "approved", [BOB, CAROL], decision_id="sca-000003")
    assert deliver(both, event_id="res-3")["results"][0]["outcome"] == "succeeded"
    assert group() == (4, 1, 6)  # two distinct leads: it acts
