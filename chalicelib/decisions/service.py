"""Approvals asked for in Slack: a card with Approve / Reject, decided once, by the people allowed to.

A capability (promotion, scaling…) calls ``ask()`` from any account (in the front door it is ``request()``, in
every other account an ``approval-request`` event to the front door); the card goes to the channel; a click (or
``/ops approve <id>``) goes through ``decide()``: authorised like a command (role in the decision's environment,
membership of the decision's user ``group`` when it names one, four eyes where policy demands or the request
forces it), then conditional updates from ``pending`` (see store.py):

- an approval adds the clicking user to ``approvals``; the decision is ``approved`` when ``required`` distinct
  people have approved (the update that completes the list is the one that decides, so two concurrent clicks
  cannot both be the last one, and the same person cannot count twice);
- one reject decides ``rejected`` at once;
- a click after the ``deadline`` (or ``expire_due`` in ``tick``) makes it ``expired``.

A decided decision (any verdict) is told to the asking account (``notify``: the capability's decision handler,
here or through an ``approval-result`` event) and retried by ``tick`` (the outbox schedule) until that works. A second
click is told who decided and when and changes nothing.

A card with a ``key`` is the keyed announcement ``(origin, key)``: the capability may re-announce its body under
that key with ``decision_id`` while the decision is pending (``keyed.attach``), and every change re-renders the
message from its stored body and the decision's current footer (``keyed.publish``).

The items and their conditional updates are ``store.py``'s; what a card looks like is ``render.py``'s (pure).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.decisions import render, store
from chalicelib.decisions.store import Decision
from chalicelib.observability import logger
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Flow, Policy, Role
from chalicelib.slackkit import announcements, keyed, mrkdwn, rbac, slack
from chalicelib.slackkit import blocks as slack_blocks
from chalicelib.state import audit

ATTEMPTS = 5  # conditional updates lost to concurrent clicks before giving up (each loss means progress)
_VERB = {"approved": "approve", "rejected": "reject"}


@dataclass(frozen=True)
class Outcome:
    changed: bool  # did this call change the decision (decide it, or add an approval)?
    message: str  # what to tell the person who clicked
    decision: dict[str, Any] | None


# ---- asking ----

def ask(*, capability: str, title: str, summary: str, environment: str, requester: str, channel: str,
        correlation_id: str, payload: Any = None, author: str | None = None, role: Role = Role.APPROVER,
        decision_id: str | None = None, required: int = 1, group: str | None = None,
        four_eyes: bool | None = None, deadline: datetime | None = None, key: str | None = None,
        blocks: list[dict[str, Any]] | None = None, continues: str | None = None,
        subject: dict[str, Any] | None = None) -> str | None:
    """Put an approval card in ``channel``. Returns the decision id when this account is the front door or the
    caller chose it (``decision_id``); else None (the id comes back with the result).

    Optional: ``decision_id`` (``^[a-z]{3}-[a-z0-9]{4,40}$``; asking again with it is a no-op), ``required``
    distinct approvers (1..5), approvers' user ``group`` (``S…``), ``four_eyes=True`` (approver is neither the
    requester nor the author, whatever policy says), ``deadline`` (aware datetime: the decision then expires),
    ``key`` (the card is the keyed announcement ``key``: ``announcements.announce(key=…, decision_id=…)``
    updates it in place) and ``blocks`` (the card's body, already-safe mrkdwn; the front door adds progress and
    buttons); ``continues``: the account whose message under ``key`` the card takes over (see
    ``announcements.announce``).

    ``subject`` (what exactly would be done): the request is first stored in this account as a pending request
    (``chalicelib.pending``) and only its ticket (id, nonce, digest of the subject) travels; the capability's
    decision handler, wrapped in ``pending.bound``, then acts only on a result that names it, and on the stored
    subject."""
    store.check_options(decision_id=decision_id, required=required, group=group, deadline=deadline)
    current = policies.current()
    ticket = None
    if subject is not None:
        from chalicelib import pending

        ticket = pending.open_request(capability=capability, subject=subject, environment=environment,
                                      role=str(role), requester=requester, author=author, required=required,
                                      group=group, four_eyes=four_eyes, deadline=deadline, request_id=decision_id,
                                      correlation_id=correlation_id)
    asked: dict[str, Any] = {
        "capability": capability, "title": title, "summary": summary, "environment": environment,
        "requester": requester, "author": author, "channel": channel, "payload": payload, "role": str(role),
        "correlation_id": correlation_id}
    options = {"decision_id": decision_id, "required": required, "group": group, "four_eyes": four_eyes,
               "deadline": deadline, "key": key, "blocks": blocks, "continues": continues, "pending": ticket}
    # only what differs from the defaults travels, so a front door that predates these options still accepts
    # the requests that do not use them
    options = {k: v for k, v in options.items() if v is not None and not (k == "required" and v == 1)}
    if announcements.front_door(current) == current.account.name:
        return request(origin=current.account.name, **asked, **options).id
    if "deadline" in options:
        options["deadline"] = options["deadline"].isoformat()
    announcements.send_to_front_door(current, Flow.APPROVAL_REQUEST, asked | options)
    return decision_id


def request(*, capability: str, title: str, summary: str, environment: str, requester: str,
            author: str | None = None, channel: str, role: Role | str = Role.APPROVER, payload: Any = None,
            correlation_id: str, origin: str | None = None, now: datetime | None = None,
            decision_id: str | None = None, required: int = 1, group: str | None = None,
            four_eyes: bool | None = None, deadline: datetime | None = None, key: str | None = None,
            blocks: list[dict[str, Any]] | None = None, continues: str | None = None,
            pending: dict[str, str] | None = None) -> Decision:
    """Record a pending decision and post its card. The id is short enough to type: ``/ops approve <id>``.

    ``decision_id`` (``^[a-z]{3}-[a-z0-9]{4,40}$``) makes the request idempotent: asking again with the same id
    posts nothing, audits nothing and returns the existing decision. ``required`` distinct approvers (1..5),
    each in user ``group`` when given; ``four_eyes=True`` forces the four-eyes check; after ``deadline`` the
    decision expires. With ``key`` the card is the keyed announcement (origin, key); ``blocks`` replace the
    card's body (already-safe mrkdwn), the front door appends progress, buttons or verdict. ``pending``: the asking
    account's ticket for its pending request (id, nonce, subject digest), echoed in the result."""
    store.check_options(decision_id=decision_id, required=required, group=group, deadline=deadline)
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 200):
        raise ValueError(f"key {key!r} must be a string of 1 to 200 characters")
    if blocks is not None and (not isinstance(blocks, list) or
                               not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)):
        raise ValueError("blocks must be a list of Block Kit blocks (dicts with a 'type')")
    now = now or datetime.now(UTC)
    origin = origin or policies.current().account.name
    given = decision_id is not None
    if decision_id is not None:
        existing = store.get(decision_id)
        if existing is not None:
            return _same(existing, origin)
    else:
        decision_id = f"{capability[:3]}-{secrets.token_hex(3)}"
    if blocks is not None and key is None:
        key = f"decision:{decision_id}"  # a body of its own lives where keyed bodies live: on the message ref
    due = store.iso(deadline) if deadline is not None else None
    item = Decision(*store.key(decision_id), id=decision_id, capability=capability, title=title, summary=summary,
                    environment=environment, role=str(Role(role)), requester=requester, author=author,
                    channel=channel, state="pending", payload=payload, origin=origin, created_at=now.isoformat(),
                    required=required, approvals=[], group=group, four_eyes=four_eyes, deadline=due, key=key,
                    revision=1, gsi1pk=store.DUE if due else None, gsi1sk=due, pending=pending,
                    expires_at=max(now, deadline or now) + store.LIFETIME)  # kept a week past its deadline
    try:
        store.create(item)
    except PutError as exc:  # 16.7 million ids per capability; a clash is retried by the caller's retry
        existing = store.get(decision_id) if given else None
        if existing is not None:
            return _same(existing, origin)  # the same request, at the same time: that one posts the card
        raise RuntimeError(f"decision id {decision_id} already exists") from exc
    try:
        _post_card(item, blocks, correlation_id, continues)
    except Exception:
        with contextlib.suppress(Exception):  # nobody saw it: the caller's retry asks again from scratch
            item.delete()
        raise
    after: dict[str, Any] = {"state": "pending", "environment": environment, "title": title}
    if required > 1 or group or deadline is not None:
        after |= {"required": required, "group": group, "deadline": due}
    audit.record(action=f"{capability}.request_approval", target=f"decision/{decision_id}", actor=requester,
                 outcome=audit.Outcome.SUCCEEDED, correlation_id=correlation_id, capability="frontdoor",
                 after=after)
    return item


