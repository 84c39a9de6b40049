"""The replay ledger: each envelope id is believed once.

One item per envelope in ``switchboard-state``: ``pk = envelope#<sender id>#<envelope id>``, ``sk = seen``,
the EventBridge event id that first carried it, and a TTL a little past the envelope's expiry (after which the
envelope itself is refused as expired, so the item is no longer needed).

    first delivery        put if absent                         -> believed
    same event redelivered (the intake's ledger forgot it after a failure, Lambda retried)
                          put if absent OR event_id = this one  -> believed again (the same delivery)
    the envelope copied into a new event (a replay)
                          condition fails                       -> refused
"""

from __future__ import annotations

from datetime import datetime

from chalicelib import aws
from chalicelib.peering.envelope import SKEW
from chalicelib.peering.exceptions import Refused
from chalicelib.settings import get_settings


def remember(*, sender: str, envelope_id: str, event_id: str, expires_at: datetime) -> None:
    """Claim the envelope for this event, or raise Refused if another event already carried it."""
    client = aws.client("dynamodb")
    try:
        client.put_item(
            TableName=get_settings().state_table,
            Item={"pk": {"S": f"envelope#{sender}#{envelope_id}"}, "sk": {"S": "seen"},
                  "event_id": {"S": event_id},
                  "expires_at": {"N": str(int((expires_at + SKEW).timestamp()) + 3600)}},
            ConditionExpression="attribute_not_exists(pk) OR event_id = :event",
            ExpressionAttributeValues={":event": {"S": event_id}})
    except client.exceptions.ConditionalCheckFailedException:
        raise Refused(f"replayed: envelope {envelope_id} from account {sender} was already delivered") from None
