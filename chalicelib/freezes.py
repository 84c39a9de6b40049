"""Freeze windows: when Switchboard must not change an environment on its own (promotion, rotation, scaling).

Policy-as-data (``freezes:`` in the policy YAML), evaluated by a pure function over a timezone-aware instant:
recurring weekly windows in a time zone (``days`` + ``from``/``to`` local times; a window may cross midnight)
and one-off windows between two local date-times. ``/ops hold`` is a per-app hold kept by promotion, not here.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from chalicelib.policy.schema import Freeze, Policy

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def active(policy: Policy, environment: str, at: datetime) -> list[Freeze]:
    """The freezes in force for ``environment`` at the instant ``at`` (which must be timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("freeze windows are evaluated at a timezone-aware instant")
    return [f for f in policy.freezes if environment in f.environments and in_window(f, at)]


def in_window(freeze: Freeze, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(freeze.timezone))
    if freeze.dates is not None:
        start = freeze.dates.start.replace(tzinfo=ZoneInfo(freeze.timezone))
        end = freeze.dates.end.replace(tzinfo=ZoneInfo(freeze.timezone))
        return start <= local < end
    weekly = freeze.weekly
    assert weekly is not None
    return in_weekly(weekly.days, weekly.start, weekly.end, local)


def in_weekly(days: Collection[str], start: str, end: str, local: datetime) -> bool:
    """Is the local time ``local`` inside a weekly window: listed ``days``, from ``start`` to ``end`` ("HH:MM";
    ``end`` may be "24:00")? Shared by freeze windows and alert mute time intervals."""
    now, today = local.time(), DAYS[local.weekday()]
    begin = time.fromisoformat(start)
    if end == "24:00":  # to the end of the listed day
        return today in days and begin <= now
    finish = time.fromisoformat(end)
    if begin <= finish:  # e.g. 09:00-17:00 on the listed days
        return today in days and begin <= now < finish
    # crosses midnight, e.g. fri 18:00 -> 06:00: the evening belongs to the listed day, the morning to the next
    yesterday = DAYS[(local.weekday() - 1) % 7]
    return (today in days and now >= begin) or (yesterday in days and now < finish)


def ends(freeze: Freeze, at: datetime) -> datetime | None:
    """When the freeze in force at ``at`` lifts (None: it is not in force then). Back-to-back weekly windows
    (``sat`` and ``sun`` all day) count as one: the end is where the freeze really lifts."""
    if not in_window(freeze, at):
        return None
    zone = ZoneInfo(freeze.timezone)
    if freeze.dates is not None:
        return freeze.dates.end.replace(tzinfo=zone)
    weekly = freeze.weekly
    assert weekly is not None
    end = at
    for _ in range(8):  # at most a week of back-to-back days
        end = _occurrence_end(weekly.start, weekly.end, end.astimezone(zone), zone)
        if not in_window(freeze, end):
            return end
    return None  # frozen all week, every week: no end to wait for


def _occurrence_end(start: str, end: str, local: datetime, zone: ZoneInfo) -> datetime:
    today = local.date()
    if end == "24:00":
        return datetime.combine(today + timedelta(days=1), time(0, 0), tzinfo=zone)
    begin, finish = time.fromisoformat(start), time.fromisoformat(end)
    if begin <= finish or local.time() < finish:  # a same-day window, or the morning part of one crossing midnight
        return datetime.combine(today, finish, tzinfo=zone)
    return datetime.combine(today + timedelta(days=1), finish, tzinfo=zone)