def _same(existing: Decision, origin: str) -> Decision:
    if existing.origin != origin:
        raise ValueError(f"decision_id {existing.id!r} is already used by another account's request")
    return existing


def _post_card(item: Decision, body: list[dict[str, Any]] | None, correlation_id: str,
               continues: str | None = None) -> None:
    """Post the decision's card within the channel's send budget. When the budget says wait (or Slack answers
    429) the post waits in the card queue, and the card drain posts it in the decision's state then and records
    where (``keyed.post_card``): the decision stays pending meanwhile, nothing is lost. Other failures raise."""
    if item.key is not None:
        origin = item.origin or policies.current().account.name
        ref = keyed.message_ref(origin, item.key)
        if ref is None and continues:  # the card goes on in the message another account posted under the key
            keyed.take_over(origin, item.key, continues)
    try:
        keyed.post_card(item.id, item.channel, body, correlation_id=correlation_id, item=item)
    except slack.MustWait:
        from chalicelib.slackkit import cardq

        cardq.queue_card(item.id, item.channel, body, correlation_id=correlation_id)


# ---- showing ----

def _show(item: Decision, correlation_id: str) -> None:
    """Update the decision's card after a change: its keyed message, or its own card (as ``chat.update``)."""
    if item.key:
        keyed.publish(item.origin or policies.current().account.name, item.key, correlation_id=correlation_id,
                      only_for=item.id)
        return
    if not (item.channel and item.ts):
        return
    for _ in range(keyed.RENDERS):
        slack.deliver("chat.update", {"channel": item.channel, "ts": item.ts, "text": render.text(item.as_dict()),
                                      "blocks": render.card(item.as_dict())},
                      correlation_id=correlation_id, target=f"decision/{item.id}")
        fresh = store.get(item.id)
        if fresh is None or fresh.revision == item.revision:
            return
        item = fresh


