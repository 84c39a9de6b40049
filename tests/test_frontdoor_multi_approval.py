"""Richer approvals for promotion: N distinct approvers, user groups, forced four eyes, deadlines, caller-chosen
ids, and cards that are keyed announcements re-rendered in place. Slack-signed clicks through the Chalice app
(Bolt), DynamoDB in moto, Slack the stand-in."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import capabilities
from chalicelib.capabilities import Capability
from chalicelib.decisions import service as approvals
from chalicelib.decisions import service as decisions
from chalicelib.decisions import store as decision_store
from chalicelib.intake.pipeline import Kind, handle
from chalicelib.slackkit import announcements, keyed
from chalicelib.slackkit import slack as slack_adapter
from chalicelib.slackkit.store import MessageRef, OutboxItem
from chalicelib.state import audit
from tests.events import context
from tests.frontdoor_kit import PROD, SHARED, as_account, uid

LEADS = "S0LEADS"
BODY = [{"type": "section", "text": {"type": "mrkdwn", "text": "*web* `9f2c1e7` &lt;fix&gt; · gates: all green"}}]


@pytest.fixture
def told(monkeypatch) -> list[dict[str, Any]]:
    """What the asking capability's decision handler got (in whichever account runs it)."""
    got: list[dict[str, Any]] = []
    real = capabilities.decision_handler_for
    monkeypatch.setattr(capabilities, "decision_handler_for",
                        lambda capability: got.append if capability in (Capability.PROMOTION, Capability.SCALING)
                        else real(capability))
    return got


def ask(**overrides: Any) -> decision_store.Decision:
    fields: dict[str, Any] = {
        "capability": "promotion", "title": "web 9f2c1e7 to prod", "summary": "promote web", "environment": "prod",
        "requester": uid("alice"), "author": "dan@acme.example", "channel": "#team-web", "correlation_id": "t",
        "payload": {"app": "web"}} | overrides
    return decisions.request(**fields)


def click(front, decision_id: str, user: str, action: str = "decision_approve") -> str:
    before = len(front.standin.responses())
    assert front.click(action, decision_id, user).status_code == 200
    front.runner.drain()
    [reply] = front.standin.responses()[before:]
    return reply["text"]


def card(front, channel: str = "#team-web") -> Any:
    [message] = front.standin.messages(channel)
    return message


def blocks_text(message: Any) -> str:
    return json.dumps(message.blocks)


def has_buttons(message: Any) -> bool:
    return "decision_approve" in blocks_text(message) and "decision_reject" in blocks_text(message)


def entries(decision_id: str, action: str) -> list[Any]:
    return [e for e in audit.for_target(f"decision/{decision_id}") if e.action == action]


@pytest.fixture(autouse=True)
def _every_delivery_landed(request):
    """No Slack delivery of these tests may have fallen back to the outbox (they would hide a rejected card)."""
    yield
    if "front" in request.fixturenames:
        assert list(OutboxItem.query("outbox")) == []


# ---- N approvers ----

def test_two_of_n_first_click_is_partial_second_decides_and_the_asker_is_told_once(front, told):
    item = ask(required=2)
    posted = card(front)
    assert "0 of 2 approvals" in blocks_text(posted) and has_buttons(posted)

    reply = click(front, item.id, "bob")
    assert reply == f"1 of 2 approvals: <@{uid('bob')}> (web 9f2c1e7 to prod needs 1 more)"
    partial = decision_store.get(item.id)
    assert (partial.state, partial.approvals) == ("pending", [uid("bob")])
    updated = card(front)
    assert updated.ts == posted.ts and updated.updated == 1
    assert f"1 of 2 approvals: <@{uid('bob')}>" in blocks_text(updated) and has_buttons(updated)
    [entry] = entries(item.id, "promotion.approve")
    assert entry.outcome == "succeeded" and entry.actor == uid("bob")
    assert entry.after == {"approvals": [uid("bob")], "required": 2}
    assert told == []  # nothing decided yet

    front.command(f"approve {item.id}", user="carol")  # /ops approve counts the same as a click
    front.runner.drain()
    decided = decision_store.get(item.id)
    assert (decided.state, decided.decided_by) == ("approved", uid("carol"))
    assert decided.approvals == [uid("bob"), uid("carol")]
    [result] = told
    assert result["verdict"] == "approved" and result["approvals"] == [uid("bob"), uid("carol")]
    assert result["required"] == 2 and result["id"] == item.id and result["payload"] == {"app": "web"}
    final = card(front)
    assert final.ts == posted.ts and not has_buttons(final)
    assert f"*Approved* by <@{uid('bob')}>, <@{uid('carol')}>" in blocks_text(final)
    assert [e.after for e in entries(item.id, "promotion.approve") if e.actor == uid("carol")] == [
        {"state": "approved", "decided_by": uid("carol"), "approvals": [uid("bob"), uid("carol")], "required": 2}]


