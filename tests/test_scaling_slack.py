"""`/ops scale` end to end: a signed Slack command at the front door, forwarded to prod, re-authorised and run
there, answered with a preview of the plan; prod's announcements and approval cards posted by the front door; an
approval click going back to prod, which plans again and acts. Slack is the stand-in; AWS is moto."""

from __future__ import annotations

import json

import pytest

from chalicelib.intake.pipeline import Kind, handle
from tests.events import context
from tests.frontdoor_kit import PROD, SHARED, uid
from tests.scaling_kit import asg, desired_count, ecs_service, group, shipped_with, use_policy, wire


def answers(kit) -> list[str]:
    """Each answer on a response_url: its text and the text of its blocks, as a person would read them."""
    def texts(node) -> list[str]:
        if isinstance(node, dict):
            return [node["text"]] if isinstance(node.get("text"), str) else [t for v in node.values() for t in texts(v)]
        if isinstance(node, list):
            return [t for v in node for t in texts(v)]
        return []
    return [r.get("text", "") + "\n" + "\n".join(texts(r.get("blocks", []))) for r in kit.standin.responses()]


def deliver(event: dict, sender: str) -> dict:
    return handle(Kind.PEER, {**event, "account": sender}, context())


@pytest.fixture
def estate(front, bus, monkeypatch):
    wire(monkeypatch)
    use_policy(monkeypatch, shipped_with("shared-services"))
    ecs_service("prod", "web", 2)
    asg("api", 1, 6, 2)

    def to_prod(flow: str = "command") -> list[dict]:
        """Hand what the front door put on its bus to prod (as the peer-link would), then come back."""
        events = [e for e in bus() if e["detail"]["flow"] == flow and e["detail"]["to_account"] == PROD]
        use_policy(monkeypatch, shipped_with("prod"))
        outcomes = [deliver(e, SHARED) for e in events]
        return outcomes

    def to_front() -> list[dict]:
        """Hand what prod put on its bus to the front door."""
        events = [e for e in bus() if e["detail"]["to_account"] == SHARED]
        use_policy(monkeypatch, shipped_with("shared-services"))
        return [deliver(e, PROD) for e in events]

    front.to_prod, front.to_front = to_prod, to_front
    return front


def test_scale_runs_in_prod_and_answers_with_a_preview(estate):
    estate.command("scale web 4", user="alice")
    estate.runner.drain()
    [outcome] = estate.to_prod()
    assert outcome["outcome"] == "processed", outcome
    assert desired_count() == 4
    [answer] = answers(estate)
    assert "*web* (prod): 2 → 4 by &lt;@U0ALICE001&gt;" not in answer  # a mention, not escaped text
    assert "2 → 4 by <@U0ALICE001> in Slack" in answer
    assert "floor 2 · ceiling 6 · step ≤ 2 (max 2, 100%) · cooldown 10m · ≤ 6 changes/h" in answer
    assert "done: verified with a describe" in answer
    estate.to_front()
    [said] = estate.standin.messages("#team-web")
    assert "2 → 4" in said.text
    assert json.dumps(said.blocks) == "[]"


def test_a_dry_run_from_slack_shows_the_plan_and_changes_nothing(estate):
    estate.command("scale web 4 --dry-run", user="alice")
    estate.runner.drain()
    estate.to_prod()
    assert desired_count() == 2
    [answer] = answers(estate)
    assert "dry run (--dry-run): would 2 → 4" in answer and "nothing was changed" in answer
    assert "call: `ecs update_service cluster=prod service=web desiredCount=4`" in answer


def test_a_refusal_is_answered_with_its_reasons(estate):
    estate.command("scale web 9", user="alice")
    estate.runner.drain()
    estate.to_prod()
    [answer] = answers(estate)
    assert "not scaled to 9" in answer and "9 is above the ceiling of 6" in answer
    assert "a step of 7 is more than the maximum step of 2" in answer


def test_a_viewer_may_not_scale(estate):
    estate.command("scale web 4", user="dave")
    estate.runner.drain()
    assert estate.to_prod() == [] and desired_count() == 2
    assert any("you need the operator role in prod" in a for a in answers(estate))


def test_prod_scale_in_waits_for_an_approver_then_runs(estate):
    estate.command("scale api 1", user="alice")
    estate.runner.drain()
    estate.to_prod()
    assert group() == (2, 1, 6)
    [answer] = answers(estate)
    assert "awaits an approver (card in #team-api)" in answer
    [posted] = estate.to_front()  # the approval request
    assert posted["outcome"] == "processed", posted
    [card] = estate.standin.messages("#team-api")
    assert "api 2 (min 1, max 6) → 1 (min 1, max 6) in prod" in json.dumps(card.blocks, ensure_ascii=False)
    decision_id = card.blocks[-1]["elements"][0]["text"].split("`")[1]

    estate.click("decision_approve", decision_id, "alice")  # an operator, not an approver
    estate.click("decision_approve", decision_id, "carol")
    estate.runner.drain()
    assert any("not allowed: you need the approver role in prod" in a for a in answers(estate))
    [told] = estate.to_prod("approval-result")
    assert told["outcome"] == "processed", told
    assert group() == (1, 1, 6)
    estate.to_front()  # prod's announcement of the change
    said = [m.text for m in estate.standin.messages("#team-api") if m.text and "→" in m.text and ":arrow_down:" in
            m.text]
    assert said and f"<@{uid('alice')}> in Slack" in said[0]


def test_a_rejected_scale_in_changes_nothing(estate):
    estate.command("scale api 1", user="alice")
    estate.runner.drain()
    estate.to_prod()
    estate.to_front()
    [card] = estate.standin.messages("#team-api")
    decision_id = card.blocks[-1]["elements"][0]["text"].split("`")[1]
    estate.command(f"reject {decision_id} not during the launch", user="carol")
    estate.runner.drain()
    estate.to_prod("approval-result")
    assert group() == (2, 1, 6)
    estate.to_front()
    assert any("rejected by <@U0CAROL001>: not during the launch" in (m.text or "")
               for m in estate.standin.messages("#team-api"))
