"""Approvals asked for in Slack: a card with Approve / Reject, decided once, by the people allowed to.

A capability (promotion, scaling…) calls ``request()``; the card goes to the channel; a click (or ``/ops approve
<id>``) goes through ``decide()``: authorised like a command (role in the decision's environment, membership of
the decision's user ``group`` when it names one, four eyes where policy demands or the request forces it), then
conditional updates from ``pending`` (see models.py):

- an approval adds the clicking user to ``approvals``; the decision is ``approved`` when ``required`` distinct
  people have approved (the update that completes the list is the one that decides, so two concurrent clicks
  cannot both be the last one, and the same person cannot count twice);
- one reject decides ``rejected`` at once;
- a click after the ``deadline`` (or ``expire_due`` on the outbox schedule) makes it ``expired``.

A decided decision (any verdict) is told to the asking account (``notify``: the capability's decision handler,
here or through an ``approval-result`` event) and retried by the outbox schedule until that works. A second
click is told who decided and when and changes nothing.

A card with a ``key`` is the keyed announcement ``(origin, key)``: the capability may re-announce its body under
that key with ``decision_id`` while the decision is pending (``attach``), and every change re-renders the
message from its stored body and the decision's current footer (``publish``).
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import size

from chalicelib.frontdoor import blocks, mrkdwn, rbac, slack
from chalicelib.frontdoor.models import Decision, MessageRef, check_options
from chalicelib.observability import logger
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Policy, Role
from chalicelib.state import audit
from chalicelib.state.keys import stamp

LIFETIME = timedelta(days=7)
UNNOTIFIED = "decision#unnotified"  # gsi1pk of decided decisions whose asking account was not told yet
DUE = "decision#deadline"  # gsi1pk of pending decisions with a deadline (gsi1sk: the deadline, ISO UTC)
ATTEMPTS = 5  # conditional updates lost to concurrent clicks before giving up (each loss means progress)
RENDERS = 3  # re-renders of a card overtaken by a concurrent change
_VERB = {"approved": "approve", "rejected": "reject"}


@dataclass(frozen=True)
class Outcome:
    changed: bool  # did this call change the decision (decide it, or add an approval)?
    message: str  # what to tell the person who clicked
    decision: dict[str, Any] | None


def _key(decision_id: str) -> tuple[str, str]:
    return f"decision#{decision_id}", "decision"


def _iso(moment: datetime) -> str:
    """A fixed-width ISO UTC time: deadlines compare as strings (gsi1sk, conditions)."""
    return stamp(moment)


def get(decision_id: str) -> Decision | None:
    try:
        return Decision.get(*_key(decision_id), consistent_read=True)
    except Decision.DoesNotExist:
        return None


# ---- asking ----

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
    check_options(decision_id=decision_id, required=required, group=group, deadline=deadline)
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 200):
        raise ValueError(f"key {key!r} must be a string of 1 to 200 characters")
    if blocks is not None and (not isinstance(blocks, list) or
                               not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)):
        raise ValueError("blocks must be a list of Block Kit blocks (dicts with a 'type')")
    now = now or datetime.now(UTC)
    origin = origin or policies.current().account.name
    given = decision_id is not None
    if decision_id is not None:
        existing = get(decision_id)
        if existing is not None:
            return _same(existing, origin)
    else:
        decision_id = f"{capability[:3]}-{secrets.token_hex(3)}"
    if blocks is not None and key is None:
        key = f"decision:{decision_id}"  # a body of its own lives where keyed bodies live: on the message ref
    due = _iso(deadline) if deadline is not None else None
    item = Decision(*_key(decision_id), id=decision_id, capability=capability, title=title, summary=summary,
                    environment=environment, role=str(Role(role)), requester=requester, author=author,
                    channel=channel, state="pending", payload=payload, origin=origin, created_at=now.isoformat(),
                    required=required, approvals=[], group=group, four_eyes=four_eyes, deadline=due, key=key,
                    revision=1, gsi1pk=DUE if due else None, gsi1sk=due, pending=pending,
                    expires_at=max(now, deadline or now) + LIFETIME)  # kept a week past its deadline
    try:
        item.save(condition=Decision.pk.does_not_exist())
    except PutError as exc:  # 16.7 million ids per capability; a clash is retried by the caller's retry
        existing = get(decision_id) if given else None
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
    if item.key is None:
        answer = slack.web().chat_postMessage(channel=item.channel, text=_text(item),
                                              blocks=blocks.decision_card(item.as_dict()))
        item.update(actions=[Decision.channel.set(answer["channel"]), Decision.ts.set(answer["ts"])])
        return
    origin = item.origin or policies.current().account.name
    ref = slack.message_ref(origin, item.key)
    if ref is None and continues:  # the card goes on in the message another account posted under the key
        ref = slack.take_over(origin, item.key, continues)
    if ref is None:
        answer = slack.web().chat_postMessage(channel=item.channel, **_render(item, body, None))
        slack.save_ref(origin, item.key, answer["channel"], answer["ts"], decision_id=item.id, body=body)
        item.update(actions=[Decision.channel.set(answer["channel"]), Decision.ts.set(answer["ts"])])
        return
    # the key already names a message (the capability announced under it before): the card takes it over
    ref.update(actions=[MessageRef.decision_id.set(item.id),
                        MessageRef.body.set(body) if body is not None else MessageRef.body.remove(),
                        MessageRef.text.remove(), MessageRef.revision.add(1),
                        MessageRef.updated_at.set(datetime.now(UTC).isoformat())])
    item.update(actions=[Decision.channel.set(ref.channel), Decision.ts.set(ref.ts)])
    publish(origin, item.key, correlation_id=correlation_id)


def attach(origin: str, key: str, decision_id: str, message: dict[str, Any], *, correlation_id: str) -> bool:
    """A keyed announcement that carries decision ``decision_id``'s footer (``approvals.announce(decision_id=…)``):
    remember its body and render body + the footer for the decision's current state. Only the account that asked
    for the decision, under the key its card was posted with, may do this. True when delivered now."""
    check_options(decision_id=decision_id)
    item = get(decision_id)
    if item is None or item.origin != origin or item.key != key:
        raise ValueError(f"decision {decision_id} is not a card '{origin}' asked for under key '{key}'")
    body = list(message.get("blocks") or []) or blocks.text_section(message.get("text") or "")
    text = message.get("text") or _text(item)
    ref = slack.message_ref(origin, key)
    if ref is None:  # the card's own post never landed: this announcement posts it
        rendered = {"channel": message["channel"], **_render(item, body, text)}
        try:
            answer = slack.web().chat_postMessage(**rendered)
        except Exception:  # noqa: BLE001 - kept in the outbox; the next announcement posts anew
            return slack.deliver("chat.postMessage", rendered, correlation_id=correlation_id,
                                 target=f"message/{origin}/{key}")
        slack.save_ref(origin, key, answer["channel"], answer["ts"], decision_id=decision_id, body=body, text=text)
        item.update(actions=[Decision.channel.set(answer["channel"]), Decision.ts.set(answer["ts"])])  # its card
        return True
    ref.update(actions=[MessageRef.decision_id.set(decision_id), MessageRef.body.set(body),
                        MessageRef.text.set(text), MessageRef.revision.add(1),
                        MessageRef.updated_at.set(datetime.now(UTC).isoformat())])
    return publish(origin, key, correlation_id=correlation_id)


# ---- rendering ----

def _text(item: Decision) -> str:
    title = mrkdwn.safe(item.title, 300)
    return f"Approval needed: {title}" if item.state == "pending" else f"{item.state}: {title}"


def _render(item: Decision, body: list[dict[str, Any]] | None, text: str | None) -> dict[str, Any]:
    d = item.as_dict()
    return {"text": text or _text(item),
            "blocks": blocks.with_decision_footer(body if body is not None else blocks.decision_body(d), d)}


def publish(origin: str, key: str, *, correlation_id: str, only_for: str | None = None) -> bool:
    """Bring keyed message ``(origin, key)`` up to date from what is stored: its body, plus the footer of the
    decision attached to it in that decision's current state. After delivering, read both again: if either
    changed meanwhile (a concurrent click or announcement), render again, so the last render shows the last
    state. ``only_for``: do nothing unless that decision is (still) the one attached. True when delivered."""
    delivered = True
    target = f"message/{origin}/{key}"
    ref = slack.message_ref(origin, key)
    if ref is None or (only_for is not None and ref.decision_id != only_for):
        return ref is not None
    for _ in range(RENDERS):
        item = get(ref.decision_id) if ref.decision_id else None
        if item is not None:
            message = _render(item, ref.body, ref.text)
        elif ref.body is not None:
            message = {"text": ref.text or "", "blocks": ref.body}
        else:
            return True  # a plain keyed announcement: nothing for the front door to render
        delivered = slack.deliver("chat.update", {**message, "channel": ref.channel, "ts": ref.ts},
                                  correlation_id=correlation_id, target=target)
        seen = (ref.revision, ref.decision_id, item.revision if item is not None else None)
        ref = slack.message_ref(origin, key)
        if ref is None:
            break
        again = get(ref.decision_id) if ref.decision_id else None
        if (ref.revision, ref.decision_id, again.revision if again is not None else None) == seen:
            break
    return delivered


def _show(item: Decision, correlation_id: str) -> None:
    """Update the decision's card after a change: its keyed message, or its own card (as ``chat.update``)."""
    if item.key:
        publish(item.origin or policies.current().account.name, item.key, correlation_id=correlation_id,
                only_for=item.id)
        return
    if not (item.channel and item.ts):
        return
    for _ in range(RENDERS):
        slack.deliver("chat.update", {"channel": item.channel, "ts": item.ts, "text": _text(item),
                                      "blocks": blocks.decision_card(item.as_dict())},
                      correlation_id=correlation_id, target=f"decision/{item.id}")
        fresh = get(item.id)
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
    item = get(decision_id)
    target = f"decision/{decision_id}"
    if item is None:
        return Outcome(False, f"there is no decision '{mrkdwn.safe(decision_id, 200)}'", None)
    action = f"{item.capability}.{_VERB[verdict]}"
    title = mrkdwn.safe(item.title, 300)
    authorised = False
    for _ in range(ATTEMPTS):
        if item.state != "pending":
            return Outcome(False, _already(item), item.as_dict())
        if _is_due(item, now):
            _expire(item, now, correlation_id)  # (or a faster click decided it first: _already says which)
            return Outcome(False, _already(item), item.as_dict())
        approvals = list(item.approvals or [])
        required = int(item.required or 1)
        if verdict == "approved" and user in approvals:
            return Outcome(False, f"you already approved {title} ({blocks.progress(item.as_dict())})",
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

        stamp = now.strftime("%Y-%m-%d %H:%M UTC")
        member_of = Decision.member_of.set({**(item.member_of or {}), user: sorted(groups)})
        decided = [Decision.state.set(verdict), Decision.decided_by.set(user), Decision.decided_at.set(stamp),
                   Decision.reason.set(reason), Decision.gsi1pk.set(UNNOTIFIED), Decision.gsi1sk.set(item.id),
                   member_of]
        condition = (Decision.state == "pending") & _not_due(now)
        if verdict == "approved":
            complete = len(approvals) + 1 >= required
            actions = [Decision.approvals.set([*approvals, user]), *(decided if complete else [member_of])]
            condition &= _still(len(approvals))
        else:
            actions = decided
        try:
            item.update(actions=[*actions, Decision.revision.add(1)], condition=condition)
            break
        except UpdateError:
            item.refresh(consistent_read=True)  # someone else was faster: look again
    else:
        return Outcome(False, "too many clicks at once: please try again", item.as_dict())

    if item.state == "pending":  # an approval that is not the last one needed
        progress = blocks.progress(item.as_dict())
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
        ref = slack.message_ref(item.origin or policies.current().account.name, item.key)
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


def _still(count: int) -> Any:
    """The approvals list still has the ``count`` entries that were read (it only ever grows)."""
    if count == 0:
        return Decision.approvals.does_not_exist() | (size(Decision.approvals) == 0)
    return size(Decision.approvals) == count


def _not_due(now: datetime) -> Any:
    return Decision.deadline.does_not_exist() | (Decision.deadline > _iso(now))


def _is_due(item: Decision, now: datetime) -> bool:
    return item.deadline is not None and item.deadline <= _iso(now)


# ---- expiry ----

def _expire(item: Decision, now: datetime, correlation_id: str) -> bool:
    """Pending past its deadline -> ``expired`` (conditional: a click deciding first wins). True if this call
    expired it; then the card is updated and the asking account told, as for any verdict."""
    stamp = blocks.stamp(item.deadline or _iso(now))
    try:
        item.update(actions=[Decision.state.set("expired"), Decision.decided_by.set(audit.SYSTEM),
                             Decision.decided_at.set(stamp), Decision.gsi1pk.set(UNNOTIFIED),
                             Decision.gsi1sk.set(item.id), Decision.revision.add(1)],
                    condition=(Decision.state == "pending") & (Decision.deadline <= _iso(now)))
    except UpdateError:
        item.refresh(consistent_read=True)
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
    for row in Decision.unnotified.query(DUE, Decision.gsi1sk <= _iso(now)):
        try:
            item = get(row.id)
            if item is not None and item.state == "pending" and _is_due(item, now):
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
    from chalicelib.frontdoor import approvals
    from chalicelib.policy.schema import Flow

    current = policies.current()
    try:
        if item.origin in (None, current.account.name):
            handler = capabilities.decision_handler_for(Capability(item.capability))
            if handler is not None:  # this account is the front door: it is the sender
                handler(result_of(item) | {"from_account": current.account.name})
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
        try:
            told += notify(Decision.get(item.pk, item.sk, consistent_read=True), f"renotify:{item.id}")
        except Exception:  # noqa: BLE001 - one bad item must not stop the others; it stays listed for the next run
            logger.exception("telling the asking account failed", extra={"decision": item.id})
    return told


def _already(item: Decision) -> str:
    if item.state == "expired":
        return f"this approval expired at {item.decided_at}"
    return f"already {item.state} by <@{item.decided_by}> at {item.decided_at}"
