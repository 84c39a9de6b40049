"""The Slack platform's items in the shared state table (see chalicelib/state/models.py for the key design); only the
front door's account writes them (it alone talks to Slack).

(Decisions, ``decision#<id> / decision``, are ``chalicelib/decisions/store.py``'s.)

outbox / <at>#<id>          a Slack delivery that still failed after retries, kept and retried by schedule
message#<origin>#<key> / message
                           channel + ts of a keyed announcement (updated in place by the next one). When a
                           decision's card lives in that message (``decisions.service.ask(key=…)``, or
                           ``announcements.announce(key=…, decision_id=…)``), the ref also holds the *body* the asking
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

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from chalicelib.state.models import StateItem

_STATE_META = StateItem.Meta

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
