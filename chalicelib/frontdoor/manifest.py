"""The front door, declared (see chalicelib/manifest.py): the peer flows it takes, its own /ops commands, the
Slack outbox and the card drain. It reaches the other capabilities only through their manifests
(``chalicelib/capabilities.py``)."""

from __future__ import annotations

from typing import Any

from chalicelib import commandline as cl
from chalicelib.manifest import Command, Function, Manifest, nowhere
from chalicelib.policy.schema import Flow
from chalicelib.policy.types import Role

AUDIT_DEFAULT = 10
AUDIT_MAX = 100


def _status(t: cl.Tokens) -> dict[str, Any]:
    app = t.name("app", required=False)
    t.end()
    return {"app": app}


def _redrive(t: cl.Tokens) -> dict[str, Any]:
    which = t.name("dead letter id, or all", keyword="in")
    return {"id": None if which.lower() == "all" else which, **cl.in_env(t)}


def _entries(token: str) -> int:
    if not cl.DIGITS.fullmatch(token) or len(token.lstrip("0")) > 3 or not 1 <= int(token) <= AUDIT_MAX:
        raise cl.Invalid(f"{cl.quoted(token)} is not a number of entries (use 1 to {AUDIT_MAX})")
    return int(token)


def _audit(t: cl.Tokens) -> dict[str, Any]:
    rest = t.remaining()
    target, n = None, AUDIT_DEFAULT
    if len(rest) == 1 and cl.DIGITS.fullmatch(rest[0]):
        n = _entries(t.take())
    else:
        target = t.name("target", required=False)
        if t.peek() is not None:
            n = _entries(t.take())
    t.end()
    return {"target": target, "n": n}


def _where_status(cmd: Any, policy: Any) -> list[str]:
    """Here, and each account of the app's promotion path says what runs there."""
    own = policy.account.environment
    path = policy.promotion.paths.get(cmd.args.get("app") or "")
    return sorted({own, *path}) if path else [own]


def _where_audit(cmd: Any, policy: Any) -> list[str]:
    """An app's environments; anything else: everywhere that takes commands from here."""
    target = cmd.args.get("target")
    app = policy.apps.get(target) if target else None
    if app is not None:
        return sorted(set(app.pipelines) | set(app.ecs_services) | set(app.asgs))
    return cl.commanded_environments(policy)


MANIFEST = Manifest(
    name="frontdoor",
    summary="the Slack front door: signed, authorised /ops commands, approvals, announcements for every account",
    flows=(Flow.COMMAND, Flow.REPLY, Flow.APPROVAL_REQUEST,
           Flow.APPROVAL_RESULT,  # the front door hands it to the capability that asked
           Flow.ANNOUNCE),
    handlers="chalicelib.frontdoor.handlers",
    commands="chalicelib.frontdoor.commands",
    command_specs=(
        Command("help", "", "show this help", None, cl.no_args, where=nowhere, help_order=0),
        Command("status", "[app]", "what is deployed and in flight, for one app or all", Role.VIEWER, _status,
                where=_where_status, help_order=1),
        Command("deadletters", "[in <env>]", "list what Lambda gave up on after its retries", Role.OPERATOR,
                cl.in_env, where=cl.named_env_or_here, help_order=90),
        Command("redrive", "<id>|all [in <env>]", "run dead letters again (same function, same event)",
                Role.OPERATOR, _redrive, where=cl.named_env_or_here, help_order=91),
        Command("audit", "[app|target] [n]",
                f"the last n audit entries (default {AUDIT_DEFAULT}, at most {AUDIT_MAX})", Role.VIEWER, _audit,
                where=_where_audit, help_order=92),
    ),
    functions=(Function("slack_outbox", "chalicelib.frontdoor.outbox:tick", "rate(5 minutes)"),
               Function("slack_cards", "chalicelib.frontdoor.outbox:cards", "rate(1 minute)")),
    permissions="chalicelib.frontdoor.permissions",
)
