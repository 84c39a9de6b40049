"""Incidents: one per alert group (route + group labels), as a pure state machine over plain data.

``observe`` applies one alert's state change to its group's incident; ``plan`` says what to tell whom at a given
instant; ``record`` writes down what was told. ``next_deadline`` is when the incident next needs looking at (the
store indexes it, and the every-minute flush picks up what is due). All times come in as arguments.

One incident's timeline (Alertmanager's group_wait/group_interval/repeat_interval, PagerDuty-style episodes):

    ALARM a ──► opened (episode n) ── group_wait ──► first notification (Slack post, PagerDuty trigger…)
    ALARM b ──► joins: changed ─────── notified_at + group_interval ──► update (the same Slack message)
    nothing new, still firing ──────── notified_at + repeat_interval ──► repeat (thread reply, re-trigger)
    not acknowledged ────────────────── first notified + k × escalation.after ──► next escalation receiver
    OK a, OK b ──► all resolved ─────── notified_at + group_interval ──► resolved (message updated) ──► closed
    ALARM a again ──► a new episode (a new message); records of the old one stay, hidden, so that a late,
                      older event is recognised as stale (an OK that overtook its ALARM leaves nothing open)

A flapping alert (``flapping.transitions`` changes within ``flapping.window``) shows as flapping, counts as
firing, and its further flips change nothing anyone is told until it has been quiet for the window.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from chalicelib.alerts import ids
from chalicelib.alerts.text import clip

MAX_TRANSITIONS = 20
MAX_REASON = 500  # per alert record: the item is rewritten at every change, so it is kept small
MAX_DESCRIPTION = 300
MAX_ALERTS = 300  # per incident item (DynamoDB's 400 KB); the oldest resolved records go first
LEASE = timedelta(minutes=2)  # a flush holding an incident while it notifies; expires if that flush dies
MAX_BACKOFF = timedelta(hours=1)


class Timing(BaseModel):
    """The route's options, as the incident was last routed (policy changes apply at the next event)."""

    group_wait: float = 30
    group_interval: float = 300
    repeat_interval: float = 4 * 3600
    escalation_after: float | None = None
    escalation_receivers: list[str] = Field(default_factory=list)
    escalation_repeat: int = 1
    mute_time_intervals: list[str] = Field(default_factory=list)
    flap_transitions: int = 4
    flap_window: float = 600


class AlertRecord(BaseModel):
    fp: str
    name: str
    labels: dict[str, str]
    state: str  # OK | ALARM | INSUFFICIENT_DATA, as this group saw it last
    at: datetime  # the state timestamp of the last change applied (older events are stale)
    episode: int
    since: datetime | None = None  # when it started firing
    resolved_at: datetime | None = None
    reason: str = ""
    description: str = ""
    values: dict[str, Any] = Field(default_factory=dict)
    transitions: list[datetime] = Field(default_factory=list)
    mute: dict[str, str] | None = None  # CloudWatch's muteDetail
    event_id: str = ""
    arn: str = ""


class Incident(BaseModel):
    key: str  # group hash: the incident item's key
    environment: str
    group_key: str
    route: str
    receiver: str
    group_labels: dict[str, str] = Field(default_factory=dict)
    episode: int = 0
    opened_at: datetime
    closed_at: datetime | None = None
    alerts: dict[str, AlertRecord] = Field(default_factory=dict)
    timing: Timing = Timing()
    notified_at: datetime | None = None
    first_notified_at: datetime | None = None
    notified_digest: str | None = None
    notified_muted: dict[str, str] = Field(default_factory=dict)
    mute_until: datetime | None = None  # the earliest end of a silence muting one of its alerts
    seq: int = 0  # notifications sent (orders in-place updates of one message)
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_told: bool = False
    escalations: list[dict[str, Any]] = Field(default_factory=list)  # {step, receiver, at}
    paged: list[str] = Field(default_factory=list)  # escalation receivers told: told again on ack and resolve
    wake_at: datetime | None = None  # look again at this time whatever the intervals say (ack, new silence)
    lease_until: datetime | None = None
    failures: int = 0
    retry_at: datetime | None = None

    @property
    def id(self) -> str:
        return ids.incident_id(self.environment, self.key, max(self.episode, 1))

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Change:
    """One alert's new state as one group sees it."""

    fp: str
    name: str
    labels: dict[str, str]
    state: str
    at: datetime
    reason: str = ""
    description: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    mute: dict[str, str] | None = None
    event_id: str = ""
    arn: str = ""

    @property
    def firing(self) -> bool:
        return self.state != "OK"


