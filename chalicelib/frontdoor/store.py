"""The front door's items in the shared state table (see chalicelib/state/models.py for the key design).

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
                                                       (``decisions.expire_due`` lists the due ones)
                             decided, asking account   gsi1pk "decision#unnotified", gsi1sk <id>
                             not told yet              (the outbox schedule retries)
                             told                      no gsi1 keys
outbox / <at>#<id>          a Slack delivery that still failed after retries, kept and retried by schedule
message#<origin>#<key> / message
                           channel + ts of a keyed announcement (updated in place by the next one). When a
                           decision's card lives in that message (``approvals.ask(key=…)``, or
                           ``approvals.announce(key=…, decision_id=…)``), the ref also holds the *body* the asking
                           capability sent (``body`` blocks, ``text``) and the ``decision_id`` whose footer
                           (progress, buttons or verdict) the front door appends. The message is then a pure
                           function of (ref, decision): whoever changes either (a click, a re-announce) re-renders
                           it from both, and renders again if a ``revision`` moved meanwhile. The body lives on the
                           ref, not on the decision, because it belongs to the message: a later keyed announcement
                           *without* a decision_id replaces the message and detaches the decision (its clicks no
                           longer re-render a message that has moved on). ``body`` absent with a ``decision_id``
                           means "the decision's own card body".
                           Ownership: ``owner`` is the account in the key, the only one whose announcements update the
                           message. It may name one account in ``granted_to`` (an announcement with ``grant_to``);
                           only that account's ``continues`` takes the message over (``handed_to``, conditional).
"""

from __future__ import annotations

import re
from datetime import datetime

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from chalicelib.state.models import StateIndex, StateItem

_STATE_META = StateItem.Meta

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


class MessageRef(Model):
    """Where a keyed announcement was posted, so the next one with the same key updates it in place (and, when a
    decision's card lives in it, what to re-render: see the module docstring)."""

    class Meta(_STATE_META):
        pass

    pk = UnicodeAttribute(hash_key=True)  # message#<origin account>#<key>
    sk = UnicodeAttribute(range_key=True)  # "message"
    channel = UnicodeAttribute()
    ts = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    decision_id = UnicodeAttribute(null=True)  # the decision whose footer the message carries
    body = JSONAttribute(null=True)  # the capability's blocks (already safe mrkdwn) above that footer
    text = UnicodeAttribute(null=True)  # the capability's notification text for that message
    revision = NumberAttribute(null=True)
    # set when another account's announcements with this key took the message over (a promotion handed from
    # stage to prod goes on in the same card): this origin's later announcements under the key are dropped
    handed_to = UnicodeAttribute(null=True)
    # the account that owns the card (the one whose announcements posted it: the origin in the key). Only the owner
    # updates it or hands it over; ``granted_to`` is the one account it allowed to take it over (``grant_to``)
    owner = UnicodeAttribute(null=True)
    granted_to = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class OutboxItem(Model):
    class Meta(_STATE_META):
        pass

    pk = UnicodeAttribute(hash_key=True)  # "outbox"
    sk = UnicodeAttribute(range_key=True)  # <iso at>#<id>
    method = UnicodeAttribute()  # chat.postMessage | chat.update | response_url
    payload = JSONAttribute()
    correlation_id = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    last_error = UnicodeAttribute(null=True)
    dead = UnicodeAttribute(null=True)  # set when it is given up on (kept, audited, never silently dropped)
    expires_at = TTLAttribute(null=True)
