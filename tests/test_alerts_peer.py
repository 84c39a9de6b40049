"""An account that is not the front door (prod; the front door is shared-services): its Slack notifications
leave as keyed ``announce`` events on its own bus, and the front door (its real peer handler, here) posts the
first one and updates that same message for the next ones."""

from __future__ import annotations

import pytest

from chalicelib.intake.pipeline import Kind, handle
from chalicelib.state import audit
from tests.alerts_fixtures import ALERTS, AlertsWorld, blocks_text, receivers_standin_fixture, world_fixture  # noqa: F401
from tests.alerts_kit import BASE, PROD, SHARED, T0, alarm
from tests.events import context
from tests.frontdoor_kit import as_account
from tests.harness import capture_switchboard_events


@pytest.fixture
def announced(world: AlertsWorld):
    return capture_switchboard_events("announced")


def at_the_front_door(world: AlertsWorld, monkeypatch, events: list[dict]) -> list[dict]:
    """Deliver prod's events to the front door's peer handler, as EventBridge would, then be prod again."""
    as_account(monkeypatch, "shared-services")
    outcomes = []
    for event in events:
        event["account"] = PROD
        outcomes.append(handle(Kind.PEER, event, context()))
    world.policy(ALERTS, base=BASE)
    return outcomes


def test_a_peer_hands_keyed_announcements_to_the_front_door_which_updates_in_place(world, announced, monkeypatch):
    world.policy(ALERTS, base=BASE)  # front_door: shared-services
    world.send(alarm("web-5xx", at=T0))
    assert world.flush(minutes=1) == {"notified": 1}
    assert world.messages("#team-web") == []  # prod holds no Slack token: nothing posted from here
    [event] = announced()
    detail = event["detail"]
    assert (detail["to_account"], detail["from_account"], detail["flow"]) == (SHARED, "prod", "announce")
    inc_id = world.open()[0].id
    assert detail["payload"]["key"] == f"{inc_id}/web-oncall" and detail["payload"]["channel"] == "#team-web"
    assert detail["payload"]["version"] == 1  # the incident's seq: the front door sends only the newest version
    [outcome] = at_the_front_door(world, monkeypatch, [event])
    assert outcome["outcome"] == "processed", outcome
    [card] = world.messages("#team-web")
    assert "FIRING · web-5xx" in blocks_text(card)

    world.send(alarm("web-5xx", "OK", previous="ALARM", at=world.clock.at))
    world.flush(minutes=5)
    resolved = announced()
    assert [e["detail"]["payload"]["version"] for e in resolved] == [2]
    at_the_front_door(world, monkeypatch, resolved)
    [card] = world.messages("#team-web")
    assert card.updated == 1 and "RESOLVED" in blocks_text(card)


def test_repeats_are_a_short_new_message_that_notifies(world, announced, monkeypatch):
    world.policy(ALERTS, base=BASE)
    world.send(alarm("api-5xx", at=T0))
    world.flush(minutes=1)
    at_the_front_door(world, monkeypatch, announced())
    world.flush(hours=4)
    repeat = announced()
    assert [e["detail"]["payload"].get("key") is None for e in repeat] == [False, True]
    outcomes = at_the_front_door(world, monkeypatch, repeat)
    assert [o["outcome"] for o in outcomes] == ["processed", "processed"], outcomes
    card, reminder = world.messages("#prod-alerts")
    assert card.updated == 1 and reminder.text.startswith(":repeat: Still firing after 4 h")


def test_without_a_front_door_slack_delivery_fails_and_says_why(world: AlertsWorld):
    world.policy(ALERTS, base=BASE.replace("slack:\n  front_door: shared-services\n", ""))
    world.send(alarm("api-5xx", at=T0))
    assert world.flush(minutes=1) == {"failed": 1}
    [entry] = audit.for_target(f"incident/{world.open()[0].id}")
    assert "policy names no slack.front_door" in entry.reason
