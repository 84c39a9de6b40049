"""The alerts capability, declared (see chalicelib/manifest.py): alarms in, routed to people; its /ops commands."""

from __future__ import annotations

from typing import Any

from chalicelib import commandline as cl
from chalicelib.alerts.policy import AlertsSection
from chalicelib.kinds import Kind
from chalicelib.manifest import Command, Function, Manifest
from chalicelib.policy.types import Role


def _silence_matchers(text: str) -> tuple[dict[str, Any], list[str]]:
    """The matchers are read from the raw text by the one matcher parser (Alertmanager's grammar: quoted values
    may hold spaces, ``{a="b", c=~"d"}`` lists, spaces or commas between matchers, as ``amtool silence add``
    takes them), up to the first word that does not start a matcher, which must be ``for``. (The parser is imported
    here, on first use: a manifest is read at every cold start.)"""
    from chalicelib import matchers

    try:
        found, rest_at = matchers.parse_leading(text)
    except matchers.MatcherError as e:
        raise cl.Invalid(f"bad matcher in {cl.quoted(text)}: {e} ({matchers.HINT})") from None
    return {"matchers": found}, text[rest_at:].split()


def _silence(t: cl.Tokens, args: dict[str, Any]) -> dict[str, Any]:
    from chalicelib import matchers

    word = t.peek()
    if word is not None and not t.at("for"):
        raise cl.Invalid(f"{cl.quoted(word)} is not a matcher ({matchers.HINT})")
    if not args["matchers"]:
        raise cl.Invalid("silence needs at least one matcher (e.g. alertname=HighCPU)")
    if not t.at("for"):
        raise cl.Invalid("silence needs 'for <duration>' after the matchers")
    duration = cl.duration(t.after_keyword("for", "duration"))
    return {**args, "duration": duration, "reason": t.reason()}


def _where_silence(cmd: Any, policy: Any) -> list[str]:
    named = {m.value for m in cmd.args["matchers"] if m.label in ("env", "environment") and m.op == "="}
    if len(named) > 1:
        raise cl.Unresolvable("a silence names one environment at most")
    return sorted(named) or [policy.account.environment]


def _where_named_id(cmd: Any, policy: Any) -> list[str]:
    """Incident and silence ids name their environment."""
    from chalicelib.alerts.ids import environment_of

    named = environment_of(cmd.args.get("incident") or cmd.args.get("id") or "")
    return [named or policy.account.environment]


def _where_everywhere(cmd: Any, policy: Any) -> list[str]:
    return cl.commanded_environments(policy)


MANIFEST = Manifest(
    name="alerts",
    summary="CloudWatch alarms to the people who own them: grouped, silenced, inhibited, escalated, resolved",
    section=AlertsSection,
    kinds=(Kind.ALARM,),
    event_order=10,  # of the capabilities hearing an alarm, people are told first
    handlers="chalicelib.alerts.handlers",
    commands="chalicelib.alerts.commands",
    command_specs=(
        Command("silence", "<matcher...> for <duration> <reason...>",
                "silence alerts matching every matcher (label=value, !=, =~, !~)", Role.OPERATOR, _silence,
                where=_where_silence, raw=_silence_matchers, help_order=30),
        Command("silences", "", "list active silences", Role.VIEWER, cl.no_args, where=_where_everywhere,
                help_order=31),
        Command("unsilence", "<id>", "end a silence early", Role.OPERATOR, cl.one("id"), where=_where_named_id,
                help_order=32),
        Command("ack", "<incident>", "acknowledge an incident", Role.OPERATOR, cl.one("incident"),
                where=_where_named_id, help_order=33),
    ),
    functions=(Function("alerts_flush", "chalicelib.alerts.flush:run", "rate(1 minute)"),),
    permissions="chalicelib.alerts.permissions",
    buttons={"incident_ack": "chalicelib.alerts.ids:button_command",  # the incident card's Ack / Silence 1h
             "silence_1h": "chalicelib.alerts.ids:button_command"},
)
