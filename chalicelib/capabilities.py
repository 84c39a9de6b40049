"""Which capability handles which event, and the registry capabilities plug their handlers into.

A capability registers ``handler(event, ctx) -> Result`` for itself with ``@register(Capability.X)``. Until
its issue lands, events routed to it are audited as ``received`` by ``not_yet`` and nothing else happens.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.kinds import Kind
from chalicelib.policy.schema import Flow, Policy
from chalicelib.state import audit


class Capability(StrEnum):
    PROMOTION = "promotion"
    ALERTS = "alerts"
    SCALING = "scaling"
    ROTATION = "rotation"
    FRONTDOOR = "frontdoor"
    CONSOLE = "console"  # the front door's read model (chalicelib/console): feed records from every account


@dataclass(frozen=True)
class Context:
    """What a capability handler gets besides the typed event."""

    event_id: str
    kind: Kind
    policy: Policy
    lambda_context: Any = None


@dataclass(frozen=True)
class Result:
    outcome: audit.Outcome
    reason: str | None = None
    actions: list[str] = field(default_factory=list)


Handler = Callable[[Any, Context], Result]
_registry: dict[Capability, Handler] = {}

# Capabilities that have landed: the module that registers each one's handler. Imported on first use, so a
# function that never sees such an event (most of them) does not pay for the capability's imports at cold start.
LANDED: dict[Capability, str] = {
    Capability.FRONTDOOR: "chalicelib.frontdoor.peer",
    Capability.ROTATION: "chalicelib.rotation.handlers",
    Capability.SCALING: "chalicelib.scaling.handlers",
    Capability.ALERTS: "chalicelib.alerts.handlers",
    Capability.PROMOTION: "chalicelib.promotion.handlers",
    Capability.CONSOLE: "chalicelib.console.handlers",
}
# The module that registers a landed capability's /ops executors, when that is not the LANDED module (alerts keeps
# Slack's modules off its event path). Imported by the function that runs the command.
EXECUTORS: dict[Capability, str] = {
    Capability.ALERTS: "chalicelib.alerts.commands",
    Capability.PROMOTION: "chalicelib.promotion.commands",
    Capability.SCALING: "chalicelib.scaling.commands",
}


def register(capability: Capability) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        _registry[capability] = handler
        return handler
    return decorate


def landed() -> set[Capability]:
    """Capabilities with a handler (the rest only audit ``received``)."""
    return set(_registry) | set(LANDED)


def handler_for(capability: Capability) -> Handler:
    ensure_loaded(capability)
    found = _registry.get(capability)
    if found is not None:
        return found

    def not_yet(event: Any, ctx: Context) -> Result:
        audit.record(
            action=f"intake.{ctx.kind}", target=event.target, outcome=audit.Outcome.RECEIVED,
            correlation_id=ctx.event_id, capability=str(capability),
            reason=f"the {capability} capability has not landed yet",
            detail={"source": event.source, "detail-type": event.detail_type},
        )
        return Result(audit.Outcome.RECEIVED, f"the {capability} capability has not landed yet")

    return not_yet


KIND_ROUTES: dict[Kind, tuple[Capability, ...]] = {
    Kind.CODEPIPELINE: (Capability.PROMOTION,),
    Kind.ALARM: (Capability.ALERTS, Capability.SCALING, Capability.PROMOTION),
    Kind.ECS: (Capability.PROMOTION,),
    Kind.AUTOSCALING: (Capability.SCALING,),
    Kind.SECRETS: (Capability.ROTATION,),
}
FLOW_ROUTES: dict[Flow, Capability] = {
    Flow.RELEASE_CANDIDATE: Capability.PROMOTION,
    Flow.COMMAND: Capability.FRONTDOOR,
    Flow.REPLY: Capability.FRONTDOOR,
    Flow.APPROVAL_REQUEST: Capability.FRONTDOOR,
    Flow.APPROVAL_RESULT: Capability.FRONTDOOR,  # the front door hands it to the capability that asked
    Flow.ANNOUNCE: Capability.FRONTDOOR,
    Flow.FEED: Capability.CONSOLE,
}


# ---- what a capability does when an approval it asked for is decided (in the account that asked) ----

DecisionHandler = Callable[[dict[str, Any]], str | None]  # None: acted; a string: refused (and audited), why
_decision_handlers: dict[Capability, DecisionHandler] = {}


def on_decision(capability: Capability) -> Callable[[DecisionHandler], DecisionHandler]:
    """Register ``handler(result)``; ``result`` has id, capability, verdict (approved|rejected|expired),
    decided_by (the last approver; ``system`` when expired), decided_at, environment, requester, reason,
    approvals (user ids, in order), required, the ``payload`` the capability attached when it asked, ``pending``
    (the ticket of the request it stored: see chalicelib/pending), ``groups`` (decider -> user groups) and
    ``from_account`` (who sent it). Wrap the handler in ``pending.bound`` so it acts only on verified results."""
    def decorate(handler: DecisionHandler) -> DecisionHandler:
        _decision_handlers[capability] = handler
        return handler
    return decorate


def decision_handler_for(capability: Capability) -> DecisionHandler | None:
    ensure_loaded(capability)
    return _decision_handlers.get(capability)


def ensure_loaded(capability: Capability) -> None:
    """Import a landed capability's module (it registers its handlers, executors and decision handler)."""
    if capability in LANDED and capability not in _registry:
        importlib.import_module(LANDED[capability])


def ensure_executors(capability: Capability) -> None:
    """Import the module that registers a capability's /ops executors (see EXECUTORS)."""
    ensure_loaded(capability)
    if capability in EXECUTORS:
        importlib.import_module(EXECUTORS[capability])


def schedule_capability(schedule_name: str) -> Capability | None:
    """Schedules are named ``switchboard-<capability>-<anything>``."""
    parts = schedule_name.split("-", 2)
    if len(parts) >= 2 and parts[0] == "switchboard" and parts[1] in {c.value for c in Capability}:
        return Capability(parts[1])
    return None
