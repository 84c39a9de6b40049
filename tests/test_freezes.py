"""Freeze windows and the weekly-window check they share with alert mute intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib import freezes
from chalicelib.policy.loader import parse

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(("days", "start", "end", "local", "inside"), [
    (("mon",), "09:00", "17:00", datetime(2026, 11, 23, 9, 0), True),   # a Monday, at the start
    (("mon",), "09:00", "17:00", datetime(2026, 11, 23, 17, 0), False),  # the end is excluded
    (("mon",), "09:00", "17:00", datetime(2026, 11, 24, 10, 0), False),  # Tuesday
    (("fri",), "18:00", "06:00", datetime(2026, 11, 27, 23, 0), True),   # Friday evening
    (("fri",), "18:00", "06:00", datetime(2026, 11, 28, 5, 59), True),   # Saturday morning belongs to Friday
    (("fri",), "18:00", "06:00", datetime(2026, 11, 28, 6, 0), False),
    (("fri",), "18:00", "06:00", datetime(2026, 11, 27, 5, 0), False),   # Friday morning belongs to Thursday
    (("sat", "sun"), "00:00", "24:00", datetime(2026, 11, 29, 23, 59, 59), True),  # to the end of the day
    (("sat", "sun"), "00:00", "24:00", datetime(2026, 11, 30, 0, 0), False),
])
def test_in_weekly(days, start, end, local, inside):
    assert freezes.in_weekly(days, start, end, local) is inside


POLICY = """
version: 1
account: {name: prod, id: "333344445555", environment: prod}
freezes:
  - {name: weekend, environments: [prod], timezone: Europe/Berlin,
     weekly: {days: [sat, sun], from: "00:00", to: "23:59"}}
  - {name: black-friday, environments: [prod], timezone: America/New_York,
     dates: {from: "2026-11-27T00:00:00", to: "2026-11-30T00:00:00"}}
"""


def test_active_freezes_in_their_own_time_zones():
    policy = parse(POLICY)
    # Friday 23:30 UTC is already Saturday 00:30 in Berlin (weekend), and Friday evening in New York
    names = [f.name for f in freezes.active(policy, "prod", datetime(2026, 11, 27, 23, 30, tzinfo=UTC))]
    assert names == ["weekend", "black-friday"]
    # Friday 22:00 UTC is still Friday in Berlin: only the New York dates apply
    assert [f.name for f in freezes.active(policy, "prod", datetime(2026, 11, 27, 22, 0, tzinfo=UTC))] == [
        "black-friday"]
    at = datetime(2026, 11, 28, 0, 30, tzinfo=BERLIN)
    assert [f.name for f in freezes.active(policy, "prod", at)] == ["weekend", "black-friday"]
    assert freezes.active(policy, "stage", at) == []
    assert freezes.active(policy, "prod", datetime(2026, 12, 2, 12, 0, tzinfo=UTC)) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        freezes.active(policy, "prod", datetime(2026, 11, 28, 12, 0))


WEEKLY = """
version: 1
account: {name: prod, id: "333344445555", environment: prod}
freezes:
  - {name: weekend, environments: [prod], timezone: Europe/Berlin,
     weekly: {days: [sat, sun], from: "00:00", to: "24:00"}}
  - {name: nights, environments: [prod], timezone: UTC, weekly: {days: [fri], from: "18:00", to: "06:00"}}
  - {name: lunch, environments: [prod], timezone: UTC, weekly: {days: [mon], from: "12:00", to: "13:00"}}
  - {name: sale, environments: [prod], timezone: America/New_York,
     dates: {from: "2026-11-27T00:00:00", to: "2026-11-30T00:00:00"}}
"""


@pytest.mark.parametrize(("name", "at", "end"), [
    # back-to-back days are one freeze: Saturday morning in Berlin lifts on Monday 00:00 Berlin
    ("weekend", datetime(2026, 11, 28, 9, 0, tzinfo=BERLIN), datetime(2026, 11, 30, 0, 0, tzinfo=BERLIN)),
    ("nights", datetime(2026, 11, 27, 20, 0, tzinfo=UTC), datetime(2026, 11, 28, 6, 0, tzinfo=UTC)),  # evening
    ("nights", datetime(2026, 11, 28, 3, 0, tzinfo=UTC), datetime(2026, 11, 28, 6, 0, tzinfo=UTC)),  # morning
    ("lunch", datetime(2026, 11, 23, 12, 30, tzinfo=UTC), datetime(2026, 11, 23, 13, 0, tzinfo=UTC)),
    ("lunch", datetime(2026, 11, 23, 13, 0, tzinfo=UTC), None),  # not in force: nothing to wait for
    ("sale", datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
     datetime(2026, 11, 30, 0, 0, tzinfo=ZoneInfo("America/New_York"))),
])
def test_when_a_freeze_lifts(name, at, end):
    freeze = next(f for f in parse(WEEKLY).freezes if f.name == name)
    found = freezes.ends(freeze, at)
    assert found == end
    if found is not None:
        assert not freezes.in_window(freeze, found) and freezes.in_window(freeze, found - timedelta(seconds=1))
