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
    create_console_table()


def create_console_table(client=None) -> None:  # type: ignore[no-untyped-def]
    """The front door's read model (as infra/account.yaml makes it, IsSlackFrontDoor)."""
    import boto3

    client = client or boto3.client("dynamodb")
    index = [{"IndexName": f"audit_{f}", "KeySchema": [{"AttributeName": f"f_{f}", "KeyType": "HASH"},
                                                      {"AttributeName": "sk", "KeyType": "RANGE"}],
              "Projection": {"ProjectionType": "ALL"}} for f in ("account", "actor", "target")]
    client.create_table(
        TableName=os.environ.get("SWITCHBOARD_CONSOLE_TABLE", "switchboard-console"),
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                              for a in ("pk", "sk", "f_account", "f_actor", "f_target")],
        GlobalSecondaryIndexes=index, BillingMode="PAY_PER_REQUEST")


ACCOUNT_IDS = {"shared-services": "111122223333", "stage": "222233334444", "prod": "333344445555"}
MOTO_ACCOUNT = "123456789012"  # moto's default account: every emulated account of the tests lives in it


def signing_alias(account: str) -> str:
    return f"alias/switchboard-signing-{account}"


def create_signing_keys() -> None:
    """Each account's signing key (with the local world's demo private half, which the shipped policies pin),
    side by side in moto's default account under one alias per account; ``use_signing_key`` picks the one of
    the account a test acts as."""
    import boto3

    from localworld import keys

    kms = boto3.client("kms")
    for name, account_id in ACCOUNT_IDS.items():
        keys.create(kms, MOTO_ACCOUNT, os.environ["AWS_REGION"], alias=signing_alias(name), for_account=account_id)


def reset_caches() -> None:
    from chalicelib import aws, settings
    from chalicelib.frontdoor import http
    from chalicelib.policy import loader as policy
    from chalicelib.slackkit import slack
    from chalicelib.state import ledger

    aws.reset()
    ledger.reset()
    settings.get_settings.cache_clear()
    policy.current.cache_clear()
    slack._provider.cache_clear()
    slack.forget_groups()
    http.use_lambda_client(None)
    http.forget_unusable()
    from chalicelib.alerts.caches import forget_caches
    from chalicelib.console import store

    forget_caches()
    store.forget()


# Switchboard events that ask a peer to act; the console's `feed` (a report of what happened, to the front door's
# read model) has tests of its own and is left out of what these captures see.
ACTIONABLE = {"source": ["switchboard"], "detail": {"flow": [{"anything-but": ["feed"]}]}}


def capture_switchboard_events(queue: str = "captured"):
    """Route every Switchboard event on this account's bus to an SQS queue; returns ``take()``, which returns (and
    consumes) what arrived since the last call."""
    import json

    import boto3

    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"capture-{queue}", EventPattern=json.dumps(ACTIONABLE))
    events.put_targets(Rule=f"capture-{queue}", Targets=[{"Id": "q", "Arn": arn}])

    def take() -> list[dict]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in got]
    return take
