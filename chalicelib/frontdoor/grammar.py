"""The one parser for the ``/ops`` slash command: text in, a typed ``Command`` or a ``ParseError`` out.

Pure: no I/O, no Slack, no AWS. Tokens are split on whitespace; the command word and the keywords ``to`` and
``for`` are case-insensitive, everything else keeps its case. Flags (``--x``) may appear anywhere after the command
word. Every ``ParseError`` for a known command carries that command's usage line; ``parse`` raises nothing else.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from chalicelib.alerts import matchers as _matchers
from chalicelib.capabilities import Capability
from chalicelib.policy.schema import Role

MAX_COUNT = 10_000
MAX_DURATION = timedelta(days=30)
AUDIT_DEFAULT = 10
AUDIT_MAX = 100

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
_DIGITS = re.compile(r"[0-9]+")
_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_UNIT_SECONDS = (86_400, 3_600, 60, 1)

_NAME_RULE = "use letters, digits and ._:/@+-, starting with a letter or digit, up to 200 characters"
_DURATION_HINT = "use e.g. 30m, 2h, 1d"
_MATCHER_HINT = _matchers.HINT
_ARTICLES = {"app": "an app", "environment": "an environment", "id": "an id", "incident": "an incident"}


Matcher = _matchers.Matcher  # silences' matchers are the alerts' own (one parser, one type)

_RANK = {None: 0, Role.VIEWER: 1, Role.OPERATOR: 2, Role.APPROVER: 3, Role.ADMIN: 4}  # a flag may raise the role


@dataclass(frozen=True)
class Command:
    name: str
    capability: Capability
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


class _Invalid(Exception):
    """Raised inside the parsers; ``parse`` turns it into a ParseError carrying the command's usage line."""


def _q(token: str) -> str:
    return f"'{token}'"


def _a(kind: str) -> str:
    return _ARTICLES.get(kind, f"a {kind}")


class _Tokens:
    """The positional tokens of one command, consumed left to right."""

    def __init__(self, command: str, tokens: list[str]) -> None:
        self.command = command
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def remaining(self) -> list[str]:
        return self.tokens[self.pos:]

    def at(self, keyword: str) -> bool:
        token = self.peek()
        return token is not None and token.lower() == keyword

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def end(self) -> None:
        if self.pos < len(self.tokens):
            consumed = " ".join([self.command, *self.tokens[: self.pos]])
            raise _Invalid(f"unexpected {_q(self.tokens[self.pos])} after {consumed}")

    def missing(self, kind: str) -> _Invalid:
        return _Invalid(f"{self.command} needs {_a(kind)}")

    def name(self, kind: str, *, required: bool = True, keyword: str | None = None) -> str | None:
        """A name; a keyword standing where the name should be counts as the name missing."""
        if self.peek() is None or (keyword is not None and self.at(keyword)):
            if required:
                raise self.missing(kind)
            return None
        token = self.take()
        if not _NAME.fullmatch(token):
            raise _Invalid(f"{_q(token)} is not a valid {kind} ({_NAME_RULE})")
        return token

    def after_keyword(self, keyword: str, kind: str) -> str:
        self.take()
        if self.peek() is None:
            raise _Invalid(f"{self.command} needs {_a(kind)} after {_q(keyword)}")
        return self.take()

    def reason(self) -> str:
        words = self.remaining()
        if not words:
            raise self.missing("reason")
        self.pos = len(self.tokens)
        return " ".join(words)


def _count(token: str) -> int:
    if not _DIGITS.fullmatch(token):
        raise _Invalid(f"{_q(token)} is not a count (use a whole number from 0 to {MAX_COUNT})")
    if len(token.lstrip("0")) > len(str(MAX_COUNT)) or int(token) > MAX_COUNT:
        raise _Invalid(f"count {_q(token)} is over the limit of {MAX_COUNT}")
    return int(token)


