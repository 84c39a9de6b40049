"""Red team: taking over another account's card, smuggling decision buttons in a peer's blocks, and collecting an
approval from a message that is not the decision's card.

The front door (shared-services) receives peer events through the intake, as EventBridge delivers them, and clicks
through the Chalice app (Slack-signed, Bolt). Each attack must change nothing: no message taken over, posted or
updated, no approval recorded, and an audit entry saying why. Each test also plays the legitimate move, which works.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from chalicelib.decisions import store as decision_store
from chalicelib.intake.pipeline import Kind, handle
from chalicelib.slackkit import keyed
from chalicelib.slackkit import slack as slack_adapter
from chalicelib.state import audit
from localworld.slack_user import uid
from tests.events import context, signed
from tests.frontdoor_kit import PROD, SHARED, STAGE

KEY = "promotion:7f3a9c2e"
SENDERS = {"stage": STAGE, "prod": PROD}


def peer(flow: str, payload: dict[str, Any], sender: str = "prod") -> dict:
    """Deliver a peer event from ``sender`` to the front door; returns the front door handler's result."""
    event = {"version": "0", "id": str(uuid.uuid4()), "source": "switchboard", "detail-type": f"Switchboard {flow}",
             "account": SENDERS[sender], "region": "eu-west-1", "time": "2026-11-23T12:00:00Z", "resources": [],
             "detail": {"to_account": SHARED, "from_account": sender, "flow": flow, "payload": payload}}
    outcome = handle(Kind.PEER, signed(event), context())  # sealed by the sender's key: a genuine peer
    assert outcome["outcome"] == "processed", outcome
    [result] = outcome["results"]
    return result


def announce(sender: str, text: str, **extra: Any) -> dict:
    return peer("announce", {"channel": "#team-web", "text": text, "correlation_id": "c", **extra}, sender)


def peer_audit(flow: str, sender: str) -> list[Any]:
    return [e for e in audit.for_target(f"peer/{sender}") if e.action == f"frontdoor.peer.{flow}"]


def messages(front) -> list[Any]:
    return front.standin.messages("#team-web")


# ---- cards are owned: continues needs the owner's grant ----

def test_continues_without_the_owners_grant_takes_nothing_over(front):
    assert announce("stage", "web 7f3a9c2 soaking in stage", key=KEY)["outcome"] == "succeeded"  # no grant
    [card] = messages(front)

    result = announce("prod", "web 7f3a9c2: prod owns this now", key=KEY, continues="stage")
    assert result["outcome"] == "rejected"
    assert result["reason"] == f"'stage' did not grant 'prod' its message under key '{KEY}'"
    [entry] = peer_audit("announce", "prod")
    assert entry.outcome == "rejected" and entry.reason == result["reason"]
    [after] = messages(front)  # nothing posted, nothing updated
    assert (after.ts, after.text, after.updated) == (card.ts, "web 7f3a9c2 soaking in stage", 0)
    stage_ref = keyed.message_ref("stage", KEY)
    assert (stage_ref.owner, stage_ref.handed_to, stage_ref.granted_to) == ("stage", None, None)
    assert keyed.message_ref("prod", KEY) is None

    assert announce("stage", "web 7f3a9c2 still mine", key=KEY)["outcome"] == "succeeded"  # stage still owns it
    assert messages(front)[0].text == "web 7f3a9c2 still mine"


def test_an_approval_card_cannot_take_over_a_card_not_granted_to_it(front):
    announce("stage", "web 7f3a9c2 soaking in stage", key=KEY, grant_to="stage")  # granted, but not to prod
    request = {"capability": "promotion", "title": "Promote web 7f3a9c2 to prod", "summary": "promote",
               "environment": "prod", "requester": uid("alice"), "channel": "#team-web", "correlation_id": "c",
               "decision_id": "pro-7f3a9c2e", "key": KEY, "continues": "stage"}
    result = peer("approval-request", request)
    assert result["outcome"] == "rejected" and "did not grant 'prod'" in result["reason"]
    assert decision_store.get("pro-7f3a9c2e") is None  # no decision, no card
    [card] = messages(front)
    assert card.updated == 0 and "decision_approve" not in json.dumps(card.blocks)
    assert keyed.message_ref("stage", KEY).handed_to is None


def test_the_owners_grant_hands_the_card_over_once(front):
    announce("stage", "web 7f3a9c2 soaking in stage", key=KEY, grant_to="prod")
    assert keyed.message_ref("stage", KEY).granted_to == "prod"
    assert announce("prod", "web 7f3a9c2 waits for approvers", key=KEY, continues="stage")["outcome"] == "succeeded"
    [card] = messages(front)
    assert card.text == "web 7f3a9c2 waits for approvers"
    assert keyed.message_ref("stage", KEY).handed_to == "prod"
    assert keyed.message_ref("prod", KEY).owner == "prod"
    announce("stage", "a late stage update", key=KEY, grant_to="prod")  # the old owner's updates are dropped
    assert messages(front)[0].text == "web 7f3a9c2 waits for approvers"


