"""The card queue: versioned keyed announcements committed, then sent to Slack within the send budget, newest version
only, one write per card at a time. Store and executor; the decisions are ``coalesce`` and ``budget`` (pure).

Items in the state table (see models.py for the others):

    card#<origin>#<key> / card       version, sent, message (JSON), channel, correlation_id, lease_until, not_before,
                                     attempts, dead; card_options (JSON: decision_id, continues, grant_to) when the
                                     announcement had them; while queued (version > sent): gsi1pk ``cardq#<shard>``
                                     (16 shards by channel: the queue is spread, a channel keeps one order) and gsi1sk
                                     ``<first queued stamp>#<origin>#<key>`` (a card updated again keeps its place)
    card#-#msg:<channel>:<ts>        a call ``slack.deliver`` kept (the budget said wait, or Slack said 429):
    card#-#post:<channel>:<stamp>:…  call_method and its payload as message; version counts the calls (the newest
                                     call on a message wins; a post is one card each)
    budget#<bucket> / budget         tokens, at, blocked_until, rev (``budget.py``; written on condition rev = read)

Who sends: the Lambda that committed a version tries at once (``announce``, ``send``); what had to wait is sent by
the card drain (``run``: ``slack_cards``, every minute, pacing within its run), the only function that drains.

Commit, then execute: ``commit`` stores the newest version (on condition it is newer: an older one is refused and
audited as superseded). ``send`` claims the card's lease, spends the budget and writes to Slack, then records what
Slack shows. A 429 honours Retry-After (the card stays queued, the bucket is blocked); another failure backs off
and, after ``coalesce.MAX_ATTEMPTS``, goes to the outbox's dead letters, audited. Nothing is dropped silently.

    commit v2          card: version 2, queued                      (crash here: the drain sends it)
    send: claim        lease_until = now + 30 s  if version = 2 and no live lease
    send: Slack        chat.postMessage / chat.update               (crash here: the lease runs out, sent again:
                                                                     an update is idempotent; a post is recorded
                                                                     below, so a crash between the two posts twice)
    send: done         sent = 2, lease removed; gsi keys removed if version is still 2
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.slackkit import budget, coalesce, keyed, pacing, slack
from chalicelib.slackkit.pacing import (
    DELIVER,
    RETENTION,
    SHARDS,
    _conditional_failed,
    _ddb,
    _key,
    _table,
    blocked,
    keep,
    kept_key,
    retry_after_of,
    shard_of,
    spend,
    waiting,
)
from chalicelib.state import audit
from chalicelib.state.keys import stamp

__all__ = ["DELIVER", "SHARDS", "blocked", "keep", "kept_key", "retry_after_of", "spend", "waiting"]


# ---- commit ----

def commit(origin: str, key: str, version: int | None, message: dict[str, Any], *, correlation_id: str,
           now: datetime | None = None, options: dict[str, str] | None = None) -> bool:
    """Store version ``version`` of card ``(origin, key)`` as the one to send. True when it is the committed one (now,
    or already: a redelivery); False (audited) when a newer version is committed: this one is superseded, never
    sent, and never overwrites the newer. ``options``: the keyed announcement's ``decision_id``, ``continues`` or
    ``grant_to``, kept with the version (the send goes through ``keyed`` with them).

    ``version`` None: an unversioned keyed announcement, the next version of the card in arrival order (an atomic
    counter on the card item: the last to arrive is the newest, as when it was posted at once)."""
    if version is not None and not coalesce.admit(None, version):  # validates the number
        return False
    now = now or datetime.now(UTC)
    client = _ddb()
    channel = str(message.get("channel", ""))
    kept = {k: v for k, v in (options or {}).items() if v}
    try:
        client.update_item(
            TableName=_table(), Key=_key(origin, key),
            UpdateExpression=("SET version = :v, " if version is not None else
                              "SET version = if_not_exists(version, :zero) + :one, ")
                             + "message = :m, channel = :c, correlation_id = :cid, attempts = :zero, "
                             "not_before = :zero, gsi1pk = :q, gsi1sk = if_not_exists(gsi1sk, :qsk), "
                             "expires_at = :exp"
                             + (", card_options = :o REMOVE dead" if kept else " REMOVE dead, card_options"),
            **({"ConditionExpression": "attribute_not_exists(version) OR version < :v"} if version is not None
               else {}),
            ExpressionAttributeValues={
                **({":v": {"N": str(version)}} if version is not None else {":one": {"N": "1"}}),
                ":m": {"S": json.dumps(message)}, ":c": {"S": channel},
                ":cid": {"S": correlation_id}, ":zero": {"N": "0"}, ":q": {"S": f"cardq#{shard_of(channel)}"},
                ":qsk": {"S": f"{stamp(now)}#{origin}#{key}"},
                ":exp": {"N": str(int((now + RETENTION).timestamp()))},
                **({":o": {"S": json.dumps(kept)}} if kept else {})})
    except Exception as exc:
        if not _conditional_failed(client, exc):
            raise
        held = client.get_item(TableName=_table(), Key=_key(origin, key), ConsistentRead=True,
                               ProjectionExpression="version").get("Item", {})
        if int(held.get("version", {}).get("N", -1)) == version:
            return True  # the same version again (EventBridge redelivered it, or the intake's retry): committed
        metrics.add_metric(name="CardVersionsSuperseded", unit=MetricUnit.Count, value=1)
        audit.record(action="slack.card", target=f"message/{origin}/{key}", outcome=audit.Outcome.RECEIVED,
                     correlation_id=correlation_id, capability="frontdoor",
                     reason=f"version {version} superseded: a newer version of the card is already committed")
        return False
    return True


def announce(origin: str, key: str, version: int, message: dict[str, Any], *, correlation_id: str,
             options: dict[str, str] | None = None) -> Sent:
    """A versioned keyed announcement, at the front door (its own capabilities' and its peers'): committed, then sent
    at once if the budget allows (else the card waits queued and ``drain`` sends its newest version). The result's
    ``superseded`` is set when a newer version was already committed; ``refused`` when ``keyed`` refused it."""
    if not commit(origin, key, version, message, correlation_id=correlation_id, options=options):
        return Sent(superseded=True)
    return send(origin, key)


def announce_next(origin: str, key: str, message: dict[str, Any], *, correlation_id: str,
                  options: dict[str, str] | None = None) -> Sent:
    """An unversioned keyed announcement (``keyed.announce_keyed``'s, or ``keyed.attach``'s with a ``decision_id``): the
    next version of its card, then as ``announce``: sent at once if the budget allows, else queued for the drain,
    which posts it (and records where) or updates the card with its newest version."""
    commit(origin, key, None, message, correlation_id=correlation_id, options=options)
    return send(origin, key)


CARD_POST = "card:"  # key prefix (origin DELIVER) of a decision card's first post that waits: ``queue_card``


def queue_card(decision_id: str, channel: str, body: list[dict[str, Any]] | None, *, correlation_id: str) -> None:
    """A decision's card whose first post the budget (or a 429) put off (``decisions.service``): queued, and the
    drain posts it with ``keyed.post_card`` in the decision's state then, recording where (its clicks decide there).
    One per decision (a second request with the same id is the same post: committed once)."""
    commit(DELIVER, f"{CARD_POST}{decision_id}", 1, {"channel": channel, "body": body}, correlation_id=correlation_id,
           options={"decision_id": decision_id, "card": "post"})


# ---- send ----

@dataclass
class Sent:
    """What one drain did."""

    sent: int = 0
    waiting: int = 0  # budget or Retry-After: later
    ratelimited: int = 0
    failed: int = 0
    dead: int = 0
    errors: int = 0  # cards that could not be processed at all (logged; they stay queued)
    wait: float | None = None  # the shortest wait seen
    channels_waiting: set[str] = field(default_factory=set)
    buckets_waiting: set[str] = field(default_factory=set)  # budget buckets found empty in this pass
    superseded: bool = False  # (announce) a newer version of the card was already committed: this one never goes
    refused: str | None = None  # (announce) keyed refused the announcement (e.g. a card not granted): why
    not_granted: bool = False  # (announce) refused as keyed.NotGranted

    def waited(self, seconds: float) -> None:
        self.wait = seconds if self.wait is None else min(self.wait, seconds)


def _card(item: dict[str, Any]) -> coalesce.Card:
    def num(name: str) -> float | None:
        return float(item[name]["N"]) if name in item else None

    sent = num("sent")
    return coalesce.Card(version=int(item["version"]["N"]), sent=None if sent is None else int(sent),
                         lease_until=num("lease_until"), not_before=num("not_before") or 0.0,
                         attempts=int(num("attempts") or 0), dead="dead" in item)


def _web() -> Any:
    """Without slack_sdk's 429 handler: a 429 comes back here, and the card waits its Retry-After in the queue."""
    return slack.web(wait_out_rate_limits=False)


