"""One event's path through Switchboard: identify -> ledger (once) -> parse -> authorise -> dispatch.

``handle()`` is what every EventBridge handler in app.py calls. A malformed or unauthorised event is logged
as a structured error, audited as ``rejected`` and *returned* (not raised): raising would make Lambda retry
an event that can never succeed. An unexpected error inside a capability is audited as ``failed`` and
re-raised, so the ledger forgets the event and Lambda's retry (then the dead-letter queue) takes over.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from pydantic import ValidationError

from chalicelib import capabilities, policy
from chalicelib.capabilities import Capability, Context
from chalicelib.intake.events import MODELS, Kind, PeerEvent, ScheduleEvent
from chalicelib.observability import MetricUnit, logger, metrics
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
        outcome = run(data={"id": f"{kind}:{event_id}", "kind": str(kind), "event_id": event_id,
                            "event": raw, "invocation": invocation})
        duplicate = outcome.get("invocation") != invocation
        if duplicate:
            logger.info("duplicate delivery: already processed", extra={"outcome": outcome["outcome"]})
            metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
        return {**outcome, "duplicate": duplicate}
    finally:
        metrics.flush_metrics()


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
    results = []
    for capability in routes:
        try:
            result = capabilities.handler_for(capability)(event, ctx)
        except Exception as exc:
            logger.exception("capability failed", extra={"capability": str(capability)})
            metrics.add_metric(name="CapabilityErrors", unit=MetricUnit.Count, value=1)
            audit.record(action=f"intake.{kind}", target=event.target, outcome=audit.Outcome.FAILED,
                         correlation_id=event_id, capability=str(capability),
                         reason=f"{type(exc).__name__}: {exc}")
            raise
        results.append({"capability": str(capability), "outcome": str(result.outcome),
                        "reason": result.reason, "actions": result.actions})
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    logger.info("event processed", extra={"target": event.target, "results": results})
    return {**base, "outcome": "processed", "reason": None, "target": event.target, "results": results}


def _parse(kind: Kind, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise Rejected(f"event is not a JSON object (got {type(raw).__name__})")
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
