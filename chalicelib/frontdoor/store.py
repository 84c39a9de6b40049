"""The front door's own items in the shared state table (see chalicelib/state/models.py for the key design).

    fanout#<id> / fanout    a command forwarded to many accounts (``fanout.py``): expected (JSON list), parts (map
                            account -> answer text, each set once, only for an expected account), response_url,
                            title, user, channel, deadline; gsi1pk "fanout#open", gsi1sk "<deadline>#<id>" until
                            finished; finished <stamp> (set once, by the one finisher); TTL 7 days

Every write is conditional, so a redelivered answer or a second finisher changes nothing. (The Slack platform's
items, message refs, the outbox, cards and the send budget, are ``chalicelib/slackkit/``'s; decisions are
``chalicelib/decisions/store.py``'s.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from chalicelib import aws
from chalicelib.settings import get_settings
from chalicelib.state.keys import stamp

OPEN = "fanout#open"
LIFETIME = timedelta(days=7)


class Fanout(NamedTuple):
    """A fan-out as stored."""

    expected: tuple[str, ...]
    parts: Mapping[str, str]
    response_url: str
    title: str
    user: str
    channel: str | None


def _key(fanout_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"fanout#{fanout_id}"}, "sk": {"S": "fanout"}}


def _table() -> str:
    return get_settings().state_table


def _fanout(item: dict[str, Any]) -> Fanout:
    return Fanout(tuple(json.loads(item["expected"]["S"])), {a: v["S"] for a, v in item["parts"]["M"].items()},
                  item["response_url"]["S"], item["title"]["S"], item["user"]["S"], item.get("channel", {}).get("S"))


def open_fanout(fanout_id: str, *, expected: list[str], response_url: str, title: str, user: str,
                channel: str | None, deadline: datetime, now: datetime) -> None:
    """Put the fan-out, once (a second open of the same id raises ConditionalCheckFailedException)."""
    due = stamp(deadline)
    item = {**_key(fanout_id), "expected": {"S": json.dumps(expected)}, "parts": {"M": {}},
            "response_url": {"S": response_url}, "title": {"S": title}, "user": {"S": user},
            "deadline": {"S": due}, "gsi1pk": {"S": OPEN}, "gsi1sk": {"S": f"{due}#{fanout_id}"},
            "expires_at": {"N": str(int((now + LIFETIME).timestamp()))}}
    if channel:
        item["channel"] = {"S": channel}
    aws.client("dynamodb").put_item(TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(pk)")


def add_part(fanout_id: str, account: str, text: str) -> Fanout | None:
    """Set ``account``'s answer, if the fan-out exists, is not finished, expects that account and has no answer from
    it yet: the fan-out after the write, or None (nothing written)."""
    client = aws.client("dynamodb")
    try:
        answer = client.update_item(
            TableName=_table(), Key=_key(fanout_id), UpdateExpression="SET parts.#a = :t",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(finished) AND "
                                "attribute_not_exists(parts.#a) AND contains(expected, :quoted)",
            ExpressionAttributeNames={"#a": account},
            ExpressionAttributeValues={":t": {"S": text}, ":quoted": {"S": json.dumps(account)}},
            ReturnValues="ALL_NEW")
    except client.exceptions.ConditionalCheckFailedException:
        return None
    return _fanout(answer["Attributes"])


def claim_finish(fanout_id: str, now: datetime) -> Fanout | None:
    """Mark the fan-out finished (and out of the open index) if no one did: the fan-out for the one caller that did,
    None for any other (or for an unknown id)."""
    client = aws.client("dynamodb")
    try:
        answer = client.update_item(
            TableName=_table(), Key=_key(fanout_id), UpdateExpression="SET finished = :now REMOVE gsi1pk, gsi1sk",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(finished)",
            ExpressionAttributeValues={":now": {"S": stamp(now)}}, ReturnValues="ALL_NEW")
    except client.exceptions.ConditionalCheckFailedException:
        return None
    return _fanout(answer["Attributes"])


def due_fanouts(now: datetime) -> list[str]:
    """The ids of the open fan-outs whose deadline is ``now`` or earlier (one page: the oldest first)."""
    page = aws.client("dynamodb").query(
        TableName=_table(), IndexName="gsi1", KeyConditionExpression="gsi1pk = :open AND gsi1sk <= :now",
        ExpressionAttributeValues={":open": {"S": OPEN}, ":now": {"S": stamp(now) + "~"}}, ProjectionExpression="pk")
    return [row["pk"]["S"].split("#", 1)[1] for row in page.get("Items", [])]