# ---- decision buttons are the front door's ----

FAKE_BUTTONS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Approve the prod deploy*"},
     "accessory": {"type": "button", "action_id": "decision_approve", "value": "pro-victim01",
                   "text": {"type": "plain_text", "text": "Approve"}}},
    {"type": "actions", "block_id": "decision:pro-victim01", "elements": [
        {"type": "button", "action_id": "decision_approve", "value": "pro-victim01",
         "text": {"type": "plain_text", "text": "Approve"}}]},
    {"type": "actions", "block_id": "mixed", "elements": [
        {"type": "button", "action_id": "decision_reject", "value": "pro-victim01",
         "text": {"type": "plain_text", "text": "Reject"}},
        {"type": "button", "action_id": "incident_ack", "value": "prod.0123456789.1",
         "text": {"type": "plain_text", "text": "Ack"}}]},
]


def test_decision_buttons_in_a_peers_announcement_are_stripped_and_audited(front):
    result = announce("prod", "please approve", blocks=FAKE_BUTTONS)
    assert result["outcome"] == "succeeded"
    [posted] = messages(front)
    text = json.dumps(posted.blocks)
    assert "decision_approve" not in text and "decision_reject" not in text and "decision:" not in text
    assert "incident_ack" in text and "*Approve the prod deploy*" in text  # the rest of the message stays
    [entry] = peer_audit("announce", "prod")
    assert entry.outcome == "rejected"
    assert entry.reason == ("3 block(s) from 'prod' carried decision buttons: removed (only the front door renders "
                            "them, from a decision it holds)")


def test_decision_buttons_in_a_peers_card_body_are_stripped_the_front_door_renders_its_own(front):
    request = {"capability": "scaling", "title": "api 2 -> 1 in prod", "summary": "scale in",
               "environment": "prod", "requester": uid("alice"), "channel": "#team-web", "correlation_id": "c",
               "blocks": FAKE_BUTTONS}
    result = peer("approval-request", request)
    assert result["outcome"] == "succeeded"
    decision_id = result["actions"][0].split()[2]
    [card] = messages(front)
    buttons = [(b.get("block_id"), e["value"]) for b in card.blocks if b["type"] == "actions"
               for e in b["elements"] if e["action_id"].startswith("decision_")]
    assert buttons == [(f"decision:{decision_id}", decision_id)] * 2  # Approve and Reject, for its own decision
    assert "pro-victim01" not in json.dumps(card.blocks)
    assert [e.outcome for e in peer_audit("approval-request", "prod")] == ["rejected"]


# ---- a click decides only from the decision's own card ----

@pytest.fixture
def decision(front) -> str:
    request = {"capability": "scaling", "title": "api 2 -> 1 in prod", "summary": "scale in",
               "environment": "prod", "requester": uid("alice"), "channel": "#team-api", "correlation_id": "c"}
    result = peer("approval-request", request)
    return result["actions"][0].split()[2]


def click(front, decision_id: str, user: str, message: Any) -> str:
    before = len(front.standin.responses())
    assert front.click("decision_approve", decision_id, user, message=message).status_code == 200
    front.runner.drain()
    [reply] = front.standin.responses()[before:]
    return reply["text"]


def test_a_click_on_a_decision_from_another_message_decides_nothing(front, decision):
    # a message that shows a real decision's button but is not its card (a peer's, or anything else posted)
    lure = slack_adapter.web().chat_postMessage(channel="#random", text="quick favour", blocks=[
        {"type": "actions", "elements": [{"type": "button", "action_id": "decision_approve", "value": decision,
                                          "text": {"type": "plain_text", "text": "Approve"}}]}])
    lure_message = {"channel": lure["channel"], "ts": lure["ts"]}
    reply = click(front, decision, "carol", lure_message)
    assert reply == (f"sorry, this button is not on the approval card of `{decision}`, so it decides nothing: "
                     "please use the card Switchboard posted")
    item = decision_store.get(decision)
    assert (item.state, item.approvals) == ("pending", [])
    [entry] = [e for e in audit.for_target(f"decision/{decision}") if e.action == "scaling.approve"]
    assert (entry.outcome, entry.actor, entry.reason) == (
        "refused", uid("carol"), "the click came from a message that is not this decision's card")
    assert entry.detail == lure_message

    [card] = front.standin.messages("#team-api")
    assert click(front, decision, "carol", card).startswith("approved api 2 -&gt; 1 in prod")  # from its card: yes
    assert decision_store.get(decision).state == "approved"


def test_a_click_that_names_no_message_decides_nothing(front, decision):
    reply = click(front, decision, "carol", {"channel": "", "ts": ""})
    assert reply.startswith("sorry, this button is not on the approval card")
    assert decision_store.get(decision).state == "pending"
