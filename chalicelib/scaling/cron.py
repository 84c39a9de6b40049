"""Cron expressions in a time zone: when does a schedule fire between two instants? Pure, no I/O.

Five fields, as in crontab(5): ``minute hour day-of-month month day-of-week``, each ``*``, a value, a range
``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n``, or a comma-separated list of those; month and day names (``jan``,
``mon-fri``) are accepted, and day-of-week 0 and 7 are both Sunday. As in Vixie cron, when both day fields are
restricted a day matching either fires. ``@hourly``, ``@daily``, ``@weekly``, ``@monthly`` and ``@yearly`` too.

Wall-clock times are read in the schedule's IANA time zone, and daylight saving time is handled as cron does:

- a time that does not exist (Europe/Berlin springs from 02:00 to 03:00) fires once, at the moment the clocks jump;
- a time that happens twice (Europe/Berlin falls back from 03:00 to 02:00) fires once, the first time.

Written here rather than taken from croniter because the policy is validated at every cold start and importing
croniter costs about 35 ms there; the tests check this parser against croniter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MINUTE = timedelta(minutes=1)
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
           "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
# (name, lowest, highest, names)
_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day-of-month", 1, 31, {}), ("month", 1, 12, _MONTHS),
           ("day-of-week", 0, 7, _DAYS))


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day-of-month is '*'
    any_weekday: bool  # day-of-week is '*'

    def matches(self, wall: datetime) -> bool:
        """Does the cron fire at this wall-clock minute (a naive or aware datetime, read as shown)?"""
        if wall.minute not in self.minutes or wall.hour not in self.hours or wall.month not in self.months:
            return False
        day_ok = wall.day in self.days
        weekday_ok = (wall.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return day_ok and weekday_ok
        return day_ok or weekday_ok


def _value(token: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    token = token.lower()
    if token in names:
        return names[token]
    if not token.isdigit():
        raise CronError(f"{field}: '{token}' is not a number" + (" or a name" if names else ""))
    value = int(token)
    if not low <= value <= high:
        raise CronError(f"{field}: {value} is outside {low}-{high}")
    return value


def _field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{field}: empty list item")
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field}: step '{step_text}' is not a positive number")
            step = int(step_text)
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, stop = _value(first, field, low, high, names), _value(last, field, low, high, names)
            if stop < start:
                raise CronError(f"{field}: range '{base}' runs backwards")
        else:
            start = _value(base, field, low, high, names)
            stop = high if step_text else start
        values.update(range(start, stop + 1, step))
    return frozenset(values)


def parse(text: str) -> Cron:
    expanded = _MACROS.get(text.strip().lower(), text)
    parts = expanded.split()
    if len(parts) != 5:
        raise CronError(f"a cron has 5 fields (minute hour day-of-month month day-of-week), not {len(parts)}")
    sets = [_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    return Cron(text, sets[0], sets[1], sets[2], sets[3], weekdays, parts[2].startswith("*"),
                parts[4].startswith("*"))


def fire_times(cron: Cron, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The UTC instants in (start, end] at which ``cron`` fires in time zone ``tz`` (both bounds timezone-aware)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("fire times are computed between timezone-aware instants")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    minute = start.replace(second=0, microsecond=0) + MINUTE
    fires: list[datetime] = []
    before = (minute - MINUTE).astimezone(tz)
    while minute <= end:
        wall = minute.astimezone(tz)
        fires_now = wall.fold == 0 and cron.matches(wall)
        if not fires_now and wall.utcoffset() > before.utcoffset():  # the clocks jumped forward just now
            skipped = before.replace(tzinfo=None) + MINUTE
            while skipped < wall.replace(tzinfo=None) and not fires_now:
                fires_now = cron.matches(skipped)
                skipped += MINUTE
        if fires_now:
            fires.append(minute)
        before = wall
        minute += MINUTE
    return fires
