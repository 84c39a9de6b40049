"""Approvals bound to the requests that asked for them, in the account that asked.

A capability never acts on what an approval result says it should do. Before it asks (``approvals.ask(subject=…)``
calls ``open_request``), the request is stored here, in this account: a random nonce, the *subject* (exactly what
would be done: scaling's request, rotation's secret, promotion's id and revision) and who may decide it (environment,
role, N, group, four eyes, requester, author). Only ``{id, nonce, digest of the subject}`` travels to the front door,
which echoes it in its result.

The capability's decision handler is wrapped by ``@bound(capability)``. A result acts only if (``check.py``):
it came from the front door this policy names; it names a request this account is waiting for (pending, not past
``valid_until``), with the same nonce and subject digest; and its approvers, re-checked with THIS policy (role in the
environment, group, four eyes, N distinct), are enough. Then the request is marked ``decided`` by a conditional
update (commit), the handler runs with the *stored* subject (execute), and the request is marked ``done``.
Anything else is refused: audited ``rejected`` with the reason (target ``decision/<id>``), counted
(``DecisionResultsRejected``), and nothing changes.

    ticket = pending.open_request(capability="scaling", subject={"request": {...}}, environment="prod", ...)

    @capabilities.on_decision(Capability.SCALING)
    @pending.bound(Capability.SCALING)
    def decided(settled: pending.Settled) -> None:
        request = Request.from_dict(settled.subject["request"])   # the stored subject
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.decisions.store import DECISION_ID
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.pending.check import Answer, Waiting, check
from chalicelib.pending.models import PendingRequest
from chalicelib.policy import loader as policies
from chalicelib.state import audit
from chalicelib.state.keys import conditional_failed, stamp

LIFETIME = timedelta(days=7)  # a request without a deadline waits this long (the front door keeps decisions a week)
GRACE = timedelta(days=1)  # a request with a deadline: the verdict (even "expired") may arrive this long after it
KEEP = timedelta(days=30)  # after valid_until, kept this long so a late replay finds "already decided"

__all__ = ["Settled", "bound", "digest", "get", "open_request", "settle"]


def digest(subject: Any) -> str:
    """sha256 of the subject's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(subject, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _key(request_id: str) -> tuple[str, str]:
    return f"pending#{request_id}", "request"


def get(request_id: str) -> PendingRequest | None:
    try:
        return PendingRequest.get(*_key(request_id), consistent_read=True)
    except PendingRequest.DoesNotExist:
        return None


def open_request(*, capability: str, subject: dict[str, Any], environment: str, role: str, requester: str,
                 correlation_id: str, author: str | None = None, required: int = 1, group: str | None = None,
                 four_eyes: bool | None = None, deadline: datetime | None = None, request_id: str | None = None,
                 now: datetime | None = None) -> dict[str, str]:
    """Store the request this account is about to ask about; returns the ticket that travels with it:
    ``{"id", "nonce", "digest"}``. ``request_id`` (a decision id chosen by the caller) makes asking again
    idempotent: the same subject gets the same ticket back; another subject under that id is a ValueError."""
    if not isinstance(subject, dict) or not subject:
        raise ValueError("subject must be a non-empty dict: what exactly would be done")
    now = now or datetime.now(UTC)
    request_id = request_id or f"{capability[:3]}-{secrets.token_hex(8)}"
    if not DECISION_ID.match(request_id):
        raise ValueError(f"request id {request_id!r} must match {DECISION_ID.pattern}")
    valid_until = deadline + GRACE if deadline is not None else now + LIFETIME
    item = PendingRequest(*_key(request_id), id=request_id, nonce=secrets.token_urlsafe(24), capability=capability,
                          subject=subject, digest=digest(subject), environment=environment, role=str(role),
                          required=required, group=group, four_eyes=bool(four_eyes), requester=requester,
                          author=author, deadline=stamp(deadline) if deadline is not None else None,
                          valid_until=stamp(valid_until), correlation_id=correlation_id, created_at=stamp(now),
                          state="pending", expires_at=valid_until + KEEP)
    try:
        item.save(condition=PendingRequest.pk.does_not_exist())
    except PutError as exc:
        if not conditional_failed(exc):
            raise
        existing = get(request_id)
        if existing is None or existing.digest != item.digest or existing.capability != capability:
            raise ValueError(f"request {request_id} is already open for another subject") from exc
        item = existing  # asked again (a retry): the same ticket
    return {"id": item.id, "nonce": item.nonce, "digest": item.digest}


@dataclass(frozen=True)
class Settled:
    """A verified verdict, with what this account stored when it asked."""

    request_id: str
    decision_id: str
    capability: str
    verdict: str  # approved | rejected | expired
    subject: dict[str, Any]  # the STORED subject
    approvers: tuple[str, ...]  # those that count here (approved), in order
    decided_by: str  # the last approver, the rejecter, or "system" (expired)
    reason: str | None  # the rejecter's reason
    requester: str
    environment: str
    correlation_id: str


