"""The one parser for the ``/ops`` slash command: text in, a typed ``Command`` or a ``ParseError`` out.

Pure: no I/O, no Slack, no AWS. Tokens are split on whitespace; the command word and the keywords ``to`` and
``for`` are case-insensitive, everything else keeps its case. Flags (``--x``) may appear anywhere after the command
word. Every ``ParseError`` for a known command carries that command's usage line; ``parse`` raises nothing else.

The commands are declared by the capabilities, in their manifests (``capabilities.COMMANDS``: syntax, help, role,
flags and the parser of its arguments, built from ``chalicelib/commandline.py``); this module finds the command
word in that table, sorts out the flags and hands the rest to the command's parser. ``Command`` and ``ParseError``
are the platform's types (``chalicelib.slackkit.commands``, beside the executors' registry).
"""

from __future__ import annotations

import difflib
from datetime import timedelta
from typing import Any

from chalicelib import capabilities
from chalicelib import commandline as cl
from chalicelib import matchers as _matchers
from chalicelib.commandline import MAX_COUNT, MAX_DURATION  # noqa: F401 - the grammar's limits, re-exported
from chalicelib.policy.schema import Role
from chalicelib.slackkit.commands import Command, ParseError

Matcher = _matchers.Matcher  # silences' matchers are the alerts' own (one parser, one type)

_RANK = {None: 0, Role.VIEWER: 1, Role.OPERATOR: 2, Role.APPROVER: 3, Role.ADMIN: 4}  # a flag may raise the role


def _specs() -> dict[str, tuple[str, capabilities.Command]]:
    """Every command, in help order: declared in the manifests (``capabilities.COMMANDS``)."""
    return capabilities.COMMANDS


COMMANDS: tuple[str, ...] = tuple(capabilities.COMMANDS)  # as installed; a sample capability adds to the table


def usage_line(command: str, command_name: str = "/ops") -> str:
    """The usage line of one command, e.g. ``/ops scale <target> <count> [for <duration>] [--dry-run]``."""
    _, spec = _specs()[command]
    return f"{command_name} {command} {spec.syntax}".rstrip()


def usage(command_name: str = "/ops") -> str:
    """The full help: one line per command, its usage line and a short description."""
    return "\n".join(f"{usage_line(c, command_name)} — {s.description}" for c, (_, s) in _specs().items())


def parse_duration(text: str) -> timedelta:
    """``30s``, ``45m``, ``2h``, ``1d``, ``1h30m``: units largest first, each at most once, more than zero, ≤ 30d."""
    try:
        return cl.duration(text.strip())
    except cl.Invalid as e:
        raise ParseError(str(e)) from None


def parse(text: str, command_name: str = "/ops") -> Command:
    stripped = text.strip()
    tokens = stripped.split()
    if not tokens:
        raise ParseError("no command given")
    word = tokens[0]
    name = word.lower()
    declared = _specs().get(name)
    if declared is None:
        message = f"unknown command {cl.quoted(word)}"
        close = difflib.get_close_matches(name, list(_specs()), n=1)
        if close:
            message += f" (did you mean {cl.quoted(close[0])}?)"
        raise ParseError(message)
    capability, spec = declared
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
            elif token[2:] in spec.flags:
                flags.add(token[2:])
            else:
                accepted = ", ".join(f"--{f}" for f in spec.flags) or "no flags"
                raise cl.Invalid(f"unknown flag {cl.quoted(token)} ({name} accepts {accepted})")
        args = spec.parse(cl.Tokens(name, positionals)) if raw_args is None else \
            spec.parse(cl.Tokens(name, positionals), raw_args)
    except cl.Invalid as e:
        raise ParseError(str(e), usage_line(name, command_name)) from None
    role = max([spec.role, *(spec.flags[f] for f in flags)], key=_RANK.get) if flags else spec.role
    return Command(name, capability, role, args, frozenset(flags), stripped)
