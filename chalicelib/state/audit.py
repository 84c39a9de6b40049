"""The audit log API every capability uses.

``record()`` writes one immutable entry (conditional put: an entry is never overwritten); ``entry()`` builds one
for a transaction (chalicelib/state/effects.py: a transition's entry is committed with the state it records, then
``published``). Texts are sanitised first (``chalicelib.text``: a right-to-left override or a zero-width space
from a slash command, a commit message or an alarm is stored as ``[U+202E]``, never as the character that would
disguise the entry). Each written entry is summarised into the console's feed. Reads answer the three questions
operators ask: what happened to this target, what did this event cause, what happened on this day.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.settings import get_settings
from chalicelib.state.keys import stamp
from chalicelib.state.models import AuditEntry
from chalicelib.text import sanitise, sanitise_data

SYSTEM = "system"


class Outcome(StrEnum):
    RECEIVED = "received"  # an event reached a capability that does not act on it yet
    REJECTED = "rejected"  # malformed or unauthorised input; nothing was done
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"  # a guardrail or gate said no
    PLANNED = "planned"  # dry-run: what would have been done


def _stamp(now: datetime) -> str:
    return stamp(now) + "#" + secrets.token_hex(4)


def record(**kwargs: Any) -> AuditEntry:
    """Write one entry now (a conditional put: never overwritten)."""
    found = entry(**kwargs)
    found.save(condition=AuditEntry.target.does_not_exist())
    published(found)
    return found


def published(written: AuditEntry) -> None:
    """Tell the console's feed about an entry that has been written (by ``record`` or in a transaction)."""
    from chalicelib.console import feed, records  # the console's feed: imported on first use (cold start)

    feed.publish(feed.build(lambda: records.audit(written, environment=feed.here()["environment"])))


def entry(
    *,
    action: str,
    target: str,
    outcome: Outcome,
    correlation_id: str,
    capability: str,
    actor: str = SYSTEM,
    reason: str | None = None,
    before: Any = None,
    after: Any = None,
    detail: Any = None,
    now: datetime | None = None,
) -> AuditEntry:
    settings = get_settings()
    now = now or datetime.now(UTC)
    return AuditEntry(
        target=sanitise(target, newlines=False) if target else "-",
        at=_stamp(now),
        day=now.astimezone(UTC).strftime("%Y-%m-%d"),
        actor=sanitise(actor, newlines=False),
        action=action,
        capability=capability,
        outcome=str(outcome),
        correlation_id=sanitise(correlation_id, newlines=False),
        account=settings.account_name,
        reason=None if reason is None else sanitise(reason),
        before=sanitise_data(before),
        after=sanitise_data(after),
        detail=sanitise_data(detail),
        expires_at=now + timedelta(days=settings.audit_retention_days),
    )


def for_target(target: str, limit: int = 20) -> list[AuditEntry]:
    # the key as record() stored it (sanitised)
    return list(AuditEntry.query(sanitise(target, newlines=False), scan_index_forward=False, limit=limit))


def for_correlation(correlation_id: str) -> list[AuditEntry]:
    return list(AuditEntry.by_correlation.query(sanitise(correlation_id, newlines=False)))


def for_day(day: str, limit: int = 100) -> Iterator[AuditEntry]:
    return AuditEntry.by_day.query(day, scan_index_forward=False, limit=limit)


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    data = entry.attribute_values.copy()
    data.pop("expires_at", None)
    return data
