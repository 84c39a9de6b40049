"""The incident state machine, pure, on a hand-moved clock: group_wait, group_interval, repeat_interval,
resolution, flapping, escalation, ack, episodes, stale and out-of-order changes. No AWS, no sleeps."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.alerts import incidents
from chalicelib.alerts.incidents import Change, Group, Notice, Timing
from tests.alerts_kit import T0

TIMING = Timing(group_wait=30, group_interval=300, repeat_interval=3600, flap_transitions=4, flap_window=600)
GROUP = Group(key="abcdef0123", environment="prod", group_key="route:{alarm='web-5xx'}", route="route",
              receiver="team", group_labels={"alarm": "web-5xx"}, timing=TIMING)


def s(seconds: float):
    return T0 + timedelta(seconds=seconds)


def change(state: str, at: float, fp: str = "a", name: str = "web-5xx") -> Change:
    return Change(fp=fp, name=name, labels={"alarm": name, "state": state}, state=state, at=s(at))


class Timeline:
    """Feeds changes, and flushes as the schedule would, recording what was sent and when."""

    def __init__(self, group: Group = GROUP):
        self.group = group
        self.inc = None
        self.sent: list[tuple[float, str, str]] = []
        self.muted: dict[str, str] = {}

    def event(self, state: str, at: float, fp: str = "a", now: float | None = None) -> str:
        new, note = incidents.observe(self.inc, change(state, at, fp), s(at if now is None else now), self.group)
        if new is not None:
            self.inc = new
        return note

    def flush(self, now: float, ok: bool = True) -> list[str]:
        p = incidents.plan(self.inc, s(now), muted=self.muted)
        delivered = {n: ok for n in p.notices}
        self.inc = incidents.record(self.inc, p, delivered) if (p.notices or p.close) else self.inc
        self.sent += [(now, n.receiver, n.action) for n in p.notices]
        return [n.action for n in p.notices]

    def run(self, until: float, every: float = 60, start: float = 0.0) -> None:
        t = start
        while t <= until:
            self.flush(t)
            t += every

    def deadline(self, now: float) -> float | None:
        found = incidents.next_deadline(self.inc, s(now))
        return None if found is None else (found - T0).total_seconds()


def test_first_notification_waits_group_wait():
    tl = Timeline()
    assert tl.event("ALARM", 0) == "opened"
    assert tl.deadline(0) == 30
    assert tl.flush(29) == []
    assert tl.flush(30) == ["firing"]
    assert tl.inc.notified_at == s(30) and tl.inc.seq == 1


def test_updates_wait_for_group_interval_and_batch_changes():
    tl = Timeline()
    tl.event("ALARM", 0)
    tl.flush(30)
    tl.event("ALARM", 40, fp="b")
    tl.event("ALARM", 50, fp="c")
    assert tl.deadline(50) == 330  # notified at 30 + group_interval
    assert tl.flush(60) == [] and tl.flush(329) == []
    assert tl.flush(330) == ["update"]  # both new alerts in one update
    assert tl.flush(400) == []  # nothing new


def test_still_firing_is_repeated_after_repeat_interval():
    tl = Timeline()
    tl.event("ALARM", 0)
    tl.flush(30)
    assert tl.deadline(31) == 30 + 3600
    assert tl.flush(3629) == []
    assert tl.flush(3630) == ["repeat"]
    assert tl.flush(3700) == [] and tl.deadline(3700) == 3630 + 3600


def test_resolve_waits_for_group_interval_then_closes():
    tl = Timeline()
    tl.event("ALARM", 0)
    tl.flush(30)
    assert tl.event("OK", 100) == "resolved"
    assert tl.flush(200) == []
    assert tl.flush(330) == ["resolved"]
    assert tl.inc.closed_at == s(330) and tl.deadline(331) is None
    assert incidents.resolved_after(tl.inc) == timedelta(seconds=100)


def test_a_group_is_resolved_only_when_every_alert_is():
    tl = Timeline()
    tl.event("ALARM", 0)
    tl.event("ALARM", 5, fp="b")
    tl.flush(30)
    tl.event("OK", 100)
    assert tl.flush(330) == ["update"]
    tl.event("OK", 400, fp="b")
    assert tl.flush(630) == ["resolved"] and not tl.inc.open


def test_fired_and_resolved_before_group_wait_tells_nobody():
    tl = Timeline()
    tl.event("ALARM", 0)
    assert tl.event("OK", 10) == "closed before anyone was told"
    assert tl.flush(30) == [] and not tl.inc.open and tl.sent == []


def test_an_ok_that_overtakes_its_alarm_leaves_nothing_open():
    tl = Timeline()
    assert tl.event("OK", 100, now=101) == "recorded (no open incident)"
    assert tl.event("ALARM", 50, now=102) == "stale"  # older than what was recorded
    assert not tl.inc.open and tl.deadline(200) is None
    tl.run(4000)
    assert tl.sent == []


def test_duplicates_and_older_events_change_nothing():
    tl = Timeline()
    tl.event("ALARM", 0)
    before = tl.inc
    assert tl.event("ALARM", 0) == "stale"
    assert tl.event("OK", -10) == "stale"
    assert tl.inc == before


def test_a_new_alarm_after_resolution_is_a_new_episode():
    tl = Timeline()
    tl.event("ALARM", 0)
    tl.flush(30)
    tl.event("OK", 60)
    tl.flush(330)
    first = tl.inc.id
    assert tl.event("ALARM", 400) == "opened"
    assert tl.inc.id != first and tl.inc.id.endswith(".2") and tl.inc.notified_at is None
    assert tl.flush(430) == ["firing"]
    assert [a.fp for a in incidents.current(tl.inc)] == ["a"]


def test_flapping_is_marked_and_notified_once_until_it_settles():
    tl = Timeline()
    tl.event("ALARM", 0)
    tl.flush(30)
    for i, state in enumerate(["OK", "ALARM", "OK", "ALARM", "OK", "ALARM", "OK"]):  # a flip every 20 s
        tl.event(state, 40 + 20 * i)
    [rec] = incidents.current(tl.inc)
    assert incidents.flapping(rec, s(200), TIMING)
    assert incidents.display(rec, s(200), TIMING) == "flapping"
    assert incidents.active(tl.inc, s(200))  # a flapping alert holds the incident open, even while OK
    tl.run(690, start=180)
    # the flips were batched into one update (marked flapping); no resolve/re-fire churn
    assert [a for _, _, a in tl.sent] == ["firing", "update"] and tl.sent[1][0] == 360  # first flush after 30 + 300
    # it stops flapping when fewer than 4 flips remain in the 10-minute window: the 4th latest was at 100 s
    assert tl.deadline(691) == 100 + 600
    tl.run(1500, start=700)
    assert tl.sent[2:] == [(700, "team", "resolved")]
    assert not tl.inc.open


def test_escalation_after_the_ack_deadline_then_repeats_up_to_the_limit():
    timing = TIMING.model_copy(update={"escalation_after": 600, "escalation_receivers": ["pager", "lead"],
                                       "escalation_repeat": 2})
    tl = Timeline(Group(**{**GROUP.__dict__, "timing": timing}))
    tl.event("ALARM", 0)
    tl.run(6000)
    escalations = [(t, r) for t, r, a in tl.sent if a == "escalate"]
    # first notified at 30; steps at +600 each: pager, lead, pager, lead (2 rounds), then no more
    assert escalations == [(660, "pager"), (1260, "lead"), (1860, "pager"), (2460, "lead")]
    assert tl.inc.paged == ["pager", "lead"]
    tl.event("OK", 6100)
    tl.run(7000)
    resolved = sorted(r for t, r, a in tl.sent if a == "resolved")
    assert resolved == ["lead", "pager", "team"]  # everyone who was paged hears it resolved


def test_ack_stops_escalation_and_tells_everyone_once():
    timing = TIMING.model_copy(update={"escalation_after": 600, "escalation_receivers": ["pager"]})
    tl = Timeline(Group(**{**GROUP.__dict__, "timing": timing}))
    tl.event("ALARM", 0)
    tl.run(700)
    assert ("pager", "escalate") in [(r, a) for _, r, a in tl.sent]
    tl.inc = incidents.acknowledge(tl.inc, "U0CAROL001", s(720))
    assert tl.flush(720) == ["update", "acknowledge"]  # woken: at once, not at the next interval
    assert tl.inc.ack_told
    tl.run(5000)
    assert [a for _, _, a in tl.sent].count("escalate") == 1


def test_muted_alerts_are_not_notified_and_a_silence_shows_in_place():
    tl = Timeline()
    tl.muted = {"a": "silenced by prod.s1"}
    tl.event("ALARM", 0)
    assert tl.flush(30) == [] and tl.inc.notified_at is None  # all muted: wait
    tl.muted = {}
    assert tl.flush(90) == ["firing"]
    tl.muted = {"a": "silenced by prod.s2"}
    tl.inc = incidents.wake(tl.inc, s(100))
    assert tl.flush(100) == ["update"]  # the card says muted, in place
    assert tl.inc.notified_muted == {"a": "silenced by prod.s2"}


def test_escalation_waits_while_muted():
    timing = TIMING.model_copy(update={"escalation_after": 600, "escalation_receivers": ["pager"]})
    tl = Timeline(Group(**{**GROUP.__dict__, "timing": timing}))
    tl.event("ALARM", 0)
    tl.flush(30)
    tl.muted = {"a": "silenced"}
    assert tl.flush(700) == ["update"]
    assert "escalate" not in [a for _, _, a in tl.sent]


def test_failed_deliveries_are_retried_with_backoff():
    tl = Timeline()
    tl.event("ALARM", 0)
    assert tl.flush(30, ok=False) == ["firing"]
    assert tl.inc.notified_at is None and tl.inc.failures == 1 and tl.deadline(31) == 30 + 60
    assert tl.flush(60) == []
    assert tl.flush(90, ok=False) == ["firing"] and tl.deadline(91) == 90 + 120
    assert tl.flush(210) == ["firing"] and tl.inc.failures == 0 and tl.inc.notified_at == s(210)


def test_a_lease_keeps_a_second_flush_out():
    tl = Timeline()
    tl.event("ALARM", 0)
    leased = incidents.lease(tl.inc, s(30))
    assert incidents.plan(leased, s(31), muted={}).notices == ()
    assert incidents.plan(leased, s(30 + 121), muted={}).notices == (Notice("team", "firing"),)


def test_record_keeps_changes_made_while_notifying():
    tl = Timeline()
    tl.event("ALARM", 0)
    p = incidents.plan(tl.inc, s(30), muted={})
    fresh, _ = incidents.observe(tl.inc, change("ALARM", 31, fp="b"), s(31), GROUP)  # arrived meanwhile
    done = incidents.record(fresh, p, {n: True for n in p.notices})
    assert {a.fp for a in incidents.current(done)} == {"a", "b"}
    assert incidents.next_deadline(done, s(32)) == s(30 + 300)  # b is news: an update is due


def test_observe_leaves_the_incident_it_was_given_as_it_was():
    """The store's cache hands observe its last copy: a change (opened, joined, resolved, a new episode, pruned)
    makes a new incident and never touches the one given."""
    t = Timeline()
    t.event("ALARM", 0)
    t.flush(30)
    for step, (state, at, fp) in enumerate([("ALARM", 40, "b"), ("OK", 50, "a"), ("OK", 60, "b"), ("ALARM", 400, "a")]):
        given = t.inc
        before = given.model_dump()
        note = t.event(state, at, fp)
        assert given.model_dump() == before, (step, note)
        assert t.inc is not given and t.inc.alerts is not given.alerts
    crowded = t.inc.model_copy(update={"alerts": {f"x{i}": t.inc.alerts["a"].model_copy(
        update={"fp": f"x{i}", "state": "OK", "episode": 0}) for i in range(incidents.MAX_ALERTS)}})
    before = crowded.model_dump()
    pruned, _ = incidents.observe(crowded, change("ALARM", 500, "new"), s(500), GROUP)
    assert crowded.model_dump() == before and len(pruned.alerts) == incidents.MAX_ALERTS
