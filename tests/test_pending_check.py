"""The pure check an approval result must pass before a capability acts (chalicelib/pending/check.py): a table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.pending.check import Answer, Waiting, check
from chalicelib.policy.loader import parse
from tests.scaling_kit import shipped_text

ALICE, BOB, CAROL, DAVE, ROOT = "U0ALICE001", "U0BOB00001", "U0CAROL001", "U0DAVE0001", "U0ADMIN001"
LEADS = ["S0ENG", "S0LEADS"]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = parse(shipped_text("prod"), "prod.yaml")

WAITING = Waiting(id="sca-0123456789abcdef", nonce="n" * 32, capability="scaling", digest="d" * 64,
                  environment="prod", role="approver", required=1, requester=ALICE,
                  valid_until="2026-11-30T12:00:00.000000Z")
ANSWER = Answer(decision_id="sca-abc123", capability="scaling", verdict="approved", environment="prod",
                decided_by=CAROL, request_id=WAITING.id, nonce=WAITING.nonce, digest=WAITING.digest,
                approvals=[CAROL], groups={CAROL: LEADS})


def run(waiting=WAITING, sender="shared-services", now=NOW, **answer):
    return check(waiting, replace(ANSWER, **answer), sender=sender, policy=POLICY, now=now)


@pytest.mark.parametrize(("case", "kwargs", "reason"), [
    ("genuine", {}, None),
    ("another sender", {"sender": "stage"},
     "approval results are accepted only from the front door 'shared-services', not 'stage'"),
    ("no sender", {"sender": None}, "approval results are accepted only from the front door 'shared-services', not "
                                    "'None'"),
    ("no ticket", {"request_id": None}, "the result names no request this account asked for"),
    ("never asked", {"waiting": None}, f"no request '{WAITING.id}' was asked for here"),
    ("other capability", {"capability": "rotation"}, f"request {WAITING.id} was asked by scaling, not rotation"),
    ("wrong nonce", {"nonce": "m" * 32}, f"the nonce does not match request {WAITING.id}"),
    ("no nonce", {"nonce": None}, f"the nonce does not match request {WAITING.id}"),
    ("other subject", {"digest": "e" * 64}, f"the subject does not match request {WAITING.id}"),
    ("other environment", {"environment": "stage"}, f"request {WAITING.id} is for prod, not stage"),
    ("too late", {"now": NOW + timedelta(days=8)}, f"request {WAITING.id} expired at {WAITING.valid_until}"),
    ("decided", {"waiting": replace(WAITING, state="done", decision_id="sca-abc123", verdict="approved")},
     f"request {WAITING.id} was already decided (approved in sca-abc123)"),
    ("decided otherwise", {"waiting": replace(WAITING, state="decided", decision_id="sca-abc123",
                                              verdict="rejected")},
     f"request {WAITING.id} was already decided (rejected in sca-abc123)"),
    ("no role", {"approvals": [DAVE], "decided_by": DAVE, "groups": {DAVE: ["S0ENG"]}},
     f"0 of 1 required approvals count here (not counted: {DAVE}: needs the approver role in prod (you have: "
     "viewer))"),
    ("user id as a group", {"approvals": [DAVE], "decided_by": DAVE, "groups": {DAVE: [ROOT]}},
     f"0 of 1 required approvals count here (not counted: {DAVE}: needs the approver role in prod)"),
    ("requester", {"approvals": [ALICE], "decided_by": ALICE, "groups": {ALICE: LEADS}},
     f"0 of 1 required approvals count here (not counted: {ALICE}: four eyes: the requester may not approve)"),
    ("author", {"waiting": replace(WAITING, author="carol@acme.example")},
     f"0 of 1 required approvals count here (not counted: {CAROL}: four eyes: the author may not approve)"),
    ("decider not among approvals", {"decided_by": BOB}, f"the last approver {BOB} is not among the approvals"),
    ("one of two", {"waiting": replace(WAITING, required=2)}, "1 of 2 required approvals count here"),
    ("one person twice", {"waiting": replace(WAITING, required=2), "approvals": [CAROL, CAROL]},
     "1 of 2 required approvals count here"),
    ("two of two", {"waiting": replace(WAITING, required=2), "approvals": [BOB, CAROL],
                    "groups": {BOB: LEADS, CAROL: LEADS}}, None),
    ("not in the group", {"waiting": replace(WAITING, group="S0PLATFORM")},
     f"0 of 1 required approvals count here (not counted: {CAROL}: not in user group S0PLATFORM)"),
    ("admin, no group needed", {"approvals": [ROOT], "decided_by": ROOT, "groups": {}}, None),
    ("rejected by a lead", {"verdict": "rejected", "approvals": []}, None),
    ("rejected by a viewer", {"verdict": "rejected", "approvals": [], "decided_by": DAVE, "groups": {DAVE: ["S0ENG"]}},
     f"the rejection by {DAVE} does not count here: needs the approver role in prod (you have: viewer)"),
    ("expired without a deadline", {"verdict": "expired", "approvals": [], "decided_by": "system"},
     f"request {WAITING.id} has no deadline: it cannot expire"),
    ("expired with a deadline", {"verdict": "expired", "approvals": [], "decided_by": "system",
                                 "waiting": replace(WAITING, deadline="2026-11-23T11:00:00.000000Z")}, None),
])
def test_check(case, kwargs, reason):
    verdict = run(**kwargs)
    assert (verdict.ok, None if verdict.ok else verdict.reason) == (reason is None, reason), case


def test_a_genuine_result_counts_each_approver_once_in_order():
    verdict = run(waiting=replace(WAITING, required=2), approvals=[BOB, CAROL, BOB], decided_by=BOB,
                  groups={BOB: LEADS, CAROL: LEADS})
    assert verdict.ok and verdict.approvers == (BOB, CAROL) and not verdict.resume


def test_the_same_result_after_a_crash_resumes():
    crashed = replace(WAITING, state="decided", decision_id="sca-abc123", verdict="approved")
    verdict = run(waiting=crashed)
    assert verdict.ok and verdict.resume and verdict.approvers == (CAROL,)
