"""What people do, through the front door's command pipeline (parse, RBAC, executor, ephemeral answer):
silences (create, list, end, expiry decided at read time), acknowledgement (stops escalation, updates the card
and PagerDuty), the card's buttons (run as the commands they stand for); and inhibition and mute time intervals.

Wiring the lead adds permanently is patched in here: the executors are registered (alerts_kit), and
``ack``/``unsilence`` are routed to the environment their id names (frontdoor/targets.py)."""

from __future__ import annotations

import json

import pytest

from chalicelib import matchers as m
from chalicelib.alerts import ids, silences
from chalicelib.frontdoor import commands, targets
from chalicelib.slackkit.commands import Asked
from chalicelib.state import audit
from tests.alerts_fixtures import ALERTS, AlertsWorld, blocks_text, receivers_standin_fixture, world_fixture  # noqa: F401
from tests.alerts_kit import T0, alarm
from tests.frontdoor_kit import uid

ROLES = {"alice": ("S0ENG", "S0PLATFORM"), "dave": ("S0ENG",), "carol": ("S0ENG", "S0LEADS")}


@pytest.fixture
def people(world: AlertsWorld, monkeypatch):
    original = targets.environments

    def environments(cmd, policy):  # the proposed change to targets.environments
        if cmd.name in ("ack", "unsilence"):
            env = ids.environment_of(cmd.args.get("incident") or cmd.args.get("id") or "")
            return [env or policy.account.environment]
        return original(cmd, policy)

    monkeypatch.setattr(targets, "environments", environments)

    def say(handle: str, text: str, with_blocks: bool = False) -> str:
        url = world.slack.response_url(handle)
        asked = Asked(text=text, user=uid(handle), groups=ROLES.get(handle, ()), response_url=url,
                      channel="C0OPS00001", request_id=f"slack:{handle}:{text}")
        commands.handle(asked)
        [answer] = world.slack.responses(url)
        return answer["text"] + ("\n" + json.dumps(answer["blocks"], ensure_ascii=False) if with_blocks else "")

    world.say = say
    return world


def test_silence_list_and_end(people):
    world = people
    answer = world.say("alice", "silence alarm=~web-.* env=prod for 2h deploy of v42")
    assert answer.startswith("Silenced in prod until 2026-11-20 16:00 UTC")
    [active] = silences.active(world.clock.at)
    # kept as written: env is read as environment when matching (an alias), no longer rewritten when parsed
    assert [x.as_text() for x in active.matchers] == ["alarm=~web-.*", "env=prod"]
    assert active.view().silences({"alarm": "web-5xx", "environment": "prod"})
    assert active.author == uid("alice") and active.reason == "deploy of v42"
    assert audit.for_target(f"silence/{active.id}")[0].actor == uid("alice")

    listed = world.say("dave", "silences")  # viewers may list
    assert "Silences in prod" in listed
    assert "denied" in world.say("dave", "silence alarm=x for 1h nope").lower()  # but not create

    world.send(alarm("web-5xx", at=world.clock.at))
    world.flush(minutes=1)
    assert world.messages("#team-web") == []  # silenced: nobody told

    assert world.say("alice", f"unsilence {active.id}").startswith(f"ended silence {active.id}")
    assert silences.active(world.clock.at) == []
    world.flush(minutes=1)
    [card] = world.messages("#team-web")
    assert "FIRING" in blocks_text(card)
    assert "already ended" in world.say("alice", f"unsilence {active.id}")


def test_a_silence_expires_at_read_time_though_its_item_is_still_there(people):
    world = people
    world.say("alice", "silence alarm=web-5xx for 30m quiet please")
    world.clock.advance(minutes=31)
    assert len(silences.every()) == 1  # TTL has not deleted it (and may not for days)
    assert silences.active(world.clock.at) == []
    world.send(alarm("web-5xx", at=world.clock.at))
    world.flush(minutes=1)
    assert len(world.messages("#team-web")) == 1


def test_a_silence_takes_effect_on_an_open_incident_in_place(people):
    world = people
    world.send(alarm("web-5xx", at=T0))
    world.flush(minutes=1)
    [card] = world.messages("#team-web")
    answer = world.say("alice", "silence alarm=web-5xx for 1h looking into it", with_blocks=True)
    assert "mutes 1 open incident(s) now" in answer
    [card] = world.messages("#team-web")
    assert card.updated == 1 and "MUTED" in blocks_text(card) and "silenced by prod.s" in blocks_text(card)


def test_silences_that_would_match_everything_are_refused(people):
    assert "would silence every alert" in people.say("alice", "silence alarm=~.* for 1h everything")
    assert silences.every() == []


