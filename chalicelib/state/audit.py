"""The audit log API every capability uses.

``record()`` writes one immutable entry (conditional put: an entry is never overwritten); ``entry()`` builds one
for a transaction (chalicelib/state/effects.py: a transition's entry is committed with the state it records).
Reads answer the three questions operators ask: what happened to this target, what did this event cause, what
happened on this day.
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
    return found


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
        target=target or "-",
        at=_stamp(now),
        day=now.astimezone(UTC).strftime("%Y-%m-%d"),
        actor=actor,
        action=action,
        capability=capability,
        outcome=str(outcome),
        correlation_id=correlation_id,
        account=settings.account_name,
        reason=reason,
        before=before,
        after=after,
        detail=detail,
        expires_at=now + timedelta(days=settings.audit_retention_days),
    )


def for_target(target: str, limit: int = 20) -> list[AuditEntry]:
    return list(AuditEntry.query(target, scan_index_forward=False, limit=limit))


def for_correlation(correlation_id: str) -> list[AuditEntry]:
    return list(AuditEntry.by_correlation.query(correlation_id))


def for_day(day: str, limit: int = 100) -> Iterator[AuditEntry]:
    return AuditEntry.by_day.query(day, scan_index_forward=False, limit=limit)


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    data = entry.attribute_values.copy()
    data.pop("expires_at", None)
    return data
