"""Helpers the fixtures share (import these, never conftest itself: importing it twice re-runs it)."""

from __future__ import annotations

import os


def create_tables() -> None:
    import boto3

    from chalicelib.state.models import AuditEntry, StateItem

    AuditEntry.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    StateItem.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    boto3.client("dynamodb").create_table(
        TableName=os.environ.get("SWITCHBOARD_LEDGER_TABLE", "switchboard-ledger"),
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def reset_caches() -> None:
    from chalicelib import aws, policy, settings
    from chalicelib.frontdoor import http, slack
    from chalicelib.state import ledger

    aws.reset()
    ledger.reset()
    settings.get_settings.cache_clear()
    policy.current.cache_clear()
    slack._provider.cache_clear()
    slack.forget_groups()
    http.use_lambda_client(None)
    from chalicelib import alerts

    alerts.forget_caches()