# ---- deciding ----

def decide(decision_id: str, verdict: str, *, user: str, groups: frozenset[str], correlation_id: str,
           reason: str | None = None, now: datetime | None = None,
           message: tuple[str, str] | None = None) -> Outcome:
    """``message``: (channel id, ts) of the message a button was clicked on; a click decides only on the
    decision's own card. None: typed (``/ops approve <id>``), no message to check."""
    assert verdict in ("approved", "rejected")
    now = now or datetime.now(UTC)
    current = policies.current()
    item = store.get(decision_id)
    target = f"decision/{decision_id}"
    if item is None:
        return Outcome(False, f"there is no decision '{mrkdwn.safe(decision_id, 200)}'", None)
    action = f"{item.capability}.{_VERB[verdict]}"
    title = mrkdwn.safe(item.title, 300)
    authorised = False
    for _ in range(ATTEMPTS):
        if item.state != "pending":
            return Outcome(False, render.already(item.as_dict()), item.as_dict())
        if store.is_due(item, now):
            _expire(item, now, correlation_id)  # (or a faster click decided it first: already() says which)
            return Outcome(False, render.already(item.as_dict()), item.as_dict())
        approvals = list(item.approvals or [])
        required = int(item.required or 1)
        if verdict == "approved" and user in approvals:
            return Outcome(False, f"you already approved {title} ({render.progress(item.as_dict())})",
                           item.as_dict())
        if not authorised:
            if message is not None and not on_card(item, message):  # a button on some other message
                audit.record(action=action, target=target, actor=user, outcome=audit.Outcome.REFUSED,
                             correlation_id=correlation_id, capability="frontdoor",
                             reason="the click came from a message that is not this decision's card",
                             detail={"channel": message[0], "ts": message[1]})
                return Outcome(False, f"sorry, this button is not on the approval card of "
                                      f"`{mrkdwn.escape(item.id)}`, so it decides nothing: please use the card "
                                      "Switchboard posted", item.as_dict())
            refusal = _refusal(current, item, verdict, user, groups)
            if refusal is not None:
                audit.record(action=action, target=target, actor=user, outcome=audit.Outcome.REFUSED,
                             correlation_id=correlation_id, capability="frontdoor", reason=refusal)
                return Outcome(False, f"not allowed: {refusal}", item.as_dict())
            authorised = True

        if store.vote(item, verdict, user=user, groups=groups, reason=reason, now=now):
            break
    else:
        return Outcome(False, "too many clicks at once: please try again", item.as_dict())

    if item.state == "pending":  # an approval that is not the last one needed
        progress = render.progress(item.as_dict())
        audit.record(action=action, target=target, actor=user, outcome=audit.Outcome.SUCCEEDED,
                     correlation_id=correlation_id, capability="frontdoor", reason=reason,
                     before={"approvals": approvals, "required": required},
                     after={"approvals": list(item.approvals or []), "required": required})
        _show(item, correlation_id)
        left = required - len(item.approvals or [])
        return Outcome(True, f"{progress} ({title} needs {left} more)", item.as_dict())

    after: dict[str, Any] = {"state": verdict, "decided_by": user}
    if required > 1:
        after |= {"approvals": list(item.approvals or []), "required": required}
    audit.record(action=action, target=target, actor=user, outcome=audit.Outcome.SUCCEEDED,
                 correlation_id=correlation_id, capability="frontdoor",
                 before={"state": "pending"}, after=after, reason=reason)
    _show(item, correlation_id)
    told = notify(item, correlation_id)
    suffix = "" if told else f" (telling {item.origin} failed: it is retried every 5 minutes)"
    return Outcome(True, f"{verdict} {title}{suffix}", item.as_dict())


