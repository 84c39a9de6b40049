"""The front door's items in the shared state table (see chalicelib/state/models.py for the key design).

decision#<id> / decision   an approval asked for in Slack: first click wins (conditional update on state);
                           gsi1 "decision#unnotified" lists decided ones whose asking account was not told yet
outbox / <at>#<id>          a Slack delivery that still failed after retries, kept and retried by schedule
message#<origin>#<key> / message   channel + ts of a keyed announcement (updated in place by the next one)
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.state.models import StateIndex, StateItem

_STATE_META = StateItem.Meta


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
    state = UnicodeAttribute()  # pending | approved | rejected
    decided_by = UnicodeAttribute(null=True)
    decided_at = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    payload = JSONAttribute(null=True)
    origin = UnicodeAttribute(null=True)  # the account whose capability asked (it acts on the verdict)
    created_at = UnicodeAttribute()
    # set while the asking account has not yet been told the verdict (the outbox schedule retries it)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    unnotified = StateIndex()

    def as_dict(self) -> dict:
        return {k: v for k, v in self.attribute_values.items()
                if k not in ("pk", "sk", "expires_at", "gsi1pk", "gsi1sk")}


class MessageRef(Model):
    """Where a keyed announcement was posted, so the next one with the same key updates it in place."""

    class Meta(_STATE_META):
        pass

    pk = UnicodeAttribute(hash_key=True)  # message#<origin account>#<key>
    sk = UnicodeAttribute(range_key=True)  # "message"
    channel = UnicodeAttribute()
    ts = UnicodeAttribute()
    updated_at = UnicodeAttribute()
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
