"""Why an alert is not notified right now: a silence, an inhibition, a CloudWatch mute rule, or a mute time
interval on its route. Pure functions over the alert's labels, the active silences, the open incidents and a
timezone-aware instant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib import matchers as m
from chalicelib.alerts.incidents import AlertRecord, Incident, active
from chalicelib.alerts.policy import AlertsSection, InhibitRule, TimeInterval
from chalicelib.freezes import in_weekly
from chalicelib.timefmt import shown


@dataclass(frozen=True)
class SilenceView:
    id: str
    matchers: tuple[m.Matcher, ...]
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def silences(self, labels: Mapping[str, str]) -> bool:
        return m.match_all(self.matchers, labels)


# ---- time intervals ----

def in_interval(interval: TimeInterval, at: datetime) -> bool:
    if at.tzinfo is None:
        raise ValueError("time intervals are evaluated at a timezone-aware instant")
    zone = ZoneInfo(interval.timezone)
    local = at.astimezone(zone)
    for window in interval.dates:
        if window.start.replace(tzinfo=zone) <= local < window.end.replace(tzinfo=zone):
            return True
    return any(in_weekly(weekly.days, weekly.start, weekly.end, local) for weekly in interval.weekly)


def time_muted(section: AlertsSection, names: Iterable[str], at: datetime) -> str | None:
    for name in names:
        interval = section.time_intervals.get(name)
        if interval is not None and in_interval(interval, at):
            return name
    return None


# ---- CloudWatch's own mute rules (muteDetail in the event) ----

def cloudwatch_muted(rec: AlertRecord, at: datetime) -> str | None:
    mute = rec.mute or {}
    try:
        start = datetime.fromisoformat(mute["muteWindowStart"])
        end = datetime.fromisoformat(mute["muteWindowEnd"])
    except (KeyError, ValueError):
        return None
    if start <= at < end:
        rule = mute.get("mutedByArn", "a CloudWatch mute rule").rsplit(":", 1)[-1]
        return f"muted in CloudWatch by {rule} until {end.strftime('%H:%M UTC')}"
    return None


# ---- inhibition ----

def inhibited_by(rules: Sequence[InhibitRule], labels: Mapping[str, str], fp: str,
                 sources: Sequence[tuple[str, Mapping[str, str]]]) -> str | None:
    """The name of a firing alert that inhibits this one, or None. An alert never inhibits itself."""
    for rule in rules:
        target = m.parse_all(rule.target_matchers)
        if not m.match_all(target, labels):
            continue
        source = m.parse_all(rule.source_matchers)
        for other_fp, other in sources:
            if other_fp == fp or not m.match_all(source, other):
                continue
            if all((m.lookup(other, name) or "") == (m.lookup(labels, name) or "") for name in rule.equal):
                return other.get("alarm", other_fp)
    return None


def firing_sources(incidents: Iterable[Incident], now: datetime) -> list[tuple[str, dict[str, str]]]:
    """(fingerprint, labels) of every alert firing in the given open incidents."""
    seen: dict[str, dict[str, str]] = {}
    for inc in incidents:
        for rec in active(inc, now):
            seen.setdefault(rec.fp, rec.labels)
    return list(seen.items())


def mutes_for(inc: Incident, now: datetime, *, silences: Sequence[SilenceView], rules: Sequence[InhibitRule],
              sources: Sequence[tuple[str, Mapping[str, str]]]) -> tuple[dict[str, str], datetime | None]:
    """fingerprint -> why, for the incident's firing alerts that are muted now; and when the earliest silence
    involved ends (the incident is looked at again then)."""
    muted: dict[str, str] = {}
    until: datetime | None = None
    for rec in active(inc, now):
        silence = next((s for s in silences if s.active(now) and s.silences(rec.labels)), None)
        if silence is not None:
            muted[rec.fp] = f"silenced by {silence.id} until {shown(silence.ends_at)}"
            until = silence.ends_at if until is None else min(until, silence.ends_at)
            continue
        why = cloudwatch_muted(rec, now)
        if why is not None:
            muted[rec.fp] = why
            end = datetime.fromisoformat((rec.mute or {})["muteWindowEnd"])
            until = end if until is None else min(until, end)
            continue
        source = inhibited_by(rules, rec.labels, rec.fp, sources)
        if source is not None:
            muted[rec.fp] = f"inhibited by {source}"
    if until is not None:
        until = until + timedelta(seconds=1)
    return muted, until
