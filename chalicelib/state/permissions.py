"""The IAM statements for Switchboard's three tables, as groups ``infra/iam_policy.py`` gives to each function that
needs them (see ``docs/ARCHITECTURE.md``, "Who may do what"):

- ``STATE``: the state table, read and write (capabilities' own items: incidents, promotions, leases, outbox...);
- ``LEDGER``: the ledger (Powertools Idempotency), for the functions that take events through ``intake`` or Slack
  requests through the front door; it puts, updates and deletes its own records;
- ``AUDIT_APPEND``: the audit log is append-only for every function: ``PutItem`` only (``audit.record`` always puts
  with ``attribute_not_exists``, so an entry is never overwritten), and an explicit Deny of every call that could
  change or remove an entry, so no later Allow can grant it. Entries leave by the table's TTL (``expires_at``);
- ``AUDIT_READ``: querying the audit log (``/ops audit``; rotation's "when did this secret last fail").

IAM has no condition key that tells a conditional ``PutItem`` from a plain one: that an entry is never overwritten
rests on ``audit.record`` (tests/test_iam_roles.py reads it) and on the random suffix of every sort key.
"""

from __future__ import annotations

from typing import Any

STATE = "group:state"
LEDGER = "group:ledger"
AUDIT_APPEND = "group:audit-append"
AUDIT_READ = "group:audit-read"

# Every call that could change or remove an audit entry (or the table's retention), denied outright.
AUDIT_NEVER = ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate",
               "dynamodb:PartiQLDelete", "dynamodb:PartiQLInsert", "dynamodb:DeleteTable", "dynamodb:UpdateTable",
               "dynamodb:UpdateTimeToLive", "dynamodb:RestoreTableToPointInTime", "dynamodb:ImportTable"]


def groups(policy: Any, tables: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """``tables``: ``audit``, ``ledger``, ``state`` -> table name (from .chalice/config.json)."""
    region, account = policy.account.region, policy.account.id

    def arn(table: str) -> str:
        return f"arn:aws:dynamodb:{region}:{account}:table/{tables[table]}"

    return {
        STATE: [{
            "Sid": "StateTable",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                       "dynamodb:Query"],
            "Resource": [arn("state"), f"{arn('state')}/index/*"],
        }],
        LEDGER: [{
            "Sid": "Ledger",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            "Resource": arn("ledger"),
        }],
        AUDIT_APPEND: [
            {"Sid": "AuditAppend", "Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": arn("audit")},
            {"Sid": "AuditImmutable", "Effect": "Deny", "Action": AUDIT_NEVER,
             "Resource": [arn("audit"), f"{arn('audit')}/index/*"]},
        ],
        AUDIT_READ: [{
            "Sid": "AuditRead",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": [arn("audit"), f"{arn('audit')}/index/*"],
        }],
    }
