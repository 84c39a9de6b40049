"""The pending request item in the shared state table (see chalicelib/state/models.py for the key design).

pending#<id> / request   one approval this account asked for and is waiting on. Written once by a conditional put
                         (``attribute_not_exists``) before the question leaves the account; ``state`` then moves
                         ``pending -> decided -> done`` by conditional updates only:
                         - ``decided``: a result that passed every check was committed (verdict, approvers, decision
                           id) on condition that the request was still pending with this nonce: of two results, one
                           commits, the other is refused as a replay;
                         - ``done``: the capability acted on the stored subject. A crash in between leaves it
                           ``decided``: the redelivered result (same decision, same verdict) runs the capability's
                           idempotent action again, and nothing else can.
                         TTL 30 days past ``valid_until`` (a result after ``valid_until`` is refused anyway).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from chalicelib.state.models import StateItem


class PendingRequest(Model):
    class Meta(StateItem.Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)  # pending#<id>
    sk = UnicodeAttribute(range_key=True)  # "request"
    id = UnicodeAttribute()
    nonce = UnicodeAttribute()  # random, travels with the request, must come back unchanged
    capability = UnicodeAttribute()
    subject = JSONAttribute()  # what exactly would be done: the capability acts on this, never on a payload
    digest = UnicodeAttribute()  # sha256 of the subject's canonical JSON (travels instead of the subject)
    environment = UnicodeAttribute()  # this account's environment: roles are checked there
    role = UnicodeAttribute()  # the role each approver needs
    required = NumberAttribute()  # distinct approvers
    group = UnicodeAttribute(null=True)  # approvers must also be in this Slack user group
    four_eyes = BooleanAttribute(null=True)  # forced by the request (policy's slack.four_eyes applies anyway)
    requester = UnicodeAttribute()
    author = UnicodeAttribute(null=True)
    deadline = UnicodeAttribute(null=True)  # stamp(): only a request with a deadline may come back "expired"
    valid_until = UnicodeAttribute()  # stamp(): a result after it is refused
    correlation_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    state = UnicodeAttribute()  # pending | decided | done
    decision_id = UnicodeAttribute(null=True)  # set when decided: the front door's decision
    verdict = UnicodeAttribute(null=True)
    approvers = ListAttribute(of=UnicodeAttribute, null=True)  # those that counted here
    decided_by = UnicodeAttribute(null=True)
    settled_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
