"""Durations and UTC times as Switchboard reads and writes them: one parser and one format of each.

- A **duration** is a whole number and a unit, ``s``, ``m``, ``h`` or ``d`` (``30s``, ``10m``, ``2h``, ``1d``): the
  policy's ``Duration`` (``policy/types.py`` takes its pattern from here). ``seconds`` and ``duration`` read one;
  ``duration_text`` writes one back in its largest whole unit. In ``/ops`` commands people may also combine units
  (``1h30m``): ``typed_seconds`` reads those (``commandline.duration`` adds the commands' limits).
- A **stamp** is fixed-width UTC text (``2026-12-06T09:30:00.000000Z``): in sort keys, index keys and conditions,
  comparing two stamps as strings compares the times. ``state/keys.py`` names ``stamp`` and ``parse_stamp`` too,
  beside the test for a lost conditional write that every store imports with them.
- What people read: ``shown`` (``2026-12-06 09:30 UTC``).
- ``parse_iso`` reads ISO 8601 text as AWS and browsers write it, ``Z`` included.

This module imports nothing of Switchboard's, so every package can use it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

DURATION_PATTERN = r"^[0-9]+[smhd]$"
_DURATION = re.compile(DURATION_PATTERN)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
SHOWN = "%Y-%m-%d %H:%M UTC"


def seconds(text: str) -> int:
    """``30s``, ``10m``, ``2h``, ``1d`` in seconds; ``ValueError`` naming the text for anything else."""
    if not isinstance(text, str) or not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration: a whole number then s, m, h or d (30s, 10m, 2h, 1d)")
    return int(text[:-1]) * _UNITS[text[-1]]


def duration(text: str) -> timedelta:
    """``seconds(text)`` as a ``timedelta``."""
    return timedelta(seconds=seconds(text))


# as people type one in a command: units largest first, each at most once (``1h30m``, ``2d``, ``45s``)
_TYPED = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_TYPED_UNITS = (86_400, 3_600, 60, 1)


class DurationTooLong(ValueError):
    """A typed duration with more digits than any sensible limit (``int()`` of them would be the cost)."""


def typed_seconds(text: str, max_digits: int = 9) -> int:
    """A duration typed in a command (``1h30m``, ``2d``, ``45s``, the policy's forms too) in seconds; ``ValueError``
    for anything else, ``DurationTooLong`` when a part has more than ``max_digits`` digits."""
    match = _TYPED.fullmatch(text) if isinstance(text, str) and text else None
    if match is None:
        raise ValueError(f"{text!r} is not a duration: e.g. 30m, 2h, 1d, 1h30m")
    parts = [g or "0" for g in match.groups()]
    if any(len(g.lstrip("0")) > max_digits for g in parts):
        raise DurationTooLong(f"{text!r} has too many digits")
    return sum(int(g) * unit for g, unit in zip(parts, _TYPED_UNITS, strict=True))


def duration_text(delta: timedelta) -> str:
    """A whole number of seconds as a duration in its largest whole unit (``timedelta(minutes=90)`` → ``90m``)."""
    total = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total and total % size == 0:
            return f"{total // size}{unit}"
    return f"{total}s"


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime(STAMP)


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, STAMP).replace(tzinfo=UTC)


def shown(at: datetime) -> str:
    """``2026-12-06 09:30 UTC`` (a naive time is taken as UTC already)."""
    return (at.astimezone(UTC) if at.tzinfo else at).strftime(SHOWN)


def parse_iso(text: str) -> datetime:
    """ISO 8601 text, a trailing ``Z`` read as UTC; ``ValueError`` if it is not a time."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