def send(origin: str, key: str, *, client: Any = None, result: Sent | None = None) -> Sent:
    """Send card ``(origin, key)``'s newest version if it is due and the budget allows. Never raises for Slack."""

    result = result if result is not None else Sent()
    ddb = _ddb()
    item = ddb.get_item(TableName=_table(), Key=_key(origin, key), ConsistentRead=True).get("Item")
    now = pacing.wall()
    if not item:
        return result
    card = _card(item)
    if not coalesce.due(card, now):
        if card.not_before > now:
            result.waiting += 1
            result.waited(card.not_before - now)
        return result
    message = json.loads(item["message"]["S"])
    channel = item["channel"]["S"]
    kept_method = item.get("call_method", {}).get("S")  # a call deliver() kept: made as it was asked
    ref = None if kept_method else keyed.message_ref(origin, key)
    if "card_options" in item or (ref is not None and (ref.handed_to or ref.decision_id or ref.body is not None)):
        # a card that carries a decision, takes another's over or grants it, or one another account took over:
        # the keyed announcement's own rules (its Slack calls go through deliver(), within the budget)
        return _by_announcement(origin, key, card, item, message, result)
    method = kept_method or ("chat.update" if ref is not None else "chat.postMessage")
    # a card: its channel as announced, one bucket for its post and its updates; a kept call: what deliver() spends
    names = (budget.names_for_call if kept_method else budget.names_for)(method, channel)
    if result.buckets_waiting.intersection(names):  # found empty earlier in this pass: not asked again
        result.waiting += 1
        return result
    wait = spend(names, refused=result.buckets_waiting)
    if wait > 0:
        result.waiting += 1
        result.waited(wait)
        result.channels_waiting.add(channel)
        return result
    if not _claim(ddb, origin, key, card.version, now):
        return result
    try:
        web = client or _web()
        if kept_method:
            slack.send_with(web, kept_method, message)
        elif ref is None:
            answer = web.chat_postMessage(**message)
            if not keyed.saved_first(origin, key, answer, item.get("correlation_id", {}).get("S", "-"),
                                     f"message/{origin}/{key}"):
                # a decision's card was posted under the key meanwhile (another card item): ours went, and this
                # version goes next as that message's update
                ddb.update_item(TableName=_table(), Key=_key(origin, key), UpdateExpression="REMOVE lease_until")
                result.waiting += 1
                result.waited(1.0)
                return result
        else:
            web.chat_update(**{**message, "channel": ref.channel, "ts": ref.ts})
    except Exception as exc:  # noqa: BLE001 - every failure keeps the card queued (or dead-letters it), audited
        _failed(ddb, origin, key, card, item, names, exc, result, now)
        return result
    _done(ddb, origin, key, card.version)
    result.sent += 1
    return result


