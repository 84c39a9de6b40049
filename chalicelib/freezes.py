"""Freeze windows: when Switchboard must not change an environment on its own (promotion, rotation, scaling).

Policy-as-data (``freezes:`` in the policy YAML), evaluated by a pure function over a timezone-aware instant:
recurring weekly windows in a time zone (``days`` + ``from``/``to`` local times; a window may cross midnight)
and one-off windows between two local date-times. ``/ops hold`` is a per-app hold kept by promotion, not here.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

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
    now, today = local.time(), DAYS[local.weekday()]
    start, end = time.fromisoformat(weekly.start), time.fromisoformat(weekly.end)
    if start <= end:  # e.g. 09:00-17:00 on the listed days
        return today in weekly.days and start <= now < end
    # crosses midnight, e.g. fri 18:00 -> 06:00: the evening belongs to the listed day, the morning to the next
    yesterday = DAYS[(local.weekday() - 1) % 7]
    return (today in weekly.days and now >= start) or (yesterday in weekly.days and now < end)