def on_card(item: Decision, message: tuple[str, str]) -> bool:
    """Is (channel id, ts) the message that shows ``item``'s buttons: its own card, or the keyed message it lives in?"""
    places = set()
    if item.channel and item.ts:
        places.add((item.channel, item.ts))
    if item.key:
        ref = keyed.message_ref(item.origin or policies.current().account.name, item.key)
        if ref is not None and ref.decision_id == item.id:
            places.add((ref.channel, ref.ts))
    return tuple(message) in places


def _refusal(current: Policy, item: Decision, verdict: str, user: str, groups: frozenset[str]) -> str | None:
    """Why ``user`` may not decide ``item`` (safe mrkdwn), or None."""
    allowed = rbac.authorise(current, item.environment, Role(item.role), user, groups)
    if not allowed.allowed:
        return mrkdwn.escape(allowed.reason)
    if item.group and item.group not in groups:  # the id was checked at request time (S + [A-Z0-9])
        return f"you need to be in <!subteam^{item.group}> to {_VERB[verdict]} this"
    if verdict == "approved":
        policy = current
        if item.four_eyes and item.environment not in current.slack.four_eyes:  # forced by the request
            forced = (*current.slack.four_eyes, item.environment)
            policy = current.model_copy(update={"slack": current.slack.model_copy(update={"four_eyes": forced})})
        allowed = rbac.four_eyes(policy, item.environment, user, item.requester, item.author)
        if not allowed.allowed:
            return mrkdwn.escape(allowed.reason)
    return None


# ---- expiry ----