def _claim(ddb: Any, origin: str, key: str, version: int, now: float) -> bool:
    try:
        ddb.update_item(
            TableName=_table(), Key=_key(origin, key), UpdateExpression="SET lease_until = :until",
            ConditionExpression="version = :v AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
            ExpressionAttributeValues={":until": {"N": repr(now + coalesce.LEASE_SECONDS)}, ":v": {"N": str(version)},
                                       ":now": {"N": repr(now)}})
    except Exception as exc:
        if _conditional_failed(ddb, exc):
            return False  # another sender holds it, or a newer version came: that one goes next
        raise
    return True


def _done(ddb: Any, origin: str, key: str, version: int) -> None:
    """Slack shows ``version``: recorded; the card leaves the queue unless a newer version arrived meanwhile."""
    values = {":v": {"N": str(version)}}
    try:
        ddb.update_item(TableName=_table(), Key=_key(origin, key),
                        UpdateExpression="SET sent = :v, attempts = :zero REMOVE lease_until, gsi1pk, gsi1sk",
                        ConditionExpression="version = :v", ExpressionAttributeValues={**values, ":zero": {"N": "0"}})
    except Exception as exc:
        if not _conditional_failed(ddb, exc):
            raise
        ddb.update_item(TableName=_table(), Key=_key(origin, key), UpdateExpression="SET sent = :v REMOVE lease_until",
                        ExpressionAttributeValues=values)


