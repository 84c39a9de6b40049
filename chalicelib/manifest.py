"""What a capability declares about itself: one ``Manifest``, in its package's ``manifest.py``.

In the spirit of Cloud Custodian's registry: everything the rest of Switchboard needs to know about a capability
is read from its manifest, and derived from it (``capabilities.py``: event and flow routes, handlers, decision
hooks, the ``/ops`` executors; ``frontdoor/grammar.py``'s command table and ``frontdoor/targets.py``'s resolution;
``policy/document.py``'s policy document; ``infra/iam_policy.py``'s roles; the tick functions of app.py and the
cold-start guard). See docs/ARCHITECTURE.md, "Adding a capability".

A manifest is loaded at every cold start, so it stays tiny: it names the capability's modules as strings (loaded
on first use) and imports only these types, ``chalicelib.commandline``, ``Kind``/``Flow``/``Role`` and its own
policy section (whose models are built on first use).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from chalicelib.kinds import Kind
from chalicelib.policy.schema import Flow
from chalicelib.policy.types import Role

_NONE: Mapping[str, Any] = MappingProxyType({})  # an empty mapping no manifest can change
Where = Callable[[Any, Any], list[str]]  # (command, policy) -> the environments it acts in; may raise Unresolvable


def here(cmd: Any, policy: Any) -> list[str]:
    """The default place a command acts in: this account's environment."""
    return [policy.account.environment]


def nowhere(cmd: Any, policy: Any) -> list[str]:
    """A command that acts in no environment in particular (help; approve and reject, decided in the front door)."""
    return []


class Command(NamedTuple):
    """One ``/ops`` command: its syntax and help, the role it needs, how it parses and where it runs.

    ``parse(tokens) -> args`` (``chalicelib.commandline``); with ``raw``, ``raw(text after the command word) ->
    (args, the words left)`` reads the start of the text first and ``parse(tokens, args) -> args`` the rest.
    ``where(command, policy) -> environments`` (empty: nowhere in particular); ``authorised_in(command, policy)``:
    the environment whose roles allow it, when not the one it acts in. The executor is registered with
    ``@executes(name)`` (``chalicelib.slackkit.commands``) in the manifest's ``commands`` module (or ``module``,
    when another)."""

    name: str
    syntax: str  # after the command word, flags included
    description: str
    role: Role | None  # role needed in the target environment; None: anyone
    parse: Callable[..., dict[str, Any]]
    where: Where = here
    flags: Mapping[str, Role | None] = _NONE  # accepted flags -> the role each needs
    raw: Callable[[str], tuple[dict[str, Any], list[str]]] | None = None
    authorised_in: Callable[[Any, Any], str | None] | None = None
    module: str | None = None  # the module registering its executor, when not the manifest's ``commands``
    help_order: int = 50  # its place in ``/ops help`` (lower first; the front door's own come first and last)


class Function(NamedTuple):
    """A Lambda function of app.py that runs this capability directly: a tick (``schedule``: the expression of
    app.py's ``@app.schedule``, as Chalice writes it in the template) or a function another service invokes
    (no schedule, e.g. the rotation function Secrets Manager calls). ``runs``: ``module:function``, called with
    no argument by a tick (``capabilities.run_tick``)."""

    name: str  # the function's name in app.py (and in .chalice/config.json, infra/iam_policy.py)
    runs: str
    schedule: str | None = None


class Manifest(NamedTuple):
    """One capability, declared.

    ``kinds`` and ``flows``: the AWS events and peer flows routed to its handler (registered with
    ``@capabilities.register(name)`` in ``handlers``); an event several capabilities take reaches them by
    ``event_order`` (lower first). ``decisions``: the module registering its ``@capabilities.on_decision`` hook
    (the approvals it asked for, decided), when not ``handlers``. ``section``: its policy section (a
    ``policy.types.Section``), the document's field ``name``. ``permissions``: the module whose
    ``needs(policy, stage) -> {entry point: [statements]}`` gives each function the IAM statements it needs
    for this capability (entry points: a Kind, a Flow, a function's name). ``status``: its part of ``/ops
    status <app>`` in each account, when it has one. ``buttons``: its cards' buttons that stand for a command."""

    name: str
    summary: str
    section: type | None = None
    kinds: tuple[Kind, ...] = ()
    flows: tuple[Flow, ...] = ()
    event_order: int = 50
    handlers: str | None = None
    decisions: str | None = None
    commands: str | None = None
    command_specs: tuple[Command, ...] = ()
    functions: tuple[Function, ...] = ()
    permissions: str | None = None
    status: str | None = None  # ``module:function``: (app, policy) -> its lines in ``/ops status <app>``
    # buttons on its cards that stand for an ``/ops`` command: Slack action id -> ``module:function``,
    # (action id, value) -> the command's text (None: a bad value); the front door runs it like a typed one
    buttons: Mapping[str, str] = _NONE

    def modules(self) -> list[str]:
        """Every module this manifest names: loaded on first use, never at a cold start."""
        named = [self.handlers, self.decisions, self.commands, self.permissions, (self.status or "").split(":")[0],
                 *(runs.split(":")[0] for runs in self.buttons.values()),
                 *(c.module for c in self.command_specs), *(f.runs.split(":")[0] for f in self.functions)]
        return sorted({m for m in named if m})
