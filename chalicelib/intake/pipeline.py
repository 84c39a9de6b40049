"""One event's path through Switchboard: identify -> ledger (once) -> parse -> authorise -> dispatch.

``handle()`` is what every EventBridge handler in app.py calls. A malformed or unauthorised event is logged
as a structured error, audited as ``rejected`` and *returned* (not raised): raising would make Lambda retry
an event that can never succeed. Each capability succeeds or fails on its own: an unexpected error inside one
is audited as ``failed``, the others still run, and once the event's ledger record is complete (remembering
which failed) ``CapabilitiesFailed`` is raised, so Lambda retries the event (then the dead-letter queue) and
the retry runs only the capabilities that failed (``_retry_failed``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from chalicelib import capabilities
from chalicelib.capabilities import Capability, Context
from chalicelib.intake.events import MODELS, Kind, PeerEvent, ScheduleEvent
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.policy import loader as policy
from chalicelib.settings import get_settings
from chalicelib.state import audit, ledger


class Rejected(Exception):
    def __init__(self, reason: str, target: str = "-"):
        super().__init__(reason)
        self.reason = reason
        self.target = target


def event_id_of(raw: Any) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"]:
        return raw["id"]
    blob = json.dumps(raw, sort_keys=True, default=str).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()[:32]


def handle(kind: Kind, raw: Any, lambda_context: Any = None) -> dict[str, Any]:
    """Process one delivery of an event. Returns the outcome (the stored one for a duplicate delivery)."""
    event_id = event_id_of(raw)
    logger.set_correlation_id(event_id)
    logger.append_keys(kind=str(kind), account_name=get_settings().account_name)
    invocation = uuid.uuid4().hex
    metrics.add_dimension(name="kind", value=str(kind))
    try:
        # A parallel delivery holding the event makes this one raise, so Lambda retries it after that one is done.
        run = ledger.once(_process, context=lambda_context, on_in_progress=_in_progress)
        from chalicelib.console import feed  # light: the records' model is imported when one is built

        with feed.batch():  # what this event changed reaches the console as one feed event (chalicelib/console)
            outcome = run(data={"id": f"{kind}:{event_id}", "kind": str(kind), "event_id": event_id,
                                "event": raw, "invocation": invocation})
        duplicate = outcome.get("invocation") != invocation
        if outcome.get("failed"):
            if not duplicate:
                raise CapabilitiesFailed(kind, event_id, outcome["failed"])
            outcome = _retry_failed(kind, raw, outcome, lambda_context)
            duplicate = not outcome["retried"]
            outcome["retried"] = [str(c) for c in outcome["retried"]]
        if duplicate:
            logger.info("duplicate delivery: already processed", extra={"outcome": outcome["outcome"]})
            metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
        return {**outcome, "duplicate": duplicate}
    finally:
        metrics.flush_metrics()


# What Chalice's CloudWatchEvent reads from the payload before any of our code runs (chalice/app.py).
EVENTBRIDGE_KEYS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


def entry(kind: Kind) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a Chalice EventBridge handler so that any payload Lambda may be given is handled: an EventBridge event
    goes through Chalice as usual; anything else (an SNS message, a CodeStar notification, a test invoke) is
    rejected with a one-line reason, audited and counted by ``handle``, instead of a KeyError inside Chalice's
    event wrapper. Deployment is unchanged: Chalice registers the rule from the handler it returned."""
    def wrap(chalice_handler: Callable[..., Any]) -> Callable[..., Any]:
        def run(event: Any, context: Any = None) -> Any:
            if isinstance(event, dict) and all(key in event for key in EVENTBRIDGE_KEYS):
                return chalice_handler(event, context)
            return handle(kind, event, context)

        run.__name__ = run.__qualname__ = getattr(chalice_handler, "__name__", str(kind))
        run.__wrapped__ = chalice_handler  # type: ignore[attr-defined]
        return run
    return wrap


def _in_progress() -> None:
    logger.info("delivery already in progress elsewhere: left for retry")
    metrics.add_metric(name="ConcurrentDeliveries", unit=MetricUnit.Count, value=1)


