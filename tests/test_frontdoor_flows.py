"""Peers and the front door: approval requests, verdicts going back, announcements updated in place."""

from __future__ import annotations

import json

import pytest

from chalicelib import capabilities
from chalicelib.capabilities import Capability
from chalicelib.decisions import service as approvals
from chalicelib.decisions import store as decision_store
from chalicelib.intake.pipeline import Kind, handle
from chalicelib.slackkit import announcements
from chalicelib.slackkit import slack as slack_adapter
from tests.events import context
from tests.frontdoor_kit import PROD, SHARED, STAGE, as_account, uid


def deliver(event: dict, sender: str) -> dict:
    event = {**event, "account": sender}  # as EventBridge delivers it: stamped with the sending account
    return handle(Kind.PEER, event, context())


def ask_from_prod(monkeypatch, bus, **overrides) -> dict:
    as_account(monkeypatch, "prod")
    fields = {"capability": "scaling", "title": "api 4 -> 2 in prod", "summary": "scale in <api> & save",
              "environment": "prod", "requester": uid("alice"), "channel": "#team-api",
              "payload": {"target": "api", "count": 2}, "subject": {"request": {"target": "api", "count": 2}},
              "correlation_id": "corr-1"} | overrides
    assert approvals.ask(**fields) is None  # the id comes back with the verdict
    [event] = bus()
    assert (event["detail"]["flow"], event["detail"]["to_account"]) == ("approval-request", SHARED)
    return event


def test_a_peer_asks_the_front_door_and_gets_the_verdict_back(front, bus, monkeypatch):
    event = ask_from_prod(monkeypatch, bus)
    as_account(monkeypatch, "shared-services")
    outcome = deliver(event, PROD)
    assert outcome["outcome"] == "processed", outcome
    [card] = front.standin.messages("#team-api")
    assert "&lt;api&gt; &amp; save" in json.dumps(card.blocks)
    [decision_id] = [a.split()[2] for a in outcome["results"][0]["actions"]]
    assert decision_store.get(decision_id).origin == "prod"

    front.click("decision_approve", decision_id, "carol")
    front.runner.drain()
    [result] = [e for e in bus() if e["detail"]["flow"] == "approval-result"]
    assert result["detail"]["to_account"] == PROD
    ticket = event["detail"]["payload"]["pending"]  # prod's pending request: id, nonce, digest of the subject
    assert set(ticket) == {"id", "nonce", "digest"}
    assert result["detail"]["payload"] | {"decided_at": "-"} == {
        "id": decision_id, "capability": "scaling", "verdict": "approved", "environment": "prod",
        "requester": uid("alice"), "decided_by": uid("carol"), "decided_at": "-", "reason": None,
        "payload": {"target": "api", "count": 2}, "approvals": [uid("carol")], "required": 1,
        "pending": ticket, "groups": {uid("carol"): ["S0ENG", "S0LEADS"]}}

    told = []
    capabilities.ensure_loaded(Capability.SCALING)  # else its import, on first use, registers over ours
    monkeypatch.setitem(capabilities._decision_handlers, Capability.SCALING, told.append)
    as_account(monkeypatch, "prod")
    outcome = deliver(result, SHARED)
    assert outcome["outcome"] == "processed" and [t["id"] for t in told] == [decision_id]
    assert told[0]["verdict"] == "approved" and told[0]["payload"] == {"target": "api", "count": 2}
    assert told[0]["from_account"] == "shared-services"  # who sent it, for the capability's checks


def test_a_peer_may_ask_only_about_its_own_environment(front, bus, monkeypatch):
    event = ask_from_prod(monkeypatch, bus, environment="stage")
    as_account(monkeypatch, "shared-services")
    outcome = deliver(event, PROD)
    [result] = outcome["results"]
    assert result["outcome"] == "rejected"
    assert result["reason"] == "'prod' may ask for approvals in prod only, not stage"
    assert front.standin.messages("#team-api") == []


def test_verdicts_are_accepted_only_from_the_front_door(aws, monkeypatch):
    as_account(monkeypatch, "prod")
    event = {"version": "0", "id": "v1", "source": "switchboard", "detail-type": "Switchboard approval-result",
             "account": STAGE, "region": "eu-west-1", "time": "2026-11-21T10:00:00Z", "resources": [],
             "detail": {"to_account": PROD, "from_account": "stage", "flow": "approval-result", "payload": {}}}
    outcome = handle(Kind.PEER, event, context())
    assert outcome["outcome"] == "rejected"  # stage may not send approval results to prod at all (policy)
    assert "may not send 'approval-result'" in outcome["reason"]


def test_a_verdict_that_cannot_be_delivered_is_retried(front, bus, monkeypatch):
    event = ask_from_prod(monkeypatch, bus)
    as_account(monkeypatch, "shared-services")
    deliver(event, PROD)
    [decision_id] = [d.id for d in decision_store.Decision.scan(decision_store.Decision.pk.startswith("decision#"))]
    real = announcements.send_to
    monkeypatch.setattr(announcements, "send_to", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("bus down")))
    front.click("decision_approve", decision_id, "carol")
    front.runner.drain()
    assert "telling prod failed: it is retried every 5 minutes" in front.standin.responses()[-1]["text"]
    assert [d.id for d in decision_store.Decision.unnotified.query(decision_store.UNNOTIFIED)] == [decision_id]
    assert [e for e in bus() if e["detail"]["flow"] == "approval-result"] == []

    monkeypatch.setattr(announcements, "send_to", real)
    assert approvals.tick(slack_adapter.retry_outbox)["renotified"] == 1
    assert [e["detail"]["payload"]["id"] for e in bus() if e["detail"]["flow"] == "approval-result"] == [decision_id]
    assert list(decision_store.Decision.unnotified.query(decision_store.UNNOTIFIED)) == []
    assert approvals.tick(slack_adapter.retry_outbox)["renotified"] == 0


@pytest.mark.parametrize("where", ["front door", "peer"])
def test_keyed_announcements_update_one_message_in_place(front, bus, monkeypatch, where):
    from chalicelib.slackkit import pacing
    from tests.test_frontdoor_cards import Wall

    wall = Wall()  # a second between the writes: each within the channel's send budget, sent at once
    monkeypatch.setattr(pacing, "wall", wall)

    def say(text: str) -> None:
        wall.at += 1.0
        if where == "front door":
            announcements.announce(channel="#team-web", text=text, key="incident-7", correlation_id="c")
            return
        as_account(monkeypatch, "prod")
        announcements.announce(channel="#team-web", text=text, key="incident-7", correlation_id="c")
        [event] = bus()
        as_account(monkeypatch, "shared-services")
        assert deliver(event, PROD)["outcome"] == "processed"

    say("web-5xx firing")
    say("web-5xx resolved")
    wall.at += 1.0
    announcements.announce(channel="#team-web", text="unrelated", correlation_id="c")
    firing, unrelated = front.standin.messages("#team-web")
    assert firing.text == "web-5xx resolved" and firing.updated == 1 and unrelated.text == "unrelated"