def _waiting(item: PendingRequest) -> Waiting:
    return Waiting(id=item.id, nonce=item.nonce, capability=item.capability, digest=item.digest,
                   environment=item.environment, role=item.role, required=int(item.required),
                   requester=item.requester, valid_until=item.valid_until, state=item.state, group=item.group,
                   four_eyes=bool(item.four_eyes), author=item.author, deadline=item.deadline,
                   decision_id=item.decision_id, verdict=item.verdict)


def _answer(result: dict[str, Any]) -> Answer:
    ticket = result.get("pending") if isinstance(result.get("pending"), dict) else {}
    groups = result.get("groups") if isinstance(result.get("groups"), dict) else {}
    approvals = result.get("approvals") if isinstance(result.get("approvals"), list) else []
    text = lambda v: v if isinstance(v, str) else None  # noqa: E731 - a field is a string or absent
    return Answer(decision_id=str(result.get("id") or "?"), capability=str(result.get("capability") or "?"),
                  verdict=str(result.get("verdict") or "?"), environment=str(result.get("environment") or "?"),
                  decided_by=str(result.get("decided_by") or "?"), request_id=text(ticket.get("id")),
                  nonce=text(ticket.get("nonce")), digest=text(ticket.get("digest")),
                  approvals=[str(a) for a in approvals],
                  groups={str(u): [str(g) for g in gs] for u, gs in groups.items() if isinstance(gs, list)})


def settle(result: dict[str, Any], act: Callable[[Settled], None], *, capability: str,
           now: datetime | None = None) -> str | None:
    """Check ``result`` (``from_account``: who sent it, set by whoever delivered it), commit, run ``act`` with the
    stored subject, mark the request done. Returns None when it acted, else the reason it was refused (audited)."""
    now = now or datetime.now(UTC)
    current = policies.current()
    answer = _answer(result)
    sender = result.get("from_account")
    item = get(answer.request_id) if answer.request_id and DECISION_ID.match(answer.request_id) else None
    verdict = check(_waiting(item) if item else None, answer, sender=sender, policy=current, now=now)
    if verdict.ok and item is not None and not verdict.resume:
        try:  # commit: of two results, one moves the request out of pending
            item.update(actions=[PendingRequest.state.set("decided"),
                                 PendingRequest.decision_id.set(answer.decision_id),
                                 PendingRequest.verdict.set(answer.verdict),
                                 PendingRequest.approvers.set(list(verdict.approvers)),
                                 PendingRequest.decided_by.set(answer.decided_by),
                                 PendingRequest.settled_at.set(stamp(now))],
                        condition=(PendingRequest.state == "pending") & (PendingRequest.nonce == item.nonce))
        except UpdateError as exc:
            if not conditional_failed(exc):
                raise
            item.refresh(consistent_read=True)
            verdict = check(_waiting(item), answer, sender=sender, policy=current, now=now)
    if not verdict.ok or item is None:
        _refused(answer, capability, verdict.reason, sender)
        return verdict.reason
    act(Settled(request_id=item.id, decision_id=answer.decision_id, capability=item.capability,
                verdict=answer.verdict, subject=dict(item.subject), approvers=verdict.approvers,
                decided_by=answer.decided_by, reason=result.get("reason") if isinstance(result.get("reason"), str)
                else None, requester=item.requester, environment=item.environment,
                correlation_id=item.correlation_id))
    try:
        item.update(actions=[PendingRequest.state.set("done")], condition=PendingRequest.state == "decided")
    except UpdateError as exc:  # done by a concurrent redelivery of the same result: nothing to add
        if not conditional_failed(exc):
            raise
    return None


def _refused(answer: Answer, capability: str, reason: str, sender: Any) -> None:
    logger.warning("approval result refused", extra={"reason": reason, "decision": answer.decision_id})
    metrics.add_metric(name="DecisionResultsRejected", unit=MetricUnit.Count, value=1)
    audit.record(action=f"{capability}.decision", target=f"decision/{answer.decision_id}",
                 outcome=audit.Outcome.REJECTED, correlation_id=f"decision:{answer.decision_id}",
                 capability=capability, reason=reason,
                 detail={"from": str(sender), "request": answer.request_id, "verdict": answer.verdict,
                         "decided_by": answer.decided_by, "approvals": list(answer.approvals)})


def bound(capability: Any) -> Callable[[Callable[[Settled], None]], Callable[[dict[str, Any]], str | None]]:
    """Wrap a capability's decision handler: it gets a ``Settled`` (verified, stored subject) or is not called."""
    def wrap(act: Callable[[Settled], None]) -> Callable[[dict[str, Any]], str | None]:
        def handler(result: dict[str, Any]) -> str | None:
            return settle(result, act, capability=str(capability))

        handler.__wrapped__ = act  # type: ignore[attr-defined]
        handler.__doc__ = act.__doc__
        return handler
    return wrap
