"""The capabilities installed, read from their manifests, and the registry their handlers plug into.

Each capability package declares itself in its ``manifest.py`` (``chalicelib/manifest.py``); ``INSTALLED`` lists
them, in the order of their sections in the policy document. Everything else here is derived from the manifests:
which capability takes which event kind (``KIND_ROUTES``) and peer flow (``FLOW_ROUTES``), which module registers
its handler (``LANDED``), its ``/ops`` executors (``EXECUTORS``), and the functions of app.py it runs directly.

A capability's modules are imported on first use (``ensure_loaded``), so a function that never sees its events
(most of them) does not pay for its imports at cold start. Those modules register with the decorators below:
``@register(name)`` the event handler ``handler(event, ctx) -> Result``, ``@on_decision(name)`` the decision hook.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from chalicelib.alerts.manifest import MANIFEST as ALERTS
from chalicelib.console.manifest import MANIFEST as CONSOLE
from chalicelib.frontdoor.manifest import MANIFEST as FRONTDOOR
from chalicelib.kinds import Kind
from chalicelib.manifest import Command, Function, Manifest
from chalicelib.policy.schema import Flow, Policy
from chalicelib.promotion.manifest import MANIFEST as PROMOTION
from chalicelib.rotation.manifest import MANIFEST as ROTATION
from chalicelib.scaling.manifest import MANIFEST as SCALING

if TYPE_CHECKING:
    from chalicelib.state.audit import Outcome

# Every capability, in the order of their sections in the policy document (chalicelib/policy/document.py).
INSTALLED: list[Manifest] = [ALERTS, PROMOTION, SCALING, ROTATION, FRONTDOOR, CONSOLE]

Capability = StrEnum("Capability", {m.name.upper(): m.name for m in INSTALLED}, module=__name__)  # type: ignore[misc]
Capability.__doc__ = "The installed capabilities' names (each is its manifest's ``name``)."


@dataclass(frozen=True)
class Context:
    """What a capability handler gets besides the typed event."""

    event_id: str
    kind: Kind
    policy: Policy
    lambda_context: Any = None


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    reason: str | None = None
    actions: list[str] = field(default_factory=list)


Handler = Callable[[Any, Context], Result]
_registry: dict[str, Handler] = {}

# ---- derived from the manifests (filled by ``_derive``; tests may patch single entries) ----

MANIFESTS: dict[str, Manifest] = {}
# the module that registers each capability's handler (and decision hook): imported on first use
LANDED: dict[str, str] = {}
# the module that registers a capability's /ops executors, when it has commands
EXECUTORS: dict[str, str] = {}
KIND_ROUTES: dict[Kind, tuple[str, ...]] = {}
FLOW_ROUTES: dict[Flow, str] = {}
COMMANDS: dict[str, tuple[str, Command]] = {}  # command name -> (capability, its declaration), in help order
FUNCTIONS: dict[str, tuple[str, Function]] = {}  # app.py function name -> (capability, its declaration)
BUTTONS: dict[str, str] = {}  # a card button's Slack action id -> ``module:function`` giving its command's text


def named(name: str) -> str:
    """A capability's name: the ``Capability`` member when it is one (a capability installed later, in tests, has
    only its name)."""
    return Capability._value2member_map_.get(name, name)  # type: ignore[return-value]


def _derive(manifests: list[Manifest]) -> None:
    for table in (MANIFESTS, LANDED, EXECUTORS, KIND_ROUTES, FLOW_ROUTES, COMMANDS, FUNCTIONS, BUTTONS):
        table.clear()
    for m in manifests:
        if m.name in MANIFESTS:
            raise ValueError(f"two capabilities named '{m.name}'")
        MANIFESTS[m.name] = m
        if m.handlers:
            LANDED[named(m.name)] = m.handlers
        if m.commands:
            EXECUTORS[named(m.name)] = m.commands
        for flow in m.flows:
            if flow in FLOW_ROUTES:
                raise ValueError(f"flow '{flow}' is taken by both {FLOW_ROUTES[flow]} and {m.name}")
            FLOW_ROUTES[flow] = named(m.name)
        for function in m.functions:
            if function.name in FUNCTIONS:
                raise ValueError(f"function '{function.name}' is declared by two capabilities")
            FUNCTIONS[function.name] = (named(m.name), function)
        for action_id, runs in m.buttons.items():
            if action_id in BUTTONS:
                raise ValueError(f"button '{action_id}' is declared by two capabilities")
            BUTTONS[action_id] = runs
    for kind in Kind:
        taking = sorted((m for m in manifests if kind in m.kinds), key=lambda m: m.event_order)
        if taking:
            KIND_ROUTES[kind] = tuple(named(m.name) for m in taking)
    declared = [(c.help_order, i, m.name, c) for i, (m, c) in
                enumerate((m, c) for m in manifests for c in m.command_specs)]
    for _, _, name, command in sorted(declared, key=lambda d: d[:2]):
        if command.name in COMMANDS:
            raise ValueError(f"command '{command.name}' is declared by two capabilities")
        COMMANDS[command.name] = (named(name), command)


_derive(INSTALLED)


def install(manifest: Manifest) -> None:
    """Add a capability (tests: a sample capability declared outside chalicelib); ``uninstall`` takes it away."""
    INSTALLED.append(manifest)
    _derive(INSTALLED)


def uninstall(name: str) -> None:
    INSTALLED[:] = [m for m in INSTALLED if m.name != name]
    _registry.pop(name, None)
    _decision_handlers.pop(name, None)
    _derive(INSTALLED)


def register(capability: str) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        _registry[capability] = handler
        return handler
    return decorate


def landed() -> set[str]:
    """Capabilities with an event handler."""
    return set(_registry) | set(LANDED)


def handler_for(capability: str) -> Handler:
    ensure_loaded(capability)
    return _registry[capability]


# ---- what a capability does when an approval it asked for is decided (in the account that asked) ----

DecisionHandler = Callable[[dict[str, Any]], str | None]  # None: acted; a string: refused (and audited), why
_decision_handlers: dict[str, DecisionHandler] = {}


def on_decision(capability: str) -> Callable[[DecisionHandler], DecisionHandler]:
    """Register ``handler(result)``; ``result`` has id, capability, verdict (approved|rejected|expired),
    decided_by (the last approver; ``system`` when expired), decided_at, environment, requester, reason,
    approvals (user ids, in order), required, the ``payload`` the capability attached when it asked, ``pending``
    (the ticket of the request it stored: see chalicelib/pending), ``groups`` (decider -> user groups) and
    ``from_account`` (who sent it). Wrap the handler in ``pending.bound`` so it acts only on verified results."""
    def decorate(handler: DecisionHandler) -> DecisionHandler:
        _decision_handlers[capability] = handler
        return handler
    return decorate


def decision_handler_for(capability: str) -> DecisionHandler | None:
    ensure_loaded(capability)
    return _decision_handlers.get(capability)


def ensure_loaded(capability: str) -> None:
    """Import the modules a capability's manifest names for its handler and its decision hook (they register)."""
    if capability in LANDED and capability not in _registry:
        importlib.import_module(LANDED[capability])
    decisions = MANIFESTS[capability].decisions if capability in MANIFESTS else None
    if decisions and capability not in _decision_handlers:
        importlib.import_module(decisions)


