"""PynamoDB models. Table names come from the environment (set per stage in .chalice/config.json).

Key design (justified in docs/ARCHITECTURE.md):

audit  (switchboard-audit)   PK target          SK at ("<iso8601 µs>#<8 hex>": time-ordered, unique)
       GSI by_correlation    PK correlation_id  SK at    -> "what did this event / Slack command cause?"
       GSI by_day            PK day             SK at    -> "what happened today?" (one partition a day)
       TTL expires_at (audit retention)
ledger (switchboard-ledger)  PK id  (Powertools Idempotency's own layout; see chalicelib/state/ledger.py)
state  (switchboard-state)   PK pk  SK sk, GSI gsi1 (gsi1pk, gsi1sk), TTL expires_at: one table shared by the
       capabilities, each in its own key space ("promotion#…", "incident#…", "lease#…").
"""

from __future__ import annotations

import os

from pynamodb.attributes import JSONAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class _Meta:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"
    host = os.environ.get("AWS_ENDPOINT_URL") or None
    max_retry_attempts = 5
    connect_timeout_seconds = 5
    read_timeout_seconds = 20


class ByCorrelation(GlobalSecondaryIndex["AuditEntry"]):
    class Meta:
        index_name = "by_correlation"
        projection = AllProjection()

    correlation_id = UnicodeAttribute(hash_key=True)
    at = UnicodeAttribute(range_key=True)


class ByDay(GlobalSecondaryIndex["AuditEntry"]):
    class Meta:
        index_name = "by_day"
        projection = AllProjection()

    day = UnicodeAttribute(hash_key=True)
    at = UnicodeAttribute(range_key=True)


class AuditEntry(Model):
    """One thing Switchboard did or refused: who, what, target, before, after, outcome, correlation id."""

    class Meta(_Meta):
        table_name = os.environ.get("SWITCHBOARD_AUDIT_TABLE", "switchboard-audit")

    target = UnicodeAttribute(hash_key=True)
    at = UnicodeAttribute(range_key=True)
    day = UnicodeAttribute()
    actor = UnicodeAttribute()  # a Slack user id, or "system"
    action = UnicodeAttribute()  # e.g. "intake.codepipeline", "scaling.set_desired"
    capability = UnicodeAttribute()
    outcome = UnicodeAttribute()  # see chalicelib.state.audit.Outcome
    correlation_id = UnicodeAttribute()
    account = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    before = JSONAttribute(null=True)
    after = JSONAttribute(null=True)
    detail = JSONAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    by_correlation = ByCorrelation()
    by_day = ByDay()


class StateIndex(GlobalSecondaryIndex["StateItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class StateItem(Model):
    """Base layout of the shared capability state table; capabilities subclass it with their attributes."""

    class Meta(_Meta):
        table_name = os.environ.get("SWITCHBOARD_STATE_TABLE", "switchboard-state")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    gsi1 = StateIndex()