def _failed(ddb: Any, origin: str, key: str, card: coalesce.Card, item: dict[str, Any], names: list[str],
            exc: Exception, result: Sent, now: float) -> None:
    retry_after = retry_after_of(exc)
    after = coalesce.after_failure(card, retry_after=retry_after, now=now)
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    ddb.update_item(TableName=_table(), Key=_key(origin, key),
                    UpdateExpression="SET not_before = :nb, attempts = :a REMOVE lease_until",
                    ExpressionAttributeValues={":nb": {"N": repr(after.not_before)}, ":a": {"N": str(after.attempts)}})
    if retry_after is not None:
        blocked(names, retry_after)
        result.ratelimited += 1
        result.waited(retry_after)
        logger.info("slack said 429: the card waits its Retry-After", extra={"card": f"{origin}/{key}",
                                                                             "retry_after": retry_after})
        metrics.add_metric(name="SlackRateLimited", unit=MetricUnit.Count, value=1)
        return
    target = f"message/{origin}/{key}"
    correlation_id = item.get("correlation_id", {}).get("S", "-")
    if not after.dead:
        result.failed += 1
        logger.warning("card not sent: kept queued", extra={"card": f"{origin}/{key}", "reason": reason})
        metrics.add_metric(name="SlackDeliveriesDeferred", unit=MetricUnit.Count, value=1)
        audit.record(action="slack.card", target=target, outcome=audit.Outcome.FAILED, correlation_id=correlation_id,
                     capability="frontdoor", reason=f"version {card.version} kept queued for retry: {reason}")
        return
    _dead_letter(ddb, origin, key, card, item, reason, result)


def _dead_letter(ddb: Any, origin: str, key: str, card: coalesce.Card, item: dict[str, Any], reason: str,
                 result: Sent) -> None:
    """Given up on: the card leaves the queue (a newer version brings it back), its message is kept with the outbox's
    dead letters, audited and counted."""
    from chalicelib.slackkit.slack import OUTBOX
    from chalicelib.slackkit.store import OutboxItem

    now = datetime.now(UTC)
    why = f"card version {card.version} gave up after {coalesce.MAX_ATTEMPTS} attempts: {reason}"
    correlation_id = item.get("correlation_id", {}).get("S", "-")
    OutboxItem(OUTBOX, f"{now.isoformat()}#card#{origin}#{key}", method="card",
               payload={"origin": origin, "key": key, "version": card.version,
                        "message": json.loads(item["message"]["S"])},
               correlation_id=correlation_id, attempts=coalesce.MAX_ATTEMPTS, last_error=reason[:200], dead=why,
               expires_at=now + timedelta(days=14)).save()
    ddb.update_item(TableName=_table(), Key=_key(origin, key), UpdateExpression="SET dead = :d REMOVE gsi1pk, gsi1sk",
                    ConditionExpression="version = :v",
                    ExpressionAttributeValues={":d": {"S": why[:300]}, ":v": {"N": str(card.version)}})
    result.dead += 1
    metrics.add_metric(name="SlackDeliveriesDead", unit=MetricUnit.Count, value=1)
    audit.record(action="slack.card", target=f"message/{origin}/{key}", outcome=audit.Outcome.FAILED,
                 correlation_id=correlation_id, capability="frontdoor", reason=why)


def _by_announcement(origin: str, key: str, card: coalesce.Card, item: dict[str, Any], message: dict[str, Any],
                     result: Sent) -> Sent:
    ddb = _ddb()
    if not _claim(ddb, origin, key, card.version, pacing.wall()):
        return result
    correlation_id = item.get("correlation_id", {}).get("S", "-")
    options = json.loads(item["card_options"]["S"]) if "card_options" in item else {}
    channel = item.get("channel", {}).get("S", "")
    delivered = False
    try:  # its updates: kept by deliver() (the budget, a 429: queued here; others: the outbox); its first post: below
        if options.get("card") == "post":
            delivered = keyed.post_card(options["decision_id"], channel, message.get("body"),
                                        correlation_id=correlation_id)
        elif options.get("decision_id"):
            delivered = keyed.attach(origin, key, options["decision_id"], message, correlation_id=correlation_id)
        else:
            delivered = keyed.announce_keyed(origin, key, message, correlation_id=correlation_id,
                                             continues=options.get("continues"), grant_to=options.get("grant_to"))
    except ValueError as exc:  # not this account's card, or not granted to it: this version is never sent
        result.refused = str(exc)
        result.not_granted = isinstance(exc, keyed.NotGranted)
        audit.record(action="slack.card", target=f"message/{origin}/{key}", outcome=audit.Outcome.REJECTED,
                     correlation_id=correlation_id, capability="frontdoor",
                     reason=f"version {card.version} refused: {exc}")
    except slack.MustWait as wait:  # the first post of the message: the budget (or a 429) says later; still queued
        now = pacing.wall()
        ddb.update_item(TableName=_table(), Key=_key(origin, key), UpdateExpression="SET not_before = :nb "
                        "REMOVE lease_until", ExpressionAttributeValues={":nb": {"N": repr(now + wait.seconds)}})
        if wait.ratelimited:
            result.ratelimited += 1
        else:
            result.waiting += 1
        result.waited(wait.seconds)
        result.channels_waiting.add(channel)
        return result
    except Exception as exc:  # noqa: BLE001 - the first post failed otherwise: kept queued (backing off), audited
        _failed(ddb, origin, key, card, item, budget.names_for_call("chat.postMessage", channel), exc, result,
                pacing.wall())
        return result
    _done(ddb, origin, key, card.version)  # this version is keyed's now: what it could not send waits as its calls
    if delivered:
        result.sent += 1
    elif result.refused is None:
        result.waiting += 1
    return result


