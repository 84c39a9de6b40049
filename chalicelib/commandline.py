"""The building blocks of an ``/ops`` command line, for the commands each capability's manifest declares.

Pure: no I/O, no Slack, no AWS, nothing of any capability. ``frontdoor/grammar.py`` splits the text, finds the
command (in the manifests) and hands its positional tokens to the command's ``parse``, written with these pieces;
a ``parse`` raises ``Invalid`` with one human sentence, which the grammar turns into a ``ParseError`` carrying the
command's usage line. A command's ``where`` (which environments it acts in) raises ``Unresolvable``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib import timefmt
from chalicelib.policy.schema import Flow

MAX_COUNT = 10_000
MAX_DURATION = timedelta(days=30)

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
DIGITS = re.compile(r"[0-9]+")

NAME_RULE = "use letters, digits and ._:/@+-, starting with a letter or digit, up to 200 characters"
_DURATION_HINT = "use e.g. 30m, 2h, 1d"
_ARTICLES = {"app": "an app", "environment": "an environment", "id": "an id", "incident": "an incident"}

Args = dict[str, Any]


class Invalid(Exception):  # noqa: N818 - a parse's verdict, not an error of the program
    """Raised by a command's ``parse``; the grammar turns it into a ParseError carrying the command's usage line."""


class Unresolvable(ValueError):
    """A command names no place it can act in (unknown app, environment, target...): said to the person."""


def quoted(token: str) -> str:
    return f"'{token}'"


def _a(kind: str) -> str:
    return _ARTICLES.get(kind, f"a {kind}")


class Tokens:
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
            raise Invalid(f"unexpected {quoted(self.tokens[self.pos])} after {consumed}")

    def missing(self, kind: str) -> Invalid:
        return Invalid(f"{self.command} needs {_a(kind)}")

    def name(self, kind: str, *, required: bool = True, keyword: str | None = None) -> str | None:
        """A name; a keyword standing where the name should be counts as the name missing."""
        if self.peek() is None or (keyword is not None and self.at(keyword)):
            if required:
                raise self.missing(kind)
            return None
        token = self.take()
        if not NAME.fullmatch(token):
            raise Invalid(f"{quoted(token)} is not a valid {kind} ({NAME_RULE})")
        return token

    def after_keyword(self, keyword: str, kind: str) -> str:
        self.take()
        if self.peek() is None:
            raise Invalid(f"{self.command} needs {_a(kind)} after {quoted(keyword)}")
        return self.take()

    def reason(self) -> str:
        words = self.remaining()
        if not words:
            raise self.missing("reason")
        self.pos = len(self.tokens)
        return " ".join(words)


def count(token: str) -> int:
    if not DIGITS.fullmatch(token):
        raise Invalid(f"{quoted(token)} is not a count (use a whole number from 0 to {MAX_COUNT})")
    if len(token.lstrip("0")) > len(str(MAX_COUNT)) or int(token) > MAX_COUNT:
        raise Invalid(f"count {quoted(token)} is over the limit of {MAX_COUNT}")
    return int(token)


def duration(token: str) -> timedelta:
    try:
        seconds = timefmt.typed_seconds(token)
    except timefmt.DurationTooLong:  # at least 10**9 seconds
        raise Invalid(f"duration {quoted(token)} is over the limit of {MAX_DURATION.days}d") from None
    except ValueError:
        raise Invalid(f"{quoted(token)} is not a duration ({_DURATION_HINT})") from None
    if seconds == 0:
        raise Invalid(f"duration {quoted(token)} must be more than zero")
    if seconds > MAX_DURATION.total_seconds():
        raise Invalid(f"duration {quoted(token)} is over the limit of {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


# ---- the usual shapes of a command's arguments: positional tokens in, the args mapping out ----


def no_args(t: Tokens) -> Args:
    t.end()
    return {}


def in_env(t: Tokens) -> Args:
    """``[in <env>]`` and the end of the command."""
    env = None
    if t.at("in"):
        env = t.after_keyword("in", "environment")
        if not NAME.fullmatch(env):
            raise Invalid(f"{quoted(env)} is not a valid environment ({NAME_RULE})")
    t.end()
    return {"env": env}


def app_reason(t: Tokens) -> Args:
    return {"app": t.name("app"), "reason": t.reason()}


def id_reason(t: Tokens) -> Args:
    return {"id": t.name("id"), "reason": t.reason()}


def one(key: str, kind: str | None = None) -> Callable[[Tokens], Args]:
    def parse_one(t: Tokens) -> Args:
        value = t.name(kind or key)
        t.end()
        return {key: value}
    return parse_one


# ---- the usual answers to "where does it act?": (command, policy) -> environments ----


def commanded_environments(policy: Any) -> list[str]:
    """This account's environment and every peer's that takes commands from here."""
    return sorted({policy.account.environment} | {p.environment for p in policy.peers.values()
                                                  if Flow.COMMAND in p.send})


def named_env_or_here(cmd: Any, policy: Any) -> list[str]:
    """The environment ``in <env>`` names, else this account's."""
    return [cmd.args.get("env") or policy.account.environment]