def _duration(token: str) -> timedelta:
    match = _DURATION.fullmatch(token)
    if not token or match is None:
        raise _Invalid(f"{_q(token)} is not a duration ({_DURATION_HINT})")
    groups = [g or "0" for g in match.groups()]
    if any(len(g.lstrip("0")) > 9 for g in groups):  # at least 10**9 seconds; and int() stays cheap
        raise _Invalid(f"duration {_q(token)} is over the limit of {MAX_DURATION.days}d")
    seconds = sum(int(g) * unit for g, unit in zip(groups, _UNIT_SECONDS, strict=True))
    if seconds == 0:
        raise _Invalid(f"duration {_q(token)} must be more than zero")
    if seconds > MAX_DURATION.total_seconds():
        raise _Invalid(f"duration {_q(token)} is over the limit of {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


def _entries(token: str) -> int:
    if not _DIGITS.fullmatch(token) or len(token.lstrip("0")) > 3 or not 1 <= int(token) <= AUDIT_MAX:
        raise _Invalid(f"{_q(token)} is not a number of entries (use 1 to {AUDIT_MAX})")
    return int(token)


# -- one parser per command: positional tokens in, the args mapping out ---------------------------------------------


def _no_args(t: _Tokens) -> dict[str, Any]:
    t.end()
    return {}


def _status(t: _Tokens) -> dict[str, Any]:
    app = t.name("app", required=False)
    t.end()
    return {"app": app}


def _promote(t: _Tokens) -> dict[str, Any]:
    app = t.name("app", keyword="to")
    version = env = None
    if t.peek() is not None and not t.at("to"):
        version = t.name("version")
    if t.at("to"):
        env = t.after_keyword("to", "environment")
        if not _NAME.fullmatch(env):
            raise _Invalid(f"{_q(env)} is not a valid environment ({_NAME_RULE})")
    t.end()
    return {"app": app, "version": version, "env": env}


def _rotate(t: _Tokens) -> dict[str, Any]:
    return {"secret": t.name("secret", keyword="in"), **_in_env(t)}


def _in_env(t: _Tokens) -> dict[str, Any]:
    """``[in <env>]`` and the end of the command."""
    env = None
    if t.at("in"):
        env = t.after_keyword("in", "environment")
        if not _NAME.fullmatch(env):
            raise _Invalid(f"{_q(env)} is not a valid environment ({_NAME_RULE})")
    t.end()
    return {"env": env}


def _redrive(t: _Tokens) -> dict[str, Any]:
    which = t.name("dead letter id, or all", keyword="in")
    return {"id": None if which.lower() == "all" else which, **_in_env(t)}


def _app_reason(t: _Tokens) -> dict[str, Any]:
    return {"app": t.name("app"), "reason": t.reason()}


def _id_reason(t: _Tokens) -> dict[str, Any]:
    return {"id": t.name("id"), "reason": t.reason()}


def _one(key: str, kind: str | None = None) -> Callable[[_Tokens], dict[str, Any]]:
    def parse_one(t: _Tokens) -> dict[str, Any]:
        value = t.name(kind or key)
        t.end()
        return {key: value}
    return parse_one


def _scale(t: _Tokens) -> dict[str, Any]:
    target = t.name("target", keyword="for")
    if t.peek() is None or t.at("for"):
        raise t.missing("count")
    count = _count(t.take())
    duration = _duration(t.after_keyword("for", "duration")) if t.at("for") else None
    t.end()
    return {"target": target, "count": count, "duration": duration}


def _silence(text: str) -> tuple[dict[str, Any], list[str]]:
    """The matchers are read from the raw text by the one matcher parser (Alertmanager's grammar: quoted values
    may hold spaces, ``{a="b", c=~"d"}`` lists, spaces or commas between matchers, as ``amtool silence add``
    takes them), up to the first word that does not start a matcher, which must be ``for``."""
    try:
        found, rest_at = _matchers.parse_leading(text)
    except _matchers.MatcherError as e:
        raise _Invalid(f"bad matcher in {_q(text)}: {e} ({_MATCHER_HINT})") from None
    return {"matchers": found}, text[rest_at:].split()


def _silence_rest(t: _Tokens, args: dict[str, Any]) -> dict[str, Any]:
    word = t.peek()
    if word is not None and not t.at("for"):
        raise _Invalid(f"{_q(word)} is not a matcher ({_MATCHER_HINT})")
    if not args["matchers"]:
        raise _Invalid("silence needs at least one matcher (e.g. alertname=HighCPU)")
    if not t.at("for"):
        raise _Invalid("silence needs 'for <duration>' after the matchers")
    duration = _duration(t.after_keyword("for", "duration"))
    return {**args, "duration": duration, "reason": t.reason()}


def _audit(t: _Tokens) -> dict[str, Any]:
    rest = t.remaining()
    target, n = None, AUDIT_DEFAULT
    if len(rest) == 1 and _DIGITS.fullmatch(rest[0]):
        n = _entries(t.take())
    else:
        target = t.name("target", required=False)
        if t.peek() is not None:
            n = _entries(t.take())
    t.end()
    return {"target": target, "n": n}


@dataclass(frozen=True)
class _Spec:
    syntax: str  # after the command word, flags included
    description: str
    capability: Capability
    role: Role | None
    parse: Callable[..., dict[str, Any]]  # (tokens) -> args; with `raw`: (tokens, args from raw) -> args
    flag_roles: Mapping[str, Role | None] = field(default_factory=dict)  # accepted flags -> role each needs
    # reads the start of the raw text after the command word: (text) -> (args, the remaining words to tokenise)
    raw: Callable[[str], tuple[dict[str, Any], list[str]]] | None = None


_SPECS: dict[str, _Spec] = {
    "help": _Spec("", "show this help", Capability.FRONTDOOR, None, _no_args),
    "status": _Spec(
        "[app]", "what is deployed and in flight, for one app or all", Capability.FRONTDOOR, Role.VIEWER, _status,
    ),
    "promote": _Spec(
        "<app> [version] [to <env>] [--skip-soak]",
        "promote a release to the next (or the given) environment; --skip-soak needs admin",
        Capability.PROMOTION, Role.OPERATOR, _promote, {"skip-soak": Role.ADMIN},
    ),
    "hold": _Spec("<app> <reason...>", "stop promotions of an app", Capability.PROMOTION, Role.OPERATOR, _app_reason),
    "unhold": _Spec("<app>", "let promotions of an app go on", Capability.PROMOTION, Role.OPERATOR, _one("app")),
    "approve": _Spec("<id>", "approve a pending promotion", Capability.PROMOTION, Role.APPROVER, _one("id")),
    "reject": _Spec("<id> <reason...>", "reject a pending promotion", Capability.PROMOTION, Role.APPROVER, _id_reason),
    "scale": _Spec(
        "<target> <count> [for <duration>] [--dry-run]",
        "set a service's desired count, for a while if given; --dry-run only shows the plan",
        Capability.SCALING, Role.OPERATOR, _scale, {"dry-run": None},
    ),
    "silence": _Spec(
        "<matcher...> for <duration> <reason...>", "silence alerts matching every matcher (label=value, !=, =~, !~)",
        Capability.ALERTS, Role.OPERATOR, _silence_rest, raw=_silence,
    ),
    "silences": _Spec("", "list active silences", Capability.ALERTS, Role.VIEWER, _no_args),
    "unsilence": _Spec("<id>", "end a silence early", Capability.ALERTS, Role.OPERATOR, _one("id")),
    "ack": _Spec("<incident>", "acknowledge an incident", Capability.ALERTS, Role.OPERATOR, _one("incident")),
    "rotate": _Spec("<secret> [in <env>]", "rotate a secret now", Capability.ROTATION, Role.OPERATOR, _rotate),
    "deadletters": _Spec("[in <env>]", "list what Lambda gave up on after its retries", Capability.FRONTDOOR,
                         Role.OPERATOR, _in_env),
    "redrive": _Spec("<id>|all [in <env>]", "run dead letters again (same function, same event)",
                     Capability.FRONTDOOR, Role.OPERATOR, _redrive),
    "audit": _Spec(
        "[app|target] [n]", f"the last n audit entries (default {AUDIT_DEFAULT}, at most {AUDIT_MAX})",
        Capability.FRONTDOOR, Role.VIEWER, _audit,
    ),
}
COMMANDS: tuple[str, ...] = tuple(_SPECS)


def usage_line(command: str, command_name: str = "/ops") -> str:
    """The usage line of one command, e.g. ``/ops scale <target> <count> [for <duration>] [--dry-run]``."""
    spec = _SPECS[command]
    return f"{command_name} {command} {spec.syntax}".rstrip()


def usage(command_name: str = "/ops") -> str:
    """The full help: one line per command, its usage line and a short description."""
    return "\n".join(f"{usage_line(c, command_name)} — {s.description}" for c, s in _SPECS.items())


def parse_duration(text: str) -> timedelta:
    """``30s``, ``45m``, ``2h``, ``1d``, ``1h30m``: units largest first, each at most once, more than zero, ≤ 30d."""
    try:
        return _duration(text.strip())
    except _Invalid as e:
        raise ParseError(str(e)) from None


def parse(text: str, command_name: str = "/ops") -> Command:
    stripped = text.strip()
    tokens = stripped.split()
    if not tokens:
        raise ParseError("no command given")
    word = tokens[0]
    name = word.lower()
    spec = _SPECS.get(name)
    if spec is None:
        message = f"unknown command {_q(word)}"
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        if close:
            message += f" (did you mean {_q(close[0])}?)"
        raise ParseError(message)
    try:
        flags: set[str] = set()
        positionals: list[str] = []
        raw_args: dict[str, Any] | None = None
        rest = tokens[1:]
        if spec.raw is not None:
            raw_args, rest = spec.raw(stripped[len(word):].strip())
        for token in rest:
            if not token.startswith("--"):
                positionals.append(token)
            elif token[2:] in spec.flag_roles:
                flags.add(token[2:])
            else:
                accepted = ", ".join(f"--{f}" for f in spec.flag_roles) or "no flags"
                raise _Invalid(f"unknown flag {_q(token)} ({name} accepts {accepted})")
        args = spec.parse(_Tokens(name, positionals)) if raw_args is None else \
            spec.parse(_Tokens(name, positionals), raw_args)
    except _Invalid as e:
        raise ParseError(str(e), usage_line(name, command_name)) from None
    role = max([spec.role, *(spec.flag_roles[f] for f in flags)], key=_RANK.get) if flags else spec.role
    return Command(name, spec.capability, role, args, frozenset(flags), stripped)