# ---- drain ----

def queued(limit: int = 1000) -> list[tuple[str, str, str, bool]]:
    """(origin, key, channel, sent before) of the queued cards, oldest first."""
    client = _ddb()
    found: list[tuple[str, str, str, str, bool]] = []
    for shard in range(SHARDS):
        kwargs: dict[str, Any] = {
            "TableName": _table(), "IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :q",
            "ExpressionAttributeValues": {":q": {"S": f"cardq#{shard}"}},
            "ProjectionExpression": "pk, gsi1sk, channel, sent"}
        while True:
            page = client.query(**kwargs)
            for row in page.get("Items", []):
                _, origin, key = row["pk"]["S"].split("#", 2)
                found.append((row["gsi1sk"]["S"], origin, key, row.get("channel", {}).get("S", ""), "sent" in row))
            if "LastEvaluatedKey" not in page or len(found) >= limit:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [(o, k, c, sent) for _, o, k, c, sent in sorted(found)[:limit]]


def drain(limit: int = 1000, *, until: float | None = None) -> Sent:
    """Send what is due, oldest first; a channel out of budget is skipped for the rest of this pass. ``until``: a
    ``time.monotonic()`` past which no further card is started (the rest stays queued for the next pass)."""
    result = Sent()
    client = None
    for origin, key, channel, sent_before in queued(limit):
        if until is not None and time.monotonic() > until:
            break
        if channel in result.channels_waiting:
            continue
        if sent_before and "method:chat.update" in result.buckets_waiting:  # an update, and none may go now
            result.waiting += 1
            continue
        try:
            client = client or _web()
            send(origin, key, client=client, result=result)
        except Exception:  # noqa: BLE001 - each card on its own: the others still go; this one stays queued
            result.errors += 1
            logger.exception("a queued card could not be processed", extra={"card": f"{origin}/{key}"})
            metrics.add_metric(name="OutboxItemErrors", unit=MetricUnit.Count, value=1)
    return result


DRAIN_SECONDS = 40.0  # of the card drain's minute (its timeout is 60 s; the next run starts a minute after this one)
DRAIN_STOP = 50.0  # no card is started after this, even in a long pass: a send takes well under the 10 s left


def run(seconds: float = DRAIN_SECONDS, *, sleep: Any = None) -> Sent:
    """The card drain's run (``slack_cards``, every minute): drain, and while cards wait for the budget (a second
    per channel) or a Retry-After that ends within ``seconds`` of the start, wait for the first of them and drain
    again. An idle queue costs one pass; a storm is paced here, in the one function whose work it is (never in the
    Lambda that took the event), and whatever still waits goes in the next minute's run."""
    sleep = sleep or time.sleep
    total = Sent()
    started = time.monotonic()  # only differences: a fresh microVM's clock starts near 0
    while True:
        result = drain(until=started + max(seconds, DRAIN_STOP))
        for name in ("sent", "ratelimited", "failed", "dead", "errors"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.waiting, total.wait = result.waiting, result.wait
        if not (result.waiting or result.ratelimited) or result.wait is None:
            return total
        pause = max(result.wait, 0.05)
        if time.monotonic() - started + pause > seconds:
            return total
        sleep(pause)

