"""Decisions in the shared state table, and the conditional updates that move them (see
chalicelib/state/models.py for the key design). Only this module writes a ``Decision``.

decision#<id> / decision   an approval asked for in Slack. ``state`` moves ``pending -> approved | rejected |
                           expired`` by conditional updates only:
                           - an approval appends the approver to ``approvals`` on condition that the state is
                             still pending and the list still has the length that was read (lists only grow, so
                             this means "unchanged"): two concurrent clicks cannot both be the last one and one
                             person cannot count twice. The update that makes ``len(approvals) == required`` also
                             sets ``approved``; a reject or an expiry is one update from ``pending``.
                           - ``revision`` grows with every change, so a Slack render can tell it was overtaken.
                           gsi1, one slot used in sequence (never two things at once):
                             pending with a deadline   gsi1pk "decision#deadline", gsi1sk <deadline ISO UTC>
                                                       (``service.expire_due`` lists the due ones)
                             decided, asking account   gsi1pk "decision#unnotified", gsi1sk <id>
                             not told yet              (the outbox schedule retries)
                             told                      no gsi1 keys

The asking side validates its options with ``check_options`` before anything travels (the same check runs again
where the decision is recorded).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import size
from pynamodb.models import Model

from chalicelib.state.audit import SYSTEM
from chalicelib.state.keys import stamp
from chalicelib.state.models import StateIndex, StateItem
from chalicelib.timefmt import shown

_STATE_META = StateItem.Meta
LIFETIME = timedelta(days=7)
UNNOTIFIED = "decision#unnotified"  # gsi1pk of decided decisions whose asking account was not told yet
DUE = "decision#deadline"  # gsi1pk of pending decisions with a deadline (gsi1sk: the deadline, ISO UTC)

DECISION_ID = re.compile(r"^[a-z]{3}-[a-z0-9]{4,40}$")
USER_GROUP = re.compile(r"^S[A-Z0-9]{2,20}$")
MAX_REQUIRED = 5


def check_options(*, decision_id: str | None = None, required: int = 1, group: str | None = None,
                  deadline: datetime | None = None) -> None:
    """Validate the optional arguments of an approval request (raises ValueError naming the bad one)."""
    if decision_id is not None and (not isinstance(decision_id, str) or not DECISION_ID.match(decision_id)):
        raise ValueError(f"decision_id {decision_id!r} must match {DECISION_ID.pattern}")
    if isinstance(required, bool) or not isinstance(required, int) or not 1 <= required <= MAX_REQUIRED:
        raise ValueError(f"required {required!r} must be a whole number from 1 to {MAX_REQUIRED}")
    if group is not None and (not isinstance(group, str) or not USER_GROUP.match(group)):
        raise ValueError(f"group {group!r} must be a Slack user-group id ({USER_GROUP.pattern})")
    if deadline is not None and (not isinstance(deadline, datetime) or deadline.utcoffset() is None):
        raise ValueError(f"deadline {deadline!r} must be a timezone-aware datetime")


class Decision(Model):
    class Meta(_STATE_META):
        pass

    pk = UnicodeAttribute(hash_key=True)  # decision#<id>
    sk = UnicodeAttribute(range_key=True)  # "decision"
    id = UnicodeAttribute()
    capability = UnicodeAttribute()
    title = UnicodeAttribute()
    summary = UnicodeAttribute()
    environment = UnicodeAttribute()
    role = UnicodeAttribute()
    requester = UnicodeAttribute()
    author = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    ts = UnicodeAttribute(null=True)
    state = UnicodeAttribute()  # pending | approved | rejected | expired
    decided_by = UnicodeAttribute(null=True)  # the last approver, the rejecter, or "system" (expired)
    decided_at = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    payload = JSONAttribute(null=True)
    origin = UnicodeAttribute(null=True)  # the account whose capability asked (it acts on the verdict)
    created_at = UnicodeAttribute()
    required = NumberAttribute(null=True)  # distinct approvers needed (absent: 1)
    approvals = ListAttribute(of=UnicodeAttribute, null=True)  # who approved so far, in order
    group = UnicodeAttribute(null=True)  # approvers must also be in this Slack user group
    four_eyes = BooleanAttribute(null=True)  # True: four eyes whatever policy.slack.four_eyes says
    deadline = UnicodeAttribute(null=True)  # ISO UTC; a click after it (or expire_due) expires the decision
    key = UnicodeAttribute(null=True)  # the card is the keyed message (origin, key)
    revision = NumberAttribute(null=True)  # grows with every change (see the module docstring)
    # the asking account's pending request {id, nonce, digest}: echoed in the result, so that account can tell it is
    # the answer to what it asked (chalicelib/pending)
    pending = JSONAttribute(null=True)
    # user -> the user-group ids the front door resolved for them when they approved or rejected: sent with the
    # result, so the asking account re-checks each approver's roles with its own policy
    member_of = JSONAttribute(null=True)
    # gsi1: "decision#deadline" while pending with a deadline, "decision#unnotified" once decided and until the
    # asking account has been told (the outbox schedule retries); removed once told
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    unnotified = StateIndex()  # gsi1 (both partitions above)

    def as_dict(self) -> dict:
        values = {k: v for k, v in self.attribute_values.items()
                  if k not in ("pk", "sk", "expires_at", "gsi1pk", "gsi1sk", "revision")}
        values["required"] = int(self.required or 1)
        values["approvals"] = list(self.approvals or [])
        return values


def key(decision_id: str) -> tuple[str, str]:
    return f"decision#{decision_id}", "decision"


def iso(moment: datetime) -> str:
    """A fixed-width ISO UTC time: deadlines compare as strings (gsi1sk, conditions)."""
    return stamp(moment)


def get(decision_id: str) -> Decision | None:
    try:
        return Decision.get(*key(decision_id), consistent_read=True)
    except Decision.DoesNotExist:
        return None


def create(item: Decision) -> None:
    """Save a new decision; PynamoDB's PutError when the id is taken."""
    item.save(condition=Decision.pk.does_not_exist())


