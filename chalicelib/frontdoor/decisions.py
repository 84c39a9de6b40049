"""Approvals asked for in Slack: a card with Approve / Reject, decided once, by someone allowed to.

A capability (promotion, scaling…) calls ``request()``; the card goes to the channel; a click (or ``/ops approve
<id>``) goes through ``decide()``: authorised like a command (role in the decision's environment, four eyes
where policy demands), then a conditional update from ``pending`` so that the first decision wins and a second
click changes nothing and is told who decided and when.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib import policy as policies
from chalicelib.frontdoor import blocks, mrkdwn, rbac, slack
from chalicelib.frontdoor.models import Decision
from chalicelib.policy.schema import Role
from chalicelib.state import audit

LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class Outcome:
    changed: bool  # did this call decide it?
    message: str  # what to tell the person who clicked
    decision: dict[str, Any] | None


def _key(decision_id: str) -> tuple[str, str]:
    return f"decision#{decision_id}", "decision"


def get(decision_id: str) -> Decision | None:
    try:
        return Decision.get(*_key(decision_id))
    except Decision.DoesNotExist:
        return None


def request(*, capability: str, title: str, summary: str, environment: str, requester: str,
            author: str | None = None, channel: str, role: Role | str = Role.APPROVER, payload: Any = None,
            correlation_id: str, origin: str | None = None, now: datetime | None = None) -> Decision:
    """Record a pending decision and post its card. The id is short enough to type: ``/ops approve <id>``."""
    now = now or datetime.now(UTC)
    decision_id = f"{capability[:3]}-{secrets.token_hex(3)}"
    item = Decision(*_key(decision_id), id=decision_id, capability=capability, title=title, summary=summary,
                    environment=environment, role=str(Role(role)), requester=requester, author=author,
                    channel=channel, state="pending", payload=payload, origin=origin or policies.current().account.name,
                    created_at=now.isoformat(), expires_at=now + LIFETIME)
    try:
        item.save(condition=Decision.pk.does_not_exist())
    except PutError as exc:  # 16.7 million ids per capability; a clash is retried by the caller's retry
        raise RuntimeError(f"decision id {decision_id} already exists") from exc
    answer = slack.web().chat_postMessage(channel=channel, text=f"Approval needed: {mrkdwn.safe(title, 300)}",
                                          blocks=blocks.decision_card(item.as_dict()))
    item.update(actions=[Decision.channel.set(answer["channel"]), Decision.ts.set(answer["ts"])])
    audit.record(action=f"{capability}.request_approval", target=f"decision/{decision_id}", actor=requester,
                 outcome=audit.Outcome.SUCCEEDED, correlation_id=correlation_id, capability="frontdoor",
                 after={"state": "pending", "environment": environment, "title": title})
    return item


def decide(decision_id: str, verdict: str, *, user: str, groups: frozenset[str], correlation_id: str,
           reason: str | None = None, now: datetime | None = None) -> Outcome:
    assert verdict in ("approved", "rejected")
    now = now or datetime.now(UTC)
    current = policies.current()
    item = get(decision_id)
    target = f"decision/{decision_id}"
    if item is None:
        return Outcome(False, f"there is no decision '{mrkdwn.safe(decision_id, 200)}'", None)
    if item.state != "pending":
        return Outcome(False, _already(item), item.as_dict())

    allowed = rbac.authorise(current, item.environment, Role(item.role), user, groups)
    if allowed.allowed and verdict == "approved":
        allowed = rbac.four_eyes(current, item.environment, user, item.requester, item.author)
    if not allowed.allowed:
        audit.record(action=f"{item.capability}.{verdict[:-1]}", target=target, actor=user,
                     outcome=audit.Outcome.REFUSED, correlation_id=correlation_id, capability="frontdoor",
                     reason=allowed.reason)
        return Outcome(False, f"not allowed: {mrkdwn.escape(allowed.reason)}", item.as_dict())

    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
    try:
        item.update(actions=[Decision.state.set(verdict), Decision.decided_by.set(user),
                             Decision.decided_at.set(stamp), Decision.reason.set(reason),
                             Decision.gsi1pk.set(UNNOTIFIED), Decision.gsi1sk.set(item.id)],
                    condition=Decision.state == "pending")
    except UpdateError:
        item.refresh()  # someone else was faster
        return Outcome(False, _already(item), item.as_dict())

    audit.record(action=f"{item.capability}.{verdict[:-1]}", target=target, actor=user,
                 outcome=audit.Outcome.SUCCEEDED, correlation_id=correlation_id, capability="frontdoor",
                 before={"state": "pending"}, after={"state": verdict, "decided_by": user}, reason=reason)
    if item.channel and item.ts:
        slack.deliver("chat.update", {"channel": item.channel, "ts": item.ts,
                                      "text": f"{verdict}: {mrkdwn.safe(item.title, 300)}",
                                      "blocks": blocks.decision_card(item.as_dict())},
                      correlation_id=correlation_id, target=target)
    told = notify(item, correlation_id)
    suffix = "" if told else f" (telling {item.origin} failed: it is retried every 5 minutes)"
    return Outcome(True, f"{verdict} {mrkdwn.safe(item.title, 300)}{suffix}", item.as_dict())


UNNOTIFIED = "decision#unnotified"


def result_of(item: Decision) -> dict[str, Any]:
    return {k: getattr(item, k) for k in ("id", "capability", "environment", "requester", "decided_by",
                                          "decided_at", "reason", "payload")} | {"verdict": item.state}


def notify(item: Decision, correlation_id: str) -> bool:
    """Tell the asking account's capability the verdict; on failure keep the decision listed for a retry."""
    from chalicelib import capabilities
    from chalicelib.capabilities import Capability
    from chalicelib.frontdoor import approvals
    from chalicelib.policy.schema import Flow

    current = policies.current()
    try:
        if item.origin in (None, current.account.name):
            handler = capabilities.decision_handler_for(Capability(item.capability))
            if handler is not None:
                handler(result_of(item))
        else:
            approvals.send_to(current, item.origin, Flow.APPROVAL_RESULT, result_of(item))
    except Exception as exc:  # noqa: BLE001 - kept for retry, audited, never lost
        audit.record(action=f"{item.capability}.notify", target=f"decision/{item.id}", outcome=audit.Outcome.FAILED,
                     correlation_id=correlation_id, capability="frontdoor", reason=f"{type(exc).__name__}: {exc}")
        return False
    item.update(actions=[Decision.gsi1pk.remove(), Decision.gsi1sk.remove()])
    return True


def renotify() -> int:
    """Retry telling asking accounts about decisions they have not heard of (run by the outbox schedule)."""
    told = 0
    for item in Decision.unnotified.query(UNNOTIFIED):
        told += notify(Decision.get(item.pk, item.sk), f"renotify:{item.id}")
    return told


def _already(item: Decision) -> str:
    return f"already {item.state} by <@{item.decided_by}> at {item.decided_at}"
