"""The ``/ops`` command registry and the types every executor sees: what a capability's ``commands`` module imports.

``Command`` is a parsed command (``frontdoor/grammar.py`` makes one from the text, with the parsers the manifests
declare, or raises ``ParseError``); ``Asked`` is who asked what and where the answer goes (what the front door
forwards to a peer); an executor ``(command, environment, asked, policy) -> Answer`` is registered under its command
names with ``@executes(name)``. The front door's pipeline (``frontdoor/commands.py``) looks executors up in
``EXECUTORS``, after ``capabilities.ensure_executors`` imported the module the capability's manifest names.

(Not in ``chalicelib/commandline.py``, which every manifest imports at a cold start: defining a frozen dataclass
there would cost every cold start; only the functions that run commands import this module.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.policy.schema import Policy
from chalicelib.policy.types import Role
from chalicelib.slackkit import slack


@dataclass(frozen=True)
class Command:
    name: str
    capability: str  # the capability that declares it (its manifest)
    role: Role | None  # role needed in the target environment; None: anyone
    args: Mapping[str, Any] = field(hash=False)  # read-only; every argument of the command is present
    flags: frozenset[str]  # without the leading "--"
    text: str  # the original text, stripped

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", MappingProxyType(dict(self.args)))
        object.__setattr__(self, "flags", frozenset(self.flags))


class ParseError(ValueError):
    """``message``: one human sentence; ``usage``: the usage line of the command concerned, or None."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


class Asked(BaseModel):
    """Who asked what, and where the answer goes: what the front door forwards to a peer."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(max_length=4000)
    user: str = Field(pattern=r"^[UW][A-Z0-9]{2,20}$")
    groups: tuple[str, ...] = ()
    response_url: str = Field(max_length=500)
    channel: str | None = None
    request_id: str = Field(min_length=1, max_length=200)
    reply_to: str | None = Field(None, min_length=1, max_length=200)  # a fan-out: answer the front door (fanout.py)

    def response_url_ok(self) -> bool:
        return slack.response_url_ok(self.response_url)


@dataclass
class Answer:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


Executor = Callable[[Command, str, Asked, Policy], Answer]
EXECUTORS: dict[str, Executor] = {}  # command name -> executor; each capability's `commands` module registers its own


def executes(*names: str) -> Callable[[Executor], Executor]:
    def register(fn: Executor) -> Executor:
        for name in names:
            EXECUTORS[name] = fn
        return fn
    return register