def shown_at(item: Decision, channel: str, ts: str) -> None:
    """Remember the message that shows the decision's card."""
    item.update(actions=[Decision.channel.set(channel), Decision.ts.set(ts)])


def is_due(item: Decision, now: datetime) -> bool:
    return item.deadline is not None and item.deadline <= iso(now)


def _still(count: int) -> Any:
    """The approvals list still has the ``count`` entries that were read (it only ever grows)."""
    if count == 0:
        return Decision.approvals.does_not_exist() | (size(Decision.approvals) == 0)
    return size(Decision.approvals) == count


def _not_due(now: datetime) -> Any:
    return Decision.deadline.does_not_exist() | (Decision.deadline > iso(now))


def vote(item: Decision, verdict: str, *, user: str, groups: Iterable[str], reason: str | None,
         now: datetime) -> bool:
    """One click on pending ``item``, as read: an approval appends ``user`` (and decides ``approved`` when it is the
    last one needed), a reject decides ``rejected``. Conditional on the decision being still pending, not due, and
    (for an approval) having the approvals that were read. True if written; False if someone was faster (``item``
    is then read again)."""
    approvals = list(item.approvals or [])
    required = int(item.required or 1)
    decided_at = shown(now)
    member_of = Decision.member_of.set({**(item.member_of or {}), user: sorted(groups)})
    decided = [Decision.state.set(verdict), Decision.decided_by.set(user), Decision.decided_at.set(decided_at),
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
    except UpdateError:
        item.refresh(consistent_read=True)  # someone else was faster: look again
        return False
    return True


def expire(item: Decision, now: datetime, decided_at: str) -> bool:
    """Pending past its deadline -> ``expired`` (conditional: a click deciding first wins). True if this call
    expired it; False if not (``item`` is then read again)."""
    try:
        item.update(actions=[Decision.state.set("expired"), Decision.decided_by.set(SYSTEM),
                             Decision.decided_at.set(decided_at), Decision.gsi1pk.set(UNNOTIFIED),
                             Decision.gsi1sk.set(item.id), Decision.revision.add(1)],
                    condition=(Decision.state == "pending") & (Decision.deadline <= iso(now)))
    except UpdateError:
        item.refresh(consistent_read=True)
        return False
    return True


def told(item: Decision) -> None:
    """The asking account has been told the verdict: no longer listed for a retry."""
    item.update(actions=[Decision.gsi1pk.remove(), Decision.gsi1sk.remove()])


def due(now: datetime) -> Iterable[Decision]:
    """Pending decisions whose deadline is at or before ``now`` (keys and index attributes only: read each again)."""
    return Decision.unnotified.query(DUE, Decision.gsi1sk <= iso(now))


def unnotified() -> Iterable[Decision]:
    """Decided decisions whose asking account was not told yet (keys and index attributes only)."""
    return Decision.unnotified.query(UNNOTIFIED)
