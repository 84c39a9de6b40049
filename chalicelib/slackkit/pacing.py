"""The send budget's store, and the Slack calls that wait for it: no Slack here, so that both the Slack adapter
(``slack.deliver``) and the card queue (``cardq``) use it (see ``cardq`` for the items).

- ``spend`` / ``blocked``: the token buckets of ``budget`` (pure), read and written on condition of the revision
  read, so concurrent Lambdas share them; ``wall`` is the clock they are read on.
- ``keep`` / ``waiting``: a call ``slack.deliver`` could not make now (the budget said wait, or Slack said 429)
  queued as a card of origin ``-`` for the card drain; whether one waits for a message already.
"""

from __future__ import annotations

import json
import secrets
import time
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import aws
from chalicelib.observability import MetricUnit, metrics
from chalicelib.settings import get_settings
from chalicelib.slackkit import budget
from chalicelib.state.keys import stamp

SHARDS = 16
RETENTION = timedelta(days=30)
_BUDGET_TRIES = 5


def _key(origin: str, key: str) -> dict[str, Any]:
    return {"pk": {"S": f"card#{origin}#{key}"}, "sk": {"S": "card"}}


def shard_of(channel: str) -> int:
    return zlib.crc32(channel.encode()) % SHARDS


def _table() -> str:
    return get_settings().state_table


def _ddb() -> Any:
    return aws.client("dynamodb")


def _conditional_failed(client: Any, exc: Exception) -> bool:
    return isinstance(exc, client.exceptions.ConditionalCheckFailedException)


def wall() -> float:
    """The wall clock the budget, Retry-After and leases are read on (seconds). A test that compresses a story's
    minutes into milliseconds points it at the story's clock."""
    return time.time()


def retry_after_of(exc: Exception) -> float | None:
    """Slack's Retry-After (seconds, at least 1) when ``exc`` is a 429; else None."""
    response = getattr(exc, "response", None)
    if response is None or getattr(response, "status_code", None) != 429:
        return None
    try:
        return max(1.0, float(response.headers.get("Retry-After") or response.headers.get("retry-after") or 1))
    except (TypeError, ValueError):
        return 1.0


# ---- what deliver() could not send at once (the budget said wait, or Slack said 429) ----

DELIVER = "-"  # the origin of deliver()'s kept messages (no account is named "-")


def kept_key(method: str, payload: dict[str, Any]) -> str:
    """The card a kept delivery waits as: one per message for chat.update and chat.delete (a later one replaces a
    waiting one: the message's newest call wins, and nothing overtakes it), one per call for a post."""
    channel = str(payload.get("channel", ""))
    if method in ("chat.update", "chat.delete"):
        return f"msg:{channel}:{payload.get('ts', '')}"
    return f"post:{channel}:{stamp(datetime.now(UTC))}:{secrets.token_hex(4)}"


def keep(method: str, payload: dict[str, Any], *, correlation_id: str, not_before: float = 0.0) -> str:
    """Queue a Slack call ``deliver()`` could not make now: the drain makes it within the budget. Unconditional (the
    newest call on a message wins: its version is raised by one). Returns the card's key."""
    key = kept_key(method, payload)
    now = datetime.now(UTC)
    channel = str(payload.get("channel", ""))
    _ddb().update_item(
        TableName=_table(), Key=_key(DELIVER, key),
        UpdateExpression="SET version = if_not_exists(version, :zero) + :one, message = :m, channel = :c, "
                         "call_method = :method, correlation_id = :cid, attempts = :zero, not_before = :nb, "
                         "gsi1pk = :q, gsi1sk = if_not_exists(gsi1sk, :qsk), expires_at = :exp REMOVE dead",
        ExpressionAttributeValues={
            ":zero": {"N": "0"}, ":one": {"N": "1"}, ":m": {"S": json.dumps(payload)}, ":c": {"S": channel},
            ":method": {"S": method}, ":cid": {"S": correlation_id}, ":nb": {"N": repr(not_before)},
            ":q": {"S": f"cardq#{shard_of(channel)}"}, ":qsk": {"S": f"{stamp(now)}#{DELIVER}#{key}"},
            ":exp": {"N": str(int((now + RETENTION).timestamp()))}})
    metrics.add_metric(name="SlackDeliveriesWaiting", unit=MetricUnit.Count, value=1)
    return key


def waiting(method: str, payload: dict[str, Any]) -> bool:
    """Whether an earlier call on the same message waits in the queue (then this one must wait behind it)."""
    if method not in ("chat.update", "chat.delete"):
        return False
    item = _ddb().get_item(TableName=_table(), Key=_key(DELIVER, kept_key(method, payload)), ConsistentRead=True,
                           ProjectionExpression="version, sent, dead").get("Item")
    return bool(item) and "dead" not in item and int(item.get("sent", {}).get("N", -1)) < int(item["version"]["N"])


# ---- the budget's store ----

def _read_budget(client: Any, name: str) -> tuple[budget.State | None, int]:
    item = client.get_item(TableName=_table(), Key={"pk": {"S": f"budget#{name}"}, "sk": {"S": "budget"}},
                           ConsistentRead=True).get("Item")
    if not item:
        return None, 0
    return (budget.State(float(item["tokens"]["N"]), float(item["at"]["N"]), float(item["blocked_until"]["N"])),
            int(item["rev"]["N"]))


def _write_budget(client: Any, name: str, state: budget.State, rev: int) -> bool:
    try:
        client.put_item(
            TableName=_table(),
            Item={"pk": {"S": f"budget#{name}"}, "sk": {"S": "budget"}, "tokens": {"N": repr(state.tokens)},
                  "at": {"N": repr(state.at)}, "blocked_until": {"N": repr(state.blocked_until)},
                  "rev": {"N": str(rev + 1)}, "expires_at": {"N": str(int(state.at) + 86400)}},
            ConditionExpression="attribute_not_exists(pk) OR rev = :rev",
            ExpressionAttributeValues={":rev": {"N": str(rev)}})
    except Exception as exc:
        if _conditional_failed(client, exc):
            return False
        raise
    return True


def spend(names: list[str], now: float | None = None, *, refused: set[str] | None = None) -> float:
    """Spend one token from each bucket: 0.0 when spent from all, else the seconds to wait (from the first that
    had none, added to ``refused``; tokens already spent from the buckets before it are not given back: a little
    under budget)."""
    client = _ddb()
    for name in names:
        bucket = budget.bucket_for(name)
        for _ in range(_BUDGET_TRIES):
            at = wall() if now is None else now
            state, rev = _read_budget(client, name)
            new, wait = budget.take(bucket, state, at)
            if wait > 0:
                if refused is not None:
                    refused.add(name)
                return wait
            if _write_budget(client, name, new, rev):
                break
        else:
            return 1.0 / bucket.rate  # lost every race: others are spending it
    return 0.0


def blocked(names: list[str], retry_after: float, now: float | None = None) -> None:
    """Slack said 429: nothing through these buckets before ``retry_after`` seconds."""
    client = _ddb()
    for name in names:
        for _ in range(_BUDGET_TRIES):
            at = wall() if now is None else now
            state, rev = _read_budget(client, name)
            if _write_budget(client, name, budget.block(budget.bucket_for(name), state, at, retry_after), rev):
                break
