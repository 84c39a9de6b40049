"""The front door's items in the shared state table (see chalicelib/state/models.py for the key design).

decision#<id> / decision   an approval asked for in Slack: first click wins (conditional update on state)
outbox / <at>#<id>          a Slack delivery that still failed after retries, kept and retried by schedule
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.state.models import StateItem

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
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.attribute_values.items() if k not in ("pk", "sk", "expires_at")}


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