def _process(data: dict[str, Any]) -> dict[str, Any]:
    kind, event_id, raw = Kind(data["kind"]), data["event_id"], data["event"]
    base = {"event_id": event_id, "kind": str(kind), "invocation": data["invocation"],
            "account": get_settings().account_name}
    current = policy.current()
    try:
        event = _parse(kind, raw)
        routes = _route(kind, event, current, raw, event_id)
    except Rejected as rej:
        logger.error("event rejected", extra={"reason": rej.reason, "target": rej.target})
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        audit.record(action=f"intake.{kind}", target=rej.target, outcome=audit.Outcome.REJECTED,
                     correlation_id=event_id, capability="intake", reason=rej.reason,
                     detail=_summary(raw))
        return {**base, "outcome": "rejected", "reason": rej.reason, "target": rej.target, "results": []}

    ctx = Context(event_id=event_id, kind=kind, policy=current)
    results, failed = [], []
    for capability in routes:
        try:
            result = capabilities.handler_for(capability)(event, ctx)
        except Exception as exc:  # noqa: BLE001 - each capability fails on its own: audited, retried alone
            _failed(kind, event, event_id, capability, exc)
            failed.append(str(capability))
            continue
        results.append(_result(capability, result))
    if failed:
        logger.info("event processed in part", extra={"target": event.target, "failed": failed})
        return {**base, "outcome": "partial", "reason": f"failed: {', '.join(failed)}", "target": event.target,
                "results": results, "failed": failed}
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    logger.info("event processed", extra={"target": event.target, "results": results})
    return {**base, "outcome": "processed", "reason": None, "target": event.target, "results": results}


def _result(capability: Capability, result: capabilities.Result) -> dict[str, Any]:
    return {"capability": str(capability), "outcome": str(result.outcome), "reason": result.reason,
            "actions": result.actions}


def _failed(kind: Kind, event: Any, event_id: str, capability: Capability, exc: Exception) -> None:
    logger.exception("capability failed", extra={"capability": str(capability)})
    metrics.add_metric(name="CapabilityErrors", unit=MetricUnit.Count, value=1)
    audit.record(action=f"intake.{kind}", target=event.target, outcome=audit.Outcome.FAILED,
                 correlation_id=event_id, capability=str(capability), reason=f"{type(exc).__name__}: {exc}")


class CapabilitiesFailed(RuntimeError):
    """Raised to Lambda after the event's ledger record is complete, when a capability failed on it: Lambda
    retries the event (then the dead-letter queue), and the retry runs only the capabilities that failed."""

    def __init__(self, kind: Kind, event_id: str, failed: list[str]):
        super().__init__(f"{kind} event {event_id}: failed in {', '.join(failed)} (retried alone)")
        self.failed = failed


