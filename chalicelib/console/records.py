"""Feed records: what one account tells the front door's console about one entity, as plain data.

A record names an entity (``kind``, ``id``) of one account (``account``, ``environment``) at one ``version``.
Versions only grow for one entity (a promotion's or incident's stored version; otherwise the change's time in
microseconds), so the read model can keep the highest it has seen and drop older or repeated records.
The ``summary_*`` functions build records from each capability's own objects; they are pure.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from chalicelib.console.exceptions import BadRecord
from chalicelib.state.keys import parse_stamp
from chalicelib.timefmt import parse_iso

MAX_SUMMARY_BYTES = 6000  # a record is small: a batch of them (feed.MAX_BATCH) fits one EventBridge event


class Kind(StrEnum):
    PROMOTION = "promotion"  # one promotion, as the account that holds this copy sees it
    CURRENT = "current"  # what revision of an app runs in an environment
    INCIDENT = "incident"  # one alert group's incident (its timeline in the summary)
    SILENCE = "silence"
    SCALING = "scaling"  # a target's capacity after a change Switchboard made (history: the plot)
    ROTATION = "rotation"  # a secret: last rotation result, next due date
    FINDING = "finding"  # a watch finding about a secret
    AUDIT = "audit"  # one audit entry, summarised (history only)


# Where each kind's latest versions live (one partition per page part: see store.py)
SHELF = {Kind.PROMOTION: "promotion", Kind.CURRENT: "current", Kind.INCIDENT: "incident", Kind.SILENCE: "silence",
         Kind.SCALING: "scaling", Kind.ROTATION: "secret", Kind.FINDING: "secret", Kind.AUDIT: ""}
HISTORY_ONLY = {Kind.AUDIT}


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    id: str = Field(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f]+$")
    version: int = Field(ge=0)
    account: str = Field(min_length=1, max_length=64)
    environment: str = Field(min_length=1, max_length=64)
    at: AwareDatetime
    summary: dict[str, Any] = Field(default_factory=dict)

    @field_validator("summary")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, default=str))
        if size > MAX_SUMMARY_BYTES:
            raise ValueError(f"summary is {size} bytes, more than {MAX_SUMMARY_BYTES}")
        return value


def parse(data: Any) -> Record:
    try:
        return Record.model_validate(data)
    except ValueError as exc:
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
        raise BadRecord(f"bad feed record: {'.'.join(map(str, first['loc'])) or 'record'}: {first['msg']}") from None


def micros(at: datetime) -> int:
    """A version from a time: microseconds since the epoch (monotonic for one entity's changes)."""
    return int(at.astimezone(UTC).timestamp() * 1_000_000)


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``, microseconds only when there are some (``isoformat``'s): the records' wire format,
    kept as it is, so not ``timefmt.stamp`` (fixed width, always six digits)."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _short(text: str | None, limit: int = 200) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- builders: one per kind, from each capability's own objects (plain attribute reads) ----

ACTIVE_PROMOTION = {"pending", "soaking", "awaiting_approval", "approved", "deploying", "verifying", "held"}


def promotion(p: Any, version: int, *, account: str, environment: str) -> Record:
    gates = [{"name": str(g.get("name", "")), "status": str(g.get("status", "")),
              "reason": _short(str(g.get("reason", "")), 160)} for g in (p.gates or p.source_gates or [])][:12]
    steps = [{"dst": s.dst, "at": _iso(s.at), "by": s.by} for s in p.history][-12:]
    return Record(kind=Kind.PROMOTION, id=p.id, version=version, account=account, environment=environment,
                  at=p.updated_at, summary={
                      "app": p.app, "source_env": p.source_env, "target_env": p.target_env, "side": p.side,
                      "state": str(p.state), "active": str(p.state) in ACTIVE_PROMOTION,
                      "revision": p.revision.short, "message": _short(p.revision.summary, 120),
                      "author": p.revision.author, "committed_at": _iso(p.revision.committed_at),
                      "requester": p.requester, "created_at": _iso(p.created_at),
                      "promoted_at": _iso(p.promoted_at), "failed_at": _iso(p.failed_at),
                      "restored_at": _iso(p.restored_at), "failure": _short(p.failure, 160),
                      "gates": gates, "steps": steps})


def current(app: str, env: str, revision: Any, promotion_id: str, at: datetime, *, account: str) -> Record:
    return Record(kind=Kind.CURRENT, id=app, version=micros(at), account=account, environment=env, at=at,
                  summary={"app": app, "revision": revision.short, "message": _short(revision.summary, 120),
                           "promotion": promotion_id})


def incident(inc: Any, version: int, *, account: str) -> Record:
    alerts = [{"alarm": a.labels.get("alarm", a.name), "state": a.state, "muted": inc.notified_muted.get(key)}
              for key, a in list(inc.alerts.items())[:20]]
    timeline = [("opened", inc.opened_at, None), ("notified", inc.first_notified_at, inc.receiver)]
    timeline += [("escalated", _parse(e.get("at")), e.get("receiver")) for e in inc.escalations[:5]]
    timeline += [("acked", inc.acked_at, inc.acked_by), ("resolved", inc.closed_at, None)]
    at = max(t for _, t, _ in timeline if t is not None)
    return Record(kind=Kind.INCIDENT, id=inc.id, version=version, account=account, environment=inc.environment,
                  at=at, summary={
                      "group": _short(inc.group_key, 200), "route": inc.route, "receiver": inc.receiver,
                      "labels": dict(list(inc.group_labels.items())[:10]), "open": inc.closed_at is None,
                      "opened_at": _iso(inc.opened_at), "alerts": alerts,
                      "timeline": [{"what": w, "at": _iso(t), "who": who} for w, t, who in timeline if t]})


def _parse(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return text
    try:
        return parse_iso(str(text))
    except ValueError:
        return None


def silence(s: Any, *, account: str, environment: str, ended: bool = False, muting: int | None = None) -> Record:
    return Record(kind=Kind.SILENCE, id=s.id, version=2 if ended else 1, account=account, environment=environment,
                  at=s.starts_at, summary={
                      "matchers": [m.as_text() for m in s.matchers], "author": s.author,
                      "reason": _short(s.reason, 300), "starts_at": _iso(s.starts_at), "ends_at": _iso(s.ends_at),
                      "ended_by": s.ended_by, "muting": muting})


def scaling(target: str, at: datetime, before: int, after: int, origin: str, *, floor: int | None,
            ceiling: int | None, account: str, environment: str) -> Record:
    return Record(kind=Kind.SCALING, id=target, version=micros(at), account=account, environment=environment,
                  at=at, summary={"target": target, "before": before, "after": after, "origin": _short(origin, 120),
                                  "floor": floor, "ceiling": ceiling})


def rotation_result(secret: str, at: datetime, *, outcome: str, why: str | None, account: str,
                    environment: str) -> Record:
    """A rotation's outcome (RotationSucceeded, RotationFailed, RotationAbandoned)."""
    return Record(kind=Kind.ROTATION, id=f"{secret}#result", version=micros(at), account=account,
                  environment=environment, at=at, summary={"secret": secret, "outcome": outcome,
                                                           "why": _short(why, 200)})


def rotation_schedule(secret: str, at: datetime, *, enabled: bool, every_days: int | None,
                      last_rotated: datetime | None, created: datetime | None, account: str,
                      environment: str) -> Record:
    """What the daily watch saw of a secret: rotation on or off, last rotated, next due."""
    since = last_rotated or created
    due = since + timedelta(days=every_days) if since and every_days else None
    return Record(kind=Kind.ROTATION, id=secret, version=micros(at), account=account, environment=environment,
                  at=at, summary={"secret": secret, "enabled": enabled, "every_days": every_days,
                                  "last_rotated": _iso(last_rotated), "next_due": _iso(due)})


def finding(secret: str, code: str, message: str, at: datetime, *, account: str, environment: str) -> Record:
    return Record(kind=Kind.FINDING, id=f"{secret}#{code}", version=micros(at), account=account,
                  environment=environment, at=at, summary={"secret": secret, "code": code,
                                                           "message": _short(message, 300)})


def audit(entry: Any, *, environment: str) -> Record:
    at = parse_stamp(entry.at.split("#", 1)[0])
    return Record(kind=Kind.AUDIT, id=entry.at, version=1, account=entry.account, environment=environment, at=at,
                  summary={"target": _short(entry.target, 200), "action": entry.action,
                           "capability": entry.capability, "actor": entry.actor, "outcome": entry.outcome,
                           "reason": _short(entry.reason, 300)})
