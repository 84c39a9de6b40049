"""One duration parser and one time format (chalicelib/timefmt.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib import timefmt
from chalicelib.policy.types import Duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("0s", 0), ("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("90m", 5400), ("007s", 7),
])
def test_a_duration_reads_in_seconds(text, seconds):
    assert timefmt.seconds(text) == seconds
    assert timefmt.duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "s", "5x", "-5s", "+5s", " 5s", "5s ", "1.5h", "5S", "1w", "5 m", 5])
def test_anything_else_is_refused_naming_the_text(text):
    with pytest.raises(ValueError, match=r"is not a duration: a whole number then s, m, h or d") as excinfo:
        timefmt.seconds(text)
    assert repr(text) in str(excinfo.value)


@pytest.mark.parametrize(("text", "valid"), [("30s", True), ("1d", True), ("5x", False), ("-5s", False)])
def test_the_policy_accepts_what_the_parser_reads(text, valid):
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(Duration)
    if valid:
        assert adapter.validate_python(text) == text and timefmt.seconds(text) >= 0
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(text)


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(0), "0s"), (timedelta(seconds=45), "45s"), (timedelta(seconds=90), "90s"),
    (timedelta(minutes=5), "5m"), (timedelta(minutes=90), "90m"), (timedelta(hours=4), "4h"),
    (timedelta(days=2), "2d"), (timedelta(hours=36), "36h"),
])
def test_a_duration_is_written_in_its_largest_whole_unit_and_reads_back(delta, text):
    assert timefmt.duration_text(delta) == text
    assert timefmt.duration(text) == delta


AT = datetime(2026, 12, 6, 9, 5, 7, 123456, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))


@pytest.mark.parametrize(("at", "stamp", "shown"), [
    (AT, "2026-12-06T09:05:07.123456Z", "2026-12-06 09:05 UTC"),
    (AT.astimezone(PARIS), "2026-12-06T09:05:07.123456Z", "2026-12-06 09:05 UTC"),  # always said in UTC
    (datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "2026-01-02T03:04:00.000000Z", "2026-01-02 03:04 UTC"),  # fixed width
    (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), "2026-12-31T23:59:59.000000Z", "2026-12-31 23:59 UTC"),
])
def test_a_time_is_stamped_for_storage_and_shown_to_people_in_utc(at, stamp, shown):
    assert timefmt.stamp(at) == stamp
    assert timefmt.parse_stamp(stamp) == at
    assert timefmt.shown(at) == shown


def test_stamps_sort_as_their_times_do():
    times = [AT + timedelta(microseconds=n) for n in (0, 1, 999_999, 10_000_000, 86_400_000_000)]
    assert sorted(timefmt.stamp(t) for t in reversed(times)) == [timefmt.stamp(t) for t in times]


def test_a_naive_time_is_shown_as_it_is():
    assert timefmt.shown(datetime(2026, 12, 6, 9, 5)) == "2026-12-06 09:05 UTC"


@pytest.mark.parametrize(("text", "at"), [
    ("2026-12-06T09:05:07Z", datetime(2026, 12, 6, 9, 5, 7, tzinfo=UTC)),
    ("2026-12-06T09:05:07.123456Z", AT),
    ("2026-12-06T10:05:07.123456+01:00", AT),
    ("2026-12-06T09:05:07.123456+00:00", AT),
])
def test_iso_text_is_read_with_or_without_z(text, at):
    assert timefmt.parse_iso(text) == at


def test_text_that_is_no_time_is_refused():
    with pytest.raises(ValueError):
        timefmt.parse_iso("yesterday")


@pytest.mark.parametrize(("text", "seconds"), [
    ("45s", 45), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("1d2h3m4s", 93784), ("0m", 0),
])
def test_a_typed_duration_may_combine_units_largest_first(text, seconds):
    assert timefmt.typed_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "m", "30m1h", "1h1h", "1.5h", "-1h", " 1h", "1w", None])
def test_what_is_no_typed_duration_is_refused(text):
    with pytest.raises(ValueError, match="is not a duration"):
        timefmt.typed_seconds(text)


def test_a_typed_duration_with_too_many_digits_is_refused_before_it_is_counted():
    with pytest.raises(timefmt.DurationTooLong):
        timefmt.typed_seconds("1" * 10 + "s")
    assert timefmt.typed_seconds("0" * 20 + "5s") == 5