def ensure_executors(capability: str) -> None:
    """Import the module that registers a capability's /ops executors (its manifest's ``commands``)."""
    ensure_loaded(capability)
    if capability in EXECUTORS:
        importlib.import_module(EXECUTORS[capability])


def schedule_capability(schedule_name: str) -> str | None:
    """Schedules are named ``switchboard-<capability>-<anything>``."""
    parts = schedule_name.split("-", 2)
    if len(parts) >= 2 and parts[0] == "switchboard" and parts[1] in MANIFESTS:
        return named(parts[1])
    return None


def run_function(name: str, *args: Any) -> Any:
    """Run what the manifest declares for app.py's function ``name`` (a tick: no argument)."""
    _, function = FUNCTIONS[name]
    module, attribute = function.runs.split(":")
    return getattr(importlib.import_module(module), attribute)(*args)


def status_lines(app: str, policy: Any) -> list[str]:
    """Each capability's part of ``/ops status <app>`` in this account (its manifest's ``status``)."""
    lines: list[str] = []
    for manifest in INSTALLED:
        if manifest.status:
            ensure_executors(manifest.name)
            module, attribute = manifest.status.split(":")
            lines += getattr(importlib.import_module(module), attribute)(app, policy)
    return lines


def button_command(action_id: str, value: str) -> str | None:
    """The ``/ops`` command a card's button stands for (its capability's manifest), or None for a bad value or an
    unknown button."""
    runs = BUTTONS.get(action_id)
    if runs is None:
        return None
    module, attribute = runs.split(":")
    return getattr(importlib.import_module(module), attribute)(action_id, value)


def schedule_of(name: str) -> str:
    """The schedule expression of app.py's tick ``name``, as its manifest declares it."""
    schedule = FUNCTIONS[name][1].schedule
    if schedule is None:
        raise ValueError(f"function '{name}' is not a tick")
    return schedule
