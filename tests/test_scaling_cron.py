"""Cron in a time zone: the parser (checked against croniter), and fire times across Europe/Berlin's DST changes
(2026: spring forward on 29 March at 02:00 CET, fall back on 25 October at 03:00 CEST)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from chalicelib.scaling.cron import CronError, fire_times, parse

BERLIN = ZoneInfo("Europe/Berlin")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fires(expr: str, start: str, end: str, tz: ZoneInfo = BERLIN) -> list[str]:
    return [f.strftime("%Y-%m-%dT%H:%MZ") for f in fire_times(parse(expr), tz, utc(start), utc(end))]


@pytest.mark.parametrize(("expr", "message"), [
    ("0 20 * *", "a cron has 5 fields (minute hour day-of-month month day-of-week), not 4"),
    ("0 20 * * * *", "not 6"),
    ("60 * * * *", "minute: 60 is outside 0-59"),
    ("0 24 * * *", "hour: 24 is outside 0-23"),
    ("0 0 0 * *", "day-of-month: 0 is outside 1-31"),
    ("0 0 * 13 *", "month: 13 is outside 1-12"),
    ("0 0 * * 8", "day-of-week: 8 is outside 0-7"),
    ("*/0 * * * *", "minute: step '0' is not a positive number"),
    ("*/x * * * *", "minute: step 'x' is not a positive number"),
    ("0 20-8 * * *", "hour: range '20-8' runs backwards"),
    ("0 0 * * funday", "day-of-week: 'funday' is not a number or a name"),
    ("0 0 * * mon,,fri", "day-of-week: empty list item"),
    ("a b c d e", "minute: 'a' is not a number"),
    ("", "not 0"),
])
def test_bad_crons_say_why(expr, message):
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(expr)


@pytest.mark.parametrize("expr", [
    "0 20 * * mon-fri", "0 7 * * 1-5", "*/15 * * * *", "5,35 */2 * * *", "0 0 1 * *", "0 12 * jan,jul mon",
    "30 6 1-7 * 1", "0 0 * * 0", "0 0 * * 7", "10-50/20 3 * * *", "0 9 13 * fri", "@daily", "@hourly", "@weekly",
    "0 22 * * sat,sun", "7 7 7 7 *",
])
def test_fire_times_agree_with_croniter_in_utc(expr):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=40)
    mine = fire_times(parse(expr), ZoneInfo("UTC"), start, end)
    it = croniter(expr, start)
    theirs = []
    while True:
        at = it.get_next(datetime)
        if at > end:
            break
        theirs.append(at)
    assert mine == theirs


def test_weekday_evening_across_spring_forward():
    # Fri 27 March 20:00 CET = 19:00Z; Mon 30 March 20:00 CEST = 18:00Z
    assert fires("0 20 * * mon-fri", "2026-03-27T00:00", "2026-03-31T00:00") == [
        "2026-03-27T19:00Z", "2026-03-30T18:00Z"]


def test_morning_across_fall_back():
    # Sat 24 Oct 07:00 CEST = 05:00Z; Sun 25 Oct 07:00 CET = 06:00Z
    assert fires("0 7 * * *", "2026-10-24T00:00", "2026-10-26T00:00") == ["2026-10-24T05:00Z", "2026-10-25T06:00Z"]


@pytest.mark.parametrize("expr", ["0 2 * * *", "30 2 * * *", "59 2 * * *"])
def test_a_time_that_does_not_exist_fires_once_when_the_clocks_jump(expr):
    # 29 March: 02:00 CET is followed by 03:00 CEST (01:00Z); every 02:xx fires at the jump, once
    assert fires(expr, "2026-03-29T00:00", "2026-03-29T12:00") == ["2026-03-29T01:00Z"]
    assert fires(expr, "2026-03-28T00:00", "2026-03-28T12:00") == [f"2026-03-28T01:{expr.split()[0].zfill(2)}Z"]


def test_a_time_that_happens_twice_fires_once_the_first_time():
    # 25 October: 02:30 CEST (00:30Z) and 02:30 CET (01:30Z): only the first
    assert fires("30 2 * * *", "2026-10-24T12:00", "2026-10-25T12:00") == ["2026-10-25T00:30Z"]
    assert fires("*/30 * * * *", "2026-10-24T23:59", "2026-10-25T02:00") == [
        "2026-10-25T00:00Z", "2026-10-25T00:30Z", "2026-10-25T02:00Z"]


def test_every_minute_during_spring_forward_has_no_gap_or_double():
    got = fires("* * * * *", "2026-03-29T00:58", "2026-03-29T01:02")
    assert got == ["2026-03-29T00:59Z", "2026-03-29T01:00Z", "2026-03-29T01:01Z", "2026-03-29T01:02Z"]


def test_other_zones():
    new_york = ZoneInfo("America/New_York")  # spring forward 8 March 2026 at 02:00 EST
    assert fires("30 2 * * *", "2026-03-08T00:00", "2026-03-09T00:00", new_york) == ["2026-03-08T07:00Z"]
    assert fires("0 9 * * *", "2026-03-09T00:00", "2026-03-10T00:00", new_york) == ["2026-03-09T13:00Z"]


def test_the_window_is_open_at_the_start_and_closed_at_the_end():
    assert fires("0 20 * * *", "2026-11-23T19:00", "2026-11-23T19:00") == []
    assert fires("0 20 * * *", "2026-11-23T18:59", "2026-11-23T19:00") == ["2026-11-23T19:00Z"]
    assert fires("0 20 * * *", "2026-11-23T19:00", "2026-11-23T19:01") == []
    with pytest.raises(ValueError, match="timezone-aware"):
        fire_times(parse("* * * * *"), BERLIN, datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_both_day_fields_restricted_match_either_like_vixie_cron():
    cron = parse("0 12 13 * fri")
    assert cron.matches(datetime(2026, 11, 13, 12, 0))  # a Friday the 13th
    assert cron.matches(datetime(2026, 11, 20, 12, 0))  # any Friday
    assert cron.matches(datetime(2026, 10, 13, 12, 0))  # any 13th
    assert not cron.matches(datetime(2026, 11, 19, 12, 0))