def _expire(item: Decision, now: datetime, correlation_id: str) -> bool:
    """Pending past its deadline -> ``expired`` (conditional: a click deciding first wins). True if this call
    expired it; then the card is updated and the asking account told, as for any verdict."""
    stamp = slack_blocks.stamp(item.deadline or store.iso(now))
    if not store.expire(item, now, stamp):
        return False
    audit.record(action=f"{item.capability}.expire", target=f"decision/{item.id}", outcome=audit.Outcome.SUCCEEDED,
                 correlation_id=correlation_id, capability="frontdoor", reason=f"not decided by {stamp}",
                 before={"state": "pending", "approvals": list(item.approvals or []),
                         "required": int(item.required or 1)},
                 after={"state": "expired"})
    _show(item, correlation_id)
    notify(item, correlation_id)
    return True


def expire_due(now: datetime | None = None) -> int:
    """Expire every pending decision whose deadline has passed (run by the outbox schedule). Returns how many."""
    now = now or datetime.now(UTC)
    expired = 0
    for row in store.due(now):
        try:
            item = store.get(row.id)
            if item is not None and item.state == "pending" and store.is_due(item, now):
                expired += _expire(item, now, f"expire:{item.id}")
        except Exception:  # noqa: BLE001 - one bad item must not stop the others; it stays due for the next run
            logger.exception("expiring a decision failed", extra={"decision": row.id})
    return expired


# ---- telling the asking account ----

def result_of(item: Decision) -> dict[str, Any]:
    """What the asking account is told: the verdict, who decided (each with the user groups resolved for them when
    they clicked), and the asking account's own ticket back (``pending``), so it can match it to its request."""
    deciders = [*(item.approvals or []), *([item.decided_by] if item.state == "rejected" else [])]
    member_of = item.member_of or {}
    return {k: getattr(item, k) for k in ("id", "capability", "environment", "requester", "decided_by",
                                          "decided_at", "reason", "payload", "pending")} | {
        "verdict": item.state, "approvals": list(item.approvals or []), "required": int(item.required or 1),
        "groups": {u: list(member_of.get(u, [])) for u in deciders}}


def notify(item: Decision, correlation_id: str) -> bool:
    """Tell the asking account's capability the verdict; on failure keep the decision listed for a retry."""
    from chalicelib import capabilities
    from chalicelib.capabilities import Capability

    current = policies.current()
    try:
        if item.origin in (None, current.account.name):
            handler = capabilities.decision_handler_for(Capability(item.capability))
            if handler is not None:  # this account is the front door: it is the sender
                handler(result_of(item) | {"from_account": current.account.name})
        else:
            announcements.send_to(current, item.origin, Flow.APPROVAL_RESULT, result_of(item))
    except Exception as exc:  # noqa: BLE001 - kept for retry, audited, never lost
        audit.record(action=f"{item.capability}.notify", target=f"decision/{item.id}", outcome=audit.Outcome.FAILED,
                     correlation_id=correlation_id, capability="frontdoor", reason=f"{type(exc).__name__}: {exc}")
        return False
    store.told(item)
    return True


def renotify() -> int:
    """Retry telling asking accounts about decisions they have not heard of (run by the outbox schedule)."""
    told = 0
    for item in store.unnotified():
        try:
            told += notify(Decision.get(item.pk, item.sk, consistent_read=True), f"renotify:{item.id}")
        except Exception:  # noqa: BLE001 - one bad item must not stop the others; it stays listed for the next run
            logger.exception("telling the asking account failed", extra={"decision": item.id})
    return told


def tick(deliver: Callable[[datetime], dict[str, int]] | None = None, now: datetime | None = None) -> dict[str, int]:
    """The outbox schedule's work for decisions, around the Slack outbox's ``deliver`` (``slack.retry_outbox``):
    re-tell asking accounts about decisions they have not heard of, deliver, then expire the pending decisions whose
    deadline has passed (after delivering: what expiring fails to deliver waits for the next run). Returns the
    delivery's counts with ``renotified`` and, when there were any, ``expired``. A delivery that raises (some items
    could not be processed) still lets expiry run, then raises."""
    now = now or datetime.now(UTC)
    renotified = renotify()
    try:
        counts = dict(deliver(now)) if deliver is not None else {}
    finally:
        expired = expire_due(now)
    counts["renotified"] = renotified
    if expired:
        counts["expired"] = expired
    return counts