@dataclass(frozen=True)
class Group:
    """Where a change lands: the incident's identity and the route's options."""

    key: str
    environment: str
    group_key: str
    route: str
    receiver: str
    group_labels: dict[str, str]
    timing: Timing


# ---- reading an incident ----

def current(inc: Incident) -> list[AlertRecord]:
    return [a for a in inc.alerts.values() if a.episode == inc.episode]


def flapping(rec: AlertRecord, now: datetime, timing: Timing) -> bool:
    since = now - timedelta(seconds=timing.flap_window)
    return sum(1 for t in rec.transitions if t > since) >= timing.flap_transitions


def display(rec: AlertRecord, now: datetime, timing: Timing) -> str:
    if flapping(rec, now, timing):
        return "flapping"
    return {"ALARM": "firing", "INSUFFICIENT_DATA": "insufficient"}.get(rec.state, "resolved")


def active(inc: Incident, now: datetime) -> list[AlertRecord]:
    return [a for a in current(inc) if display(a, now, inc.timing) != "resolved"]


def digest(inc: Incident, now: datetime, muted: dict[str, str]) -> str:
    """What the receivers would be told now, as a short hash: equal digests need no update. (An escalation
    changes it too: the main card then says who was paged.)"""
    seen = sorted((a.fp, display(a, now, inc.timing), a.fp in muted) for a in current(inc))
    blob = json.dumps([seen, inc.acked_by is not None, len(inc.escalations)], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def flap_clears_at(inc: Incident, now: datetime) -> datetime | None:
    """When the earliest flapping alert stops counting as flapping (if nothing flips again)."""
    window, need = timedelta(seconds=inc.timing.flap_window), inc.timing.flap_transitions
    found = None
    for rec in current(inc):
        if flapping(rec, now, inc.timing):
            recent = sorted(t for t in rec.transitions if t > now - window)
            clears = recent[-need] + window  # when the need-th most recent transition leaves the window
            found = clears if found is None else min(found, clears)
    return found


@dataclass(frozen=True)
class Step:
    step: int
    receiver: str
    at: datetime


def next_escalation(inc: Incident) -> Step | None:
    t = inc.timing
    if t.escalation_after is None or not t.escalation_receivers or inc.acked_by or inc.first_notified_at is None:
        return None
    step = len(inc.escalations) + 1
    if step > len(t.escalation_receivers) * t.escalation_repeat:
        return None
    receiver = t.escalation_receivers[(step - 1) % len(t.escalation_receivers)]
    return Step(step, receiver, inc.first_notified_at + timedelta(seconds=t.escalation_after * step))


def next_deadline(inc: Incident, now: datetime) -> datetime | None:
    """When the flush should next look at this incident (None: closed, nothing will ever be due)."""
    if inc.closed_at is not None:
        return None
    if inc.lease_until is not None and inc.lease_until > now:
        return inc.lease_until
    t = inc.timing
    found: list[datetime] = [inc.wake_at] if inc.wake_at else []
    if inc.notified_at is None:
        found.append(inc.opened_at + timedelta(seconds=t.group_wait))
    else:
        firing = active(inc, now)
        if digest(inc, now, inc.notified_muted) != inc.notified_digest:
            found.append(inc.notified_at + timedelta(seconds=t.group_interval))
        elif firing:
            found.append(inc.notified_at + timedelta(seconds=t.repeat_interval))
        else:
            found.append(now)  # told it resolved, yet not closed (a race): close it
        step = next_escalation(inc)
        if step is not None and firing:
            found.append(step.at)
        for extra in (flap_clears_at(inc, now), inc.mute_until):
            if extra is not None and extra > inc.notified_at:
                found.append(extra)
    due = min(found)
    if inc.retry_at is not None and inc.retry_at > due:
        due = inc.retry_at
    return due


# ---- changing an incident ----

def observe(existing: Incident | None, change: Change, now: datetime, group: Group) -> tuple[Incident | None, str]:
    """Apply one change. Returns the new incident (None: nothing changed) and a word on what happened."""
    if existing is None:
        inc = Incident(key=group.key, environment=group.environment, group_key=group.group_key, route=group.route,
                       receiver=group.receiver, group_labels=group.group_labels, opened_at=now, closed_at=now)
    else:  # a new incident sharing the unchanged parts: below, only ``alerts`` (its own dict) changes in place,
        # the rest is assigned anew (``_reset``). A deep copy of every alert record was half of this function.
        inc = existing.model_copy(update={"alerts": dict(existing.alerts)})
    before = inc.alerts.get(change.fp)
    if before is not None and change.at <= before.at:
        return None, "stale"
    inc.timing, inc.receiver, inc.route = group.timing, group.receiver, group.route

    if inc.closed_at is not None:
        if not change.firing:  # nothing open: only remember it (a late, older ALARM must not open anything)
            inc.alerts[change.fp] = _record(change, before, inc.episode, inc.timing.flap_transitions)
            _prune(inc)
            return inc, "recorded (no open incident)"
        inc.episode += 1
        inc.opened_at, inc.closed_at = now, None
        _reset(inc)
        note = "opened"
    else:
        note = "joined" if before is None or before.episode != inc.episode or not _was_firing(before) else "updated"
        if not change.firing:
            note = "resolved"
    inc.alerts[change.fp] = _record(change, before if before and before.episode == inc.episode else None,
                                    inc.episode, inc.timing.flap_transitions)
    if inc.notified_at is None and not active(inc, now):
        inc.closed_at = now  # fired and resolved before anyone was told: nothing to say
        note = "closed before anyone was told"
    _prune(inc)
    return inc, note


def _was_firing(rec: AlertRecord) -> bool:
    return rec.state != "OK"


def _record(change: Change, before: AlertRecord | None, episode: int, keep: int = MAX_TRANSITIONS) -> AlertRecord:
    transitions = list(before.transitions) if before else []
    if before is not None and before.state != change.state:
        transitions = (transitions + [change.at])[-keep:]  # flapping needs only the last `transitions` of them
    firing_before = before is not None and _was_firing(before)
    since = before.since if before is not None and firing_before else None
    if change.firing and since is None:
        since = change.at
    if not change.firing and before is not None:
        since = before.since
    return AlertRecord(fp=change.fp, name=change.name, labels=change.labels, state=change.state, at=change.at,
                       episode=episode, since=since, resolved_at=None if change.firing else change.at,
                       reason=clip(change.reason, MAX_REASON), description=clip(change.description, MAX_DESCRIPTION),
                       values=change.values,
                       transitions=transitions, mute=change.mute, event_id=change.event_id, arn=change.arn)


def _reset(inc: Incident) -> None:
    inc.notified_at = inc.first_notified_at = inc.notified_digest = None
    inc.notified_muted, inc.mute_until, inc.seq = {}, None, 0
    inc.acked_by = inc.acked_at = None
    inc.ack_told = False
    inc.escalations, inc.paged = [], []
    inc.wake_at = inc.lease_until = inc.retry_at = None
    inc.failures = 0


def _prune(inc: Incident) -> None:
    if len(inc.alerts) <= MAX_ALERTS:
        return
    old = sorted((a for a in inc.alerts.values() if a.episode != inc.episode or a.state == "OK"),
                 key=lambda a: (a.episode, a.at))
    for rec in old[: len(inc.alerts) - MAX_ALERTS]:
        del inc.alerts[rec.fp]


def acknowledge(existing: Incident, user: str, now: datetime) -> Incident:
    inc = existing.model_copy(deep=True)
    inc.acked_by, inc.acked_at, inc.wake_at = user, now, now
    return inc


def wake(existing: Incident, now: datetime) -> Incident:
    inc = existing.model_copy(deep=True)
    inc.wake_at = now if inc.wake_at is None else min(inc.wake_at, now)
    return inc


# ---- what to tell whom ----

@dataclass(frozen=True)
class Notice:
    receiver: str
    action: str  # firing | update | repeat | resolved | escalate | acknowledge
    step: int | None = None  # escalation step


@dataclass(frozen=True)
class Plan:
    now: datetime
    notices: tuple[Notice, ...] = ()
    digest: str | None = None
    muted: dict[str, str] = field(default_factory=dict)
    mute_until: datetime | None = None
    seq: int = 0
    close: bool = False  # the incident closes once the notices are delivered (or at once, with none)
    why: str = ""

    @property
    def main(self) -> Notice | None:
        return next((n for n in self.notices if n.action in ("firing", "update", "repeat", "resolved")), None)


def plan(inc: Incident, now: datetime, *, muted: dict[str, str], mute_until: datetime | None = None,
         time_muted: str | None = None) -> Plan:
    """What to send now. ``muted``: fingerprint -> why (silence, inhibition, CloudWatch mute rule);
    ``time_muted``: the name of the route's mute time interval in force, if any."""
    t = inc.timing
    if inc.closed_at is not None:
        return Plan(now, why="closed")
    if inc.lease_until is not None and inc.lease_until > now:
        return Plan(now, why="another flush holds it")
    if inc.retry_at is not None and inc.retry_at > now:
        return Plan(now, why="backing off after a failed delivery")
    if time_muted:
        return Plan(now, why=f"muted by time interval {time_muted}")
    firing = active(inc, now)
    visible = [a for a in firing if a.fp not in muted]
    muted = {fp: why for fp, why in muted.items() if fp in inc.alerts}
    now_digest = digest(inc, now, muted)
    seq = inc.seq + 1
    woken = inc.wake_at is not None and inc.wake_at <= now

    def make(*notices: Notice, close: bool = False, why: str = "") -> Plan:
        return Plan(now, tuple(notices), now_digest, muted, mute_until, seq if notices else inc.seq, close, why)

    if inc.notified_at is None:
        if not firing:
            return make(close=True, why="nothing firing and nobody told")
        if now < inc.opened_at + timedelta(seconds=t.group_wait) and not woken:
            return Plan(now, why="waiting for group_wait")
        if not visible:
            return Plan(now, muted=muted, why="every firing alert is muted")
        return make(Notice(inc.receiver, "firing"), why="first notification")

    notices: list[Notice] = []
    close = False
    changed = now_digest != inc.notified_digest
    if changed and (now >= inc.notified_at + timedelta(seconds=t.group_interval) or woken):
        if not firing:
            notices.append(Notice(inc.receiver, "resolved"))
            notices += [Notice(r, "resolved") for r in inc.paged if r != inc.receiver]
            close = True
        else:
            notices.append(Notice(inc.receiver, "update"))
            if inc.acked_by and not inc.ack_told:
                notices += [Notice(r, "acknowledge") for r in inc.paged if r != inc.receiver]
    elif not changed and not firing:
        return make(close=True, why="told it resolved")
    elif not changed and visible and now >= inc.notified_at + timedelta(seconds=t.repeat_interval):
        notices.append(Notice(inc.receiver, "repeat"))
    step = next_escalation(inc)
    if step is not None and visible and now >= step.at:
        notices.append(Notice(step.receiver, "escalate", step.step))
    if not notices:
        return Plan(now, muted=muted, why="nothing due")
    return make(*notices, close=close, why=", ".join(n.action for n in notices))


def lease(existing: Incident, now: datetime) -> Incident:
    inc = existing.model_copy(deep=True)
    inc.lease_until = now + LEASE
    return inc


def record(fresh: Incident, done: Plan, delivered: dict[Notice, bool]) -> Incident:
    """Write down what ``done`` told (applied to the freshest copy: events may have changed it meanwhile)."""
    inc = fresh.model_copy(deep=True)
    now = done.now
    inc.lease_until = None
    if inc.closed_at is not None:
        return inc
    ok = all(delivered.get(n, False) for n in done.notices)
    for notice in done.notices:
        if notice.action == "escalate" and delivered.get(notice, False):
            inc.escalations.append({"step": notice.step, "receiver": notice.receiver, "at": now.isoformat()})
            if notice.receiver not in inc.paged and notice.receiver != inc.receiver:
                inc.paged.append(notice.receiver)
    inc.seq = max(inc.seq, done.seq)  # even after a failure: a retry must not look stale to the message store
    if not ok:
        inc.failures += 1
        inc.retry_at = now + min(timedelta(minutes=2 ** min(inc.failures - 1, 6)), MAX_BACKOFF)
        return inc
    inc.failures, inc.retry_at = 0, None
    if inc.wake_at is not None and inc.wake_at <= now:
        inc.wake_at = None
    if done.main is not None:
        inc.notified_at = now
        inc.first_notified_at = inc.first_notified_at or now
        inc.notified_digest, inc.notified_muted, inc.mute_until = done.digest, dict(done.muted), done.mute_until
        if inc.acked_by:
            inc.ack_told = True
    if done.close and not active(inc, now):
        inc.closed_at = now
        inc.paged = []
    return inc


def resolved_after(inc: Incident) -> timedelta | None:
    recs = current(inc)
    if not recs or any(r.state != "OK" for r in recs):
        return None
    starts = [r.since for r in recs if r.since is not None]
    ends = [r.resolved_at for r in recs if r.resolved_at is not None]
    return max(ends) - min(starts) if starts and ends else None
