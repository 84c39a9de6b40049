"""Switchboard's state in DynamoDB: the audit log, the event ledger and the capability state table."""
