"""Send feed records to the front door's console: the one way every capability tells it what changed.

``publish(record, ...)`` is called where each capability writes its state (``audit.record`` for audit entries,
the promotion, incident, silence and scaling stores, rotation events and the watch), after the write it
describes. In the front door the records go straight into the read model; anywhere else they are sealed and sent
as one ``feed`` event (``peering.send``) to the front door named in policy. Inside ``batch()`` (each event
``intake.handle`` processes) records are kept and sent together at the end, one event for the lot.

The feed never fails the change it describes: that change is committed already. A record that cannot be
delivered is logged with its entity and counted (``FeedRecordsLost``); the entity's next change sends its whole
latest state again, and the history shows the gap. A policy that does not let this account send ``feed`` to the
front door sends nothing (the console is off for it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from chalicelib.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from chalicelib.console.records import Record

MAX_BATCH = 30  # records per feed event: a batch fits one EventBridge event (256 KB) with room to spare

_pending: ContextVar[list[Record] | None] = ContextVar("console_feed", default=None)


def publish(*records: Record | None) -> None:
    found = [r for r in records if r is not None]
    if not found:
        return
    pending = _pending.get()
    if pending is not None:
        pending.extend(found)
        return
    deliver(found)


def build(make: Callable[[], Record | None]) -> Record | None:
    """``make()``, or None (logged) when the capability's object does not make a record: the change stands."""
    try:
        return make()
    except Exception as exc:  # noqa: BLE001 - the change it describes is committed; never fail it
        logger.warning("feed record not built", extra={"error": f"{type(exc).__name__}: {exc}"})
        metrics.add_metric(name="FeedRecordsLost", unit=MetricUnit.Count, value=1)
        return None


@contextmanager
def batch() -> Iterator[None]:
    """Keep what is published inside, deliver it at the end (also when the body raised: what was committed)."""
    if _pending.get() is not None:  # nested: the outer batch delivers
        yield
        return
    token = _pending.set([])
    try:
        yield
    finally:
        found = _pending.get() or []
        _pending.reset(token)
        if found:
            deliver(found)


def here() -> dict[str, str]:
    """This account's name and environment, as every record names them."""
    from chalicelib.policy import loader as policy

    this = policy.current().account
    return {"account": this.name, "environment": this.environment}


def deliver(records: list[Record]) -> None:
    try:
        _deliver(records)
    except Exception as exc:  # noqa: BLE001 - see the module's docstring: logged and counted, never raised
        logger.error("feed records not delivered", extra={
            "error": f"{type(exc).__name__}: {exc}"[:500],
            "records": [f"{r.kind}/{r.id}@{r.version}" for r in records][:20]})
        metrics.add_metric(name="FeedRecordsLost", unit=MetricUnit.Count, value=len(records))


def _deliver(records: list[Record]) -> None:
    from chalicelib.policy import loader as policy
    from chalicelib.policy.schema import Flow

    current = policy.current()
    front_door = current.slack.front_door
    if front_door == current.account.name:
        from chalicelib.console import store

        for record in records:
            store.apply(record)
        return
    peer = current.peers.get(front_door)
    if peer is None or Flow.FEED not in peer.send:
        return
    from chalicelib.peering.send import send

    for start in range(0, len(records), MAX_BATCH):
        chunk = records[start:start + MAX_BATCH]
        send(current, front_door, Flow.FEED, {"records": [r.model_dump(mode="json") for r in chunk]})


def payload_records(payload: Any) -> list[Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        return []
    return payload["records"][:MAX_BATCH]