def test_ack_stops_escalation_and_updates_the_card_and_pagerduty(people):
    world = people
    world.send(alarm("web-5xx", at=T0))
    world.flush(minutes=1)
    world.flush(minutes=10)  # first notified at 14:01; not acknowledged by 14:11: escalated to web-pager
    world.flush(minutes=1)  # the main card says so at the next flush (group_interval has passed)
    [inc] = world.open()
    [trigger] = world.receivers.pagerduty()
    assert trigger["event_action"] == "trigger" and trigger["dedup_key"] == inc.id
    assert ":mega: Escalated to web-pager (step 1)" in blocks_text(world.messages("#team-web")[0])

    answer = world.say("alice", f"ack {inc.id}")
    assert answer == f"acknowledged {inc.id} (web-5xx)"
    [card] = world.messages("#team-web")
    assert f"Acknowledged by <@{uid('alice')}>" in blocks_text(card) and "incident_ack" not in blocks_text(card)
    assert world.receivers.incident(inc.id) == "acknowledged"
    again = world.say("root", f"ack {inc.id}")
    assert again == f"already acknowledged by <@{uid('alice')}> at 2026-11-20 14:12 UTC"
    world.flush(hours=3)
    assert [e["event_action"] for e in world.receivers.pagerduty()] == ["trigger", "acknowledge"]


def test_ack_answers(people):
    world = people
    assert "is not an incident id" in world.say("alice", "ack nonsense")
    assert "there is no incident prod.0123456789.1" in world.say("alice", "ack prod.0123456789.1")
    assert "denied" in world.say("dave", "ack prod.0123456789.1").lower()


def test_the_card_buttons_are_the_commands_they_stand_for(people):
    world = people
    world.send(alarm("web-5xx", at=T0))
    world.flush(minutes=1)
    [inc] = world.open()
    assert ids.button_command("incident_ack", inc.id) == f"ack {inc.id}"
    silence_text = ids.button_command("silence_1h", inc.id)
    assert silence_text.startswith(f"silence environment=prod incident={inc.id} for 1h")
    assert ids.button_command("incident_ack", "x for 30d") is None
    answer = world.say("alice", silence_text)
    assert "Silenced in prod until 2026-11-20 15:01 UTC" in answer
    [created] = silences.active(world.clock.at)
    assert [x.as_text() for x in created.matchers] == ["environment=prod", "alarm=web-5xx"]  # the group's labels


ALERTS_INHIBIT = ALERTS + """
inhibit_rules:
  - source_matchers: ["namespace=AWS/ApplicationELB", "tag_scope=account"]
    target_matchers: ["metric=HTTPCode_Target_5XX_Count"]
    equal: [account, region]
"""


def test_an_account_wide_outage_inhibits_per_service_5xx_alarms(people):
    world = people
    world.policy(ALERTS_INHIBIT)
    world.send(alarm("elb-outage", at=T0, metric="UnHealthyHostCount", tags={"scope": "account"}))
    world.send(alarm("web-5xx", at=T0))
    world.flush(minutes=1)
    [outage] = world.messages("#prod-alerts")
    assert "elb-outage" in outage.text
    assert world.messages("#team-web") == []  # inhibited: nobody paged for the symptom
    world.send(alarm("elb-outage", "OK", previous="ALARM", at=world.clock.at))
    world.flush(minutes=5)
    [card] = world.messages("#team-web")  # the outage is over and web-5xx still fires: now it is told
    assert "FIRING · web-5xx" in blocks_text(card)


ALERTS_WEEKENDS = ALERTS.replace('      escalation: {after: 10m, receivers: [web-pager]}\n',
                                 '      mute_time_intervals: [weekends]\n') + """
time_intervals:
  weekends: {timezone: Europe/London, weekly: [{days: [sat, sun]}]}
"""


def test_mute_time_intervals_hold_notifications_until_they_end(people):
    world = people
    world.policy(ALERTS_WEEKENDS)
    saturday = T0.replace(day=21)  # 2026-11-21 is a Saturday
    world.clock.set(saturday)
    world.send(alarm("web-5xx", at=saturday))
    world.send(alarm("api-5xx", at=saturday))  # a route without the mute
    world.flush(minutes=1)
    assert world.messages("#team-web") == [] and len(world.messages("#prod-alerts")) == 1
    world.clock.set(T0.replace(day=23, hour=0, minute=0))  # Monday 00:00 in London (UTC+0 in November)
    world.flush(minutes=1)
    assert len(world.messages("#team-web")) == 1


def test_matchers_of_the_grammar_become_alert_matchers():
    from chalicelib.frontdoor import grammar

    [env] = grammar.parse("silence env=prod for 1h r").args["matchers"]
    assert isinstance(env, m.Matcher) and env.label == "env"  # an alias is read at match time, not rewritten
    assert env.matches({"environment": "prod"})
    assert not env.matches({"env": "dev", "environment": "prod"})  # a label of its own name wins
