"""The one clock of the alerts capability: tests (and the local world's fast-forward) replace ``now``."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.state.keys import stamp


def now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    """Fixed-width, sortable UTC text (used in sort keys: comparisons of these strings are comparisons of times)."""
    return stamp(at)