def _retry_failed(kind: Kind, raw: Any, stored: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    """A redelivery of an event some capabilities failed on: run each of those once more, each under its own
    ledger record (``<kind>:<event id>:<capability>``), so one that succeeds is never run again and the others
    never run twice. The capabilities that succeeded the first time are not run again at all.

        first delivery:  A ok, B raises   -> event record COMPLETED {failed: [B]} -> raise (Lambda retries)
        retry:           event record says failed [B] -> B under record "…:B": ok -> COMPLETED
        any later copy:  event record says failed [B] -> record "…:B" COMPLETED -> nothing runs
    """
    event_id = stored["event_id"]
    current = policy.current()
    event = _parse(kind, raw)
    ctx = Context(event_id=event_id, kind=kind, policy=current)
    still, ran, results = [], [], list(stored.get("results", []))
    for name in stored["failed"]:
        capability = name

        def run(data: dict[str, Any], capability: Capability = capability) -> dict[str, Any]:
            ran.append(capability)
            try:
                return _result(capability, capabilities.handler_for(capability)(event, ctx))
            except Exception as exc:
                _failed(kind, event, event_id, capability, exc)
                raise

        try:
            results.append(ledger.once(run, context=lambda_context)(data={"id": f"{kind}:{event_id}:{name}"}))
        except Exception:  # noqa: BLE001 - told above; the others still run
            still.append(name)
    if still:
        raise CapabilitiesFailed(kind, event_id, still)
    if ran:
        metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    return {**stored, "outcome": "processed", "reason": None, "results": results, "failed": [], "retried": ran}


def _parse(kind: Kind, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise Rejected(f"event is not a JSON object (got {type(raw).__name__})")
    missing = [key for key in EVENTBRIDGE_KEYS if key not in raw]
    if kind is not Kind.SCHEDULE and len(missing) > len(EVENTBRIDGE_KEYS) // 2:
        hint = " (it looks like an SNS/SQS notification: Records)" if "Records" in raw else ""
        raise Rejected(f"not an EventBridge event{hint}: no {', '.join(missing)}", _guess_target(raw))
    try:
        return MODELS[kind].model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<event>'}: {err['msg']}" for err in exc.errors()
        )
        raise Rejected(f"malformed {kind} event: {problems}", _guess_target(raw)) from None


def _route(kind: Kind, event: Any, current: policy.Policy, raw: dict[str, Any], event_id: str
           ) -> tuple[Capability, ...]:
    if isinstance(event, PeerEvent):
        capability = _authorise_peer(event, current)
        _verify_envelope(event, current, raw, event_id)
        return (capability,)
    if isinstance(event, ScheduleEvent):
        capability = capabilities.schedule_capability(event.schedule_name)
        if capability is None:
            raise Rejected(f"schedule '{event.schedule_name}' does not name a capability", event.target)
        return (capability,)
    return capabilities.KIND_ROUTES[kind]


def _authorise_peer(event: PeerEvent, current: policy.Policy) -> Capability:
    detail = event.detail
    if detail.to_account != current.account.id:
        raise Rejected(f"addressed to account {detail.to_account}, not this one", event.target)
    if event.account == current.account.id:
        if detail.from_account != current.account.name:
            raise Rejected(f"from_account '{detail.from_account}' does not match the sending account",
                           event.target)
    else:
        found = current.peer_by_id(event.account)
        if found is None:
            raise Rejected(f"account {event.account} is not a peer in this policy", event.target)
        name, peer = found
        if name != detail.from_account:
            raise Rejected(f"from_account '{detail.from_account}' does not match peer '{name}'", event.target)
        if detail.flow not in peer.receive:
            raise Rejected(f"peer '{name}' may not send '{detail.flow}' here", event.target)
    return capabilities.FLOW_ROUTES[detail.flow]


def _verify_envelope(event: PeerEvent, current: policy.Policy, raw: dict[str, Any], event_id: str) -> None:
    """The sender's signature, over the detail exactly as received (not as parsed), with the key this policy pins
    for the account that put the event; then the envelope id is remembered, so a copy is refused as a replay."""
    from chalicelib.peering import verify
    from chalicelib.peering.exceptions import Refused

    try:
        verify.check(current, detail=raw["detail"], event_account=event.account, event_id=event_id)
    except Refused as exc:
        metrics.add_metric(name="EnvelopesRefused", unit=MetricUnit.Count, value=1)
        raise Rejected(f"envelope refused: {exc.reason}", event.target) from None


def _guess_target(raw: dict[str, Any]) -> str:
    detail = raw.get("detail") if isinstance(raw.get("detail"), dict) else {}
    for key, prefix in (("pipeline", "pipeline/"), ("alarmName", "alarm/"),
                        ("AutoScalingGroupName", "autoScalingGroup/")):
        if isinstance(detail.get(key), str):
            return prefix + detail[key]
    resources = raw.get("resources")
    if isinstance(resources, list) and resources and isinstance(resources[0], str):
        return resources[0]
    return "-"


def _summary(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {"type": type(raw).__name__}
    return {k: raw.get(k) for k in ("source", "detail-type", "account", "region", "time") if k in raw}