def test_the_same_user_cannot_approve_twice(front, told):
    item = ask(required=2)
    click(front, item.id, "bob")
    assert click(front, item.id, "bob") == "you already approved web 9f2c1e7 to prod (1 of 2 approvals: " \
                                          f"<@{uid('bob')}>)"
    again = decision_store.get(item.id)
    assert (again.state, again.approvals) == ("pending", [uid("bob")])
    assert len(entries(item.id, "promotion.approve")) == 1 and card(front).updated == 1 and told == []


@pytest.mark.parametrize("required", [2, 3])
def test_concurrent_approvals_neither_lose_one_nor_decide_twice(front, told, monkeypatch, required):
    item = ask(required=required)
    decisions.decide(item.id, "approved", user=uid("root"), groups=frozenset(), correlation_id="c0")
    # force the race: both clicks read the decision (one approval so far) before either writes
    barrier, real_get, first_read = threading.Barrier(2, timeout=10), decision_store.get, threading.local()

    def racing_get(decision_id: str) -> Any:
        found = real_get(decision_id)
        if not getattr(first_read, "done", False):
            first_read.done = True
            barrier.wait()
        return found

    monkeypatch.setattr(decision_store, "get", racing_get)
    outcomes: dict[str, decisions.Outcome] = {}

    def approve(user: str) -> None:
        outcomes[user] = decisions.decide(item.id, "approved", user=uid(user), groups=frozenset({"S0ENG", LEADS}),
                                          correlation_id=f"c-{user}")

    threads = [threading.Thread(target=approve, args=(u,)) for u in ("bob", "carol")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.setattr(decision_store, "get", real_get)
    decided = decision_store.get(item.id)
    assert decided.state == "approved" and decided.approvals[0] == uid("root")
    assert len(told) == 1 and told[0]["approvals"] == decided.approvals
    if required == 3:  # both count: the slower one retried on the list it lost to
        assert sorted(decided.approvals[1:]) == sorted([uid("bob"), uid("carol")])
        assert all(o.changed for o in outcomes.values())
        assert sum(o.message.startswith("approved ") for o in outcomes.values()) == 1
    else:  # exactly one is the last approval; the other is told it was already decided
        assert len(decided.approvals) == 2
        [winner] = [u for u, o in outcomes.items() if o.changed]
        assert decided.approvals[1] == uid(winner) and outcomes[winner].message.startswith("approved ")
        [loser] = [o for o in outcomes.values() if not o.changed]
        assert loser.message.startswith("already approved by")


def test_one_reject_decides_at_once(front, told):
    item = ask(required=3)
    click(front, item.id, "bob")
    assert click(front, item.id, "carol", "decision_reject") == "rejected web 9f2c1e7 to prod"
    decided = decision_store.get(item.id)
    assert (decided.state, decided.decided_by, decided.approvals) == ("rejected", uid("carol"), [uid("bob")])
    [result] = told
    assert (result["verdict"], result["approvals"], result["required"]) == ("rejected", [uid("bob")], 3)
    final = card(front)
    assert f"*Rejected* by <@{uid('carol')}>" in blocks_text(final) and not has_buttons(final)
    assert click(front, item.id, "root").startswith("already rejected by")


# ---- who may approve ----

def test_forced_four_eyes_refuses_requester_and_author_where_policy_would_not(front, told):
    item = ask(environment="stage", requester=uid("carol"), author="bob@acme.example", four_eyes=True)
    assert click(front, item.id, "carol") == "not allowed: four eyes: you requested this, someone else must approve it"
    assert click(front, item.id, "bob") == "not allowed: four eyes: you wrote this change, someone else must approve it"
    assert decision_store.get(item.id).state == "pending" and told == []
    assert [e.outcome for e in entries(item.id, "promotion.approve")] == ["refused", "refused"]
    assert click(front, item.id, "root") == "approved web 9f2c1e7 to prod"

    # without the flag, stage keeps today's behaviour (not a four-eyes environment): the requester may approve
    plain = ask(environment="stage", requester=uid("carol"), author="bob@acme.example")
    assert click(front, plain.id, "carol") == "approved web 9f2c1e7 to prod"


def test_approvers_must_be_in_the_group(front, told):
    item = ask(group=LEADS, required=2)
    # root is an admin (every role) but not in the group
    assert click(front, item.id, "root") == f"not allowed: you need to be in <!subteam^{LEADS}> to approve this"
    assert click(front, item.id, "root", "decision_reject") == (
        f"not allowed: you need to be in <!subteam^{LEADS}> to reject this")
    [refused, _] = entries(item.id, "promotion.approve") + entries(item.id, "promotion.reject")
    assert refused.outcome == "refused" and "subteam" in refused.reason
    assert decision_store.get(item.id).approvals == []
    click(front, item.id, "bob")
    click(front, item.id, "carol")
    assert decision_store.get(item.id).state == "approved" and told[0]["approvals"] == [uid("bob"), uid("carol")]


def test_the_role_is_still_needed(front):
    item = ask(group="S0ENG")  # dave is in S0ENG but only a viewer in prod
    assert click(front, item.id, "dave") == "not allowed: you need the approver role in prod (you have: viewer)"


# ---- deadlines ----

def test_a_click_after_the_deadline_expires_it(front, told):
    deadline = datetime.now(UTC) - timedelta(minutes=1)
    item = ask(required=2, deadline=deadline)
    stamp = deadline.strftime("%Y-%m-%d %H:%M UTC")
    assert click(front, item.id, "carol") == f"this approval expired at {stamp}"
    expired = decision_store.get(item.id)
    assert (expired.state, expired.decided_by, expired.decided_at, expired.approvals) == (
        "expired", "system", stamp, [])
    [result] = told
    assert (result["verdict"], result["decided_by"], result["approvals"], result["required"]) == (
        "expired", "system", [], 2)
    final = card(front)
    assert f"*Expired* at {stamp}" in blocks_text(final) and not has_buttons(final)
    [entry] = entries(item.id, "promotion.expire")
    assert entry.outcome == "succeeded" and entry.after == {"state": "expired"}

    assert click(front, item.id, "bob", "decision_reject") == f"this approval expired at {stamp}"
    assert len(told) == 1 and len(entries(item.id, "promotion.expire")) == 1


def test_expire_due_expires_only_pending_decisions_past_their_deadline(front, told, monkeypatch):
    from chalicelib.slackkit import pacing
    from tests.test_frontdoor_cards import Wall

    wall = Wall()  # a second between the cards: each within the channel's send budget, posted at once
    monkeypatch.setattr(pacing, "wall", wall)
    now = datetime.now(UTC)
    soon = ask(deadline=now + timedelta(hours=1), required=2)
    wall.at += 1.0
    later = ask(deadline=now + timedelta(hours=2))
    wall.at += 1.0
    decided = ask(deadline=now + timedelta(hours=1))
    [pending_later] = [m for m in front.standin.messages("#team-web") if m.ts == later.ts]
    assert f"*Expires at:* {(now + timedelta(hours=2)).strftime('%Y-%m-%d %H:%M UTC')}" in blocks_text(pending_later)
    click(front, soon.id, "bob")  # partial: still pending, still due
    click(front, decided.id, "carol")
    assert [t["id"] for t in told] == [decided.id]

    assert decisions.expire_due(now) == 0
    assert decisions.expire_due(now + timedelta(minutes=90)) == 1
    assert [decision_store.get(d.id).state for d in (soon, later, decided)] == ["expired", "pending", "approved"]
    assert told[-1]["id"] == soon.id and told[-1]["verdict"] == "expired" and told[-1]["approvals"] == [uid("bob")]
    assert decisions.expire_due(now + timedelta(minutes=90)) == 0  # a decided one is no longer listed as due
    due = [d.id for d in decision_store.Decision.unnotified.query(decision_store.DUE)]
    assert due == [later.id]

    # the outbox schedule (every 5 minutes) runs it
    counts = decisions.tick(slack_adapter.retry_outbox, now=now + timedelta(hours=3))
    assert counts["expired"] == 1 and decision_store.get(later.id).state == "expired"
    assert "expired" not in decisions.tick(slack_adapter.retry_outbox, now=now + timedelta(hours=3))
    assert list(decision_store.Decision.unnotified.query(decision_store.DUE)) == []
    assert list(decision_store.Decision.unnotified.query(decision_store.UNNOTIFIED)) == []  # every asker was told
    expired_cards = [m for m in front.standin.messages("#team-web") if "*Expired* at" in blocks_text(m)]
    assert len(expired_cards) == 2 and not any(has_buttons(m) for m in expired_cards)


# ---- idempotent requests ----

def test_a_request_with_the_same_decision_id_is_asked_once(front):
    first = ask(decision_id="pro-3f2a9c")
    again = ask(decision_id="pro-3f2a9c", title="something else")
    assert first.id == again.id == "pro-3f2a9c" and again.title == "web 9f2c1e7 to prod"
    assert len(front.standin.messages("#team-web")) == 1
    assert len(entries("pro-3f2a9c", "promotion.request_approval")) == 1
    with pytest.raises(ValueError, match="already used by another account"):
        ask(decision_id="pro-3f2a9c", origin="stage")


@pytest.mark.parametrize(("overrides", "named"), [
    ({"decision_id": "PRO-1234"}, "decision_id"),
    ({"decision_id": "pro-12"}, "decision_id"),
    ({"required": 0}, "required"),
    ({"required": 6}, "required"),
    ({"group": "U0BOB00001"}, "group"),
    ({"deadline": datetime(2030, 1, 1)}, "deadline"),  # noqa: DTZ001 - naive on purpose
])
def test_bad_options_are_refused_by_name(front, overrides, named):
    with pytest.raises(ValueError, match=named):
        ask(**overrides)
    assert front.standin.messages("#team-web") == []


# ---- keyed cards, re-rendered in place ----

def test_a_keyed_card_is_updated_in_place_by_announcements_and_clicks(front, told):
    key = "promotion/web/9f2c1e7"
    announcements.announce(channel="#team-web", text="web 9f2c1e7 soaking in stage", key=key, correlation_id="c")
    decision_id = approvals.ask(capability="promotion", title="web 9f2c1e7 to prod", summary="promote",
                                environment="prod", requester=uid("alice"), channel="#team-web",
                                payload={"app": "web"}, correlation_id="c", required=2, key=key, blocks=BODY,
                                decision_id="pro-9f2c1e7")
    assert decision_id == "pro-9f2c1e7"
    first = card(front)  # the card took over the keyed announcement
    assert first.updated == 1 and "gates: all green" in blocks_text(first) and has_buttons(first)
    assert first.blocks[0] == BODY[0] and "0 of 2 approvals" in blocks_text(first)

    body = [{"type": "section", "text": {"type": "mrkdwn", "text": "*web* `9f2c1e7` · stage soak done"}}]
    announcements.announce(channel="#team-web", text="soak done", blocks=body, key=key, decision_id=decision_id,
                       correlation_id="c")
    second = card(front)
    assert (second.channel, second.ts) == (first.channel, first.ts) and second.text == "soak done"
    assert second.blocks[0] == body[0] and has_buttons(second) and "0 of 2 approvals" in blocks_text(second)

    click(front, decision_id, "bob")  # the click re-renders the capability's latest body + progress
    third = card(front)
    assert third.blocks[0] == body[0] and has_buttons(third)
    assert f"1 of 2 approvals: <@{uid('bob')}>" in blocks_text(third)

    click(front, decision_id, "carol")
    fourth = card(front)
    assert fourth.blocks[0] == body[0] and not has_buttons(fourth)
    assert f"*Approved* by <@{uid('bob')}>, <@{uid('carol')}>" in blocks_text(fourth)
    assert [t["verdict"] for t in told] == ["approved"]

    deploying = [{"type": "section", "text": {"type": "mrkdwn", "text": "deploying to prod"}}]
    announcements.announce(channel="#team-web", text="deploying", blocks=deploying, key=key, decision_id=decision_id,
                       correlation_id="c")
    fifth = card(front)  # still the one message; the verdict stays, no buttons come back
    assert fifth.ts == first.ts and fifth.blocks[0] == deploying[0] and not has_buttons(fifth)
    assert "*Approved* by" in blocks_text(fifth)


def test_a_keyed_announcement_without_the_decision_replaces_the_card(front, told):
    key = "promotion/web/abc1234"
    decision_id = approvals.ask(capability="promotion", title="web abc1234 to prod", summary="promote",
                                environment="prod", requester=uid("alice"), channel="#team-web", payload=None,
                                correlation_id="c", key=key)
    posted = card(front)
    assert "Approval needed" in blocks_text(posted) and has_buttons(posted)  # no blocks: the decision's own body
    announcements.announce(channel="#team-web", text="promotion cancelled", key=key, correlation_id="c")
    assert card(front).text == "promotion cancelled" and not has_buttons(card(front))
    click(front, decision_id, "carol")  # still decidable by id, but the message has moved on: left alone
    assert decision_store.get(decision_id).state == "approved"
    after = card(front)
    assert after.text == "promotion cancelled" and after.blocks in (None, [])


def test_only_the_asker_may_attach_a_decision_under_its_key(front):
    decision_id = approvals.ask(capability="promotion", title="t", summary="s", environment="prod",
                                requester=uid("alice"), channel="#team-web", payload=None, correlation_id="c",
                                key="k1")
    with pytest.raises(ValueError, match="is not a card"):
        announcements.announce(channel="#team-web", text="x", key="k2", decision_id=decision_id, correlation_id="c")
    with pytest.raises(ValueError, match="needs the key"):
        announcements.announce(channel="#team-web", text="x", decision_id=decision_id, correlation_id="c")
    with pytest.raises(ValueError, match="is not a card"):
        keyed.attach("prod", "k1", decision_id, {"channel": "#team-web", "text": "x"}, correlation_id="c")
    assert MessageRef.get("message#shared-services#k1", "message").decision_id == decision_id


def test_a_body_without_a_key_still_gets_the_footer_and_re_renders(front):
    item = ask(blocks=BODY, required=2)
    posted = card(front)
    assert posted.blocks[0] == BODY[0] and has_buttons(posted)
    click(front, item.id, "bob")
    assert card(front).blocks[0] == BODY[0] and f"1 of 2 approvals: <@{uid('bob')}>" in blocks_text(card(front))


# ---- from another account ----

def deliver(event: dict, sender: str) -> dict:
    return handle(Kind.PEER, {**event, "account": sender}, context())


def test_a_peer_asks_with_the_new_options_and_gets_approvals_back(front, bus, monkeypatch, told):
    as_account(monkeypatch, "prod")
    deadline = datetime.now(UTC) + timedelta(hours=24)
    key = "scaling/api/plan-7"
    assert approvals.ask(capability="scaling", title="api 4 -> 2 in prod", summary="scale <in>",
                         environment="prod", requester=uid("alice"), author="dan@acme.example",
                         channel="#team-api", payload={"n": 2}, correlation_id="c1", decision_id="sca-plan7",
                         required=2, group=LEADS, four_eyes=True, deadline=deadline, key=key,
                         blocks=BODY) == "sca-plan7"
    [event] = bus()
    payload = event["detail"]["payload"]
    assert (event["detail"]["flow"], event["detail"]["to_account"]) == ("approval-request", SHARED)
    assert {k: payload[k] for k in ("decision_id", "required", "group", "four_eyes", "key", "blocks")} == {
        "decision_id": "sca-plan7", "required": 2, "group": LEADS, "four_eyes": True, "key": key, "blocks": BODY}
    assert datetime.fromisoformat(payload["deadline"]) == deadline

    as_account(monkeypatch, "shared-services")
    assert deliver(event, PROD)["outcome"] == "processed"
    item = decision_store.get("sca-plan7")
    assert (item.origin, item.required, item.group, item.four_eyes, item.key) == ("prod", 2, LEADS, True, key)
    assert item.deadline == decision_store.iso(deadline)
    assert deliver(event, PROD)["outcome"] == "processed"  # redelivered: still one card
    posted = card(front, "#team-api")
    assert posted.blocks[0] == BODY[0] and has_buttons(posted)

    # prod re-renders its card while approval is pending: the same message, the buttons kept
    as_account(monkeypatch, "prod")
    announcements.announce(channel="#team-api", text="plan refreshed", key=key, decision_id="sca-plan7",
                       blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "plan refreshed"}}],
                       correlation_id="c2")
    [announce] = bus()
    assert announce["detail"]["payload"]["decision_id"] == "sca-plan7"
    as_account(monkeypatch, "shared-services")
    assert deliver(announce, PROD)["outcome"] == "processed"
    refreshed = card(front, "#team-api")
    assert refreshed.ts == posted.ts and "plan refreshed" in blocks_text(refreshed) and has_buttons(refreshed)

    click(front, "sca-plan7", "root")  # admin, but not in the group
    click(front, "sca-plan7", "bob")
    click(front, "sca-plan7", "carol")
    [result] = [e for e in bus() if e["detail"]["flow"] == "approval-result"]
    assert result["detail"]["to_account"] == PROD
    assert result["detail"]["payload"]["approvals"] == [uid("bob"), uid("carol")]
    assert result["detail"]["payload"]["required"] == 2 and result["detail"]["payload"]["verdict"] == "approved"
    final = card(front, "#team-api")
    assert final.ts == posted.ts and "plan refreshed" in blocks_text(final) and not has_buttons(final)

    as_account(monkeypatch, "prod")
    assert deliver(result, SHARED)["outcome"] == "processed"
    [got] = told
    assert (got["id"], got["verdict"], got["approvals"], got["required"]) == (
        "sca-plan7", "approved", [uid("bob"), uid("carol")], 2)


def test_a_peer_may_attach_only_its_own_decisions(front, bus, monkeypatch):
    item = ask(key="mine", capability="promotion")  # the front door's own decision under key "mine"
    as_account(monkeypatch, "prod")
    announcements.announce(channel="#team-web", text="hijack", key="mine", decision_id=item.id, correlation_id="c")
    [event] = bus()
    as_account(monkeypatch, "shared-services")
    [result] = deliver(event, PROD)["results"]
    assert result["outcome"] == "rejected" and "is not a card 'prod' asked for" in result["reason"]
    assert "hijack" not in json.dumps([m.blocks for m in front.standin.messages("#team-web")])


def test_a_peer_request_without_new_options_sends_what_it_always_did(front, bus, monkeypatch):
    as_account(monkeypatch, "prod")
    assert approvals.ask(capability="scaling", title="t", summary="s", environment="prod", requester=uid("alice"),
                         channel="#team-api", payload=None, correlation_id="c") is None
    [event] = bus()
    assert set(event["detail"]["payload"]) == {"capability", "title", "summary", "environment", "requester",
                                               "author", "channel", "payload", "role", "correlation_id"}
