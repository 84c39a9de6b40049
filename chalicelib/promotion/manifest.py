"""The promotion capability, declared (see chalicelib/manifest.py): candidates moved along each app's path."""

from __future__ import annotations

from typing import Any

from chalicelib import commandline as cl
from chalicelib.kinds import Kind
from chalicelib.manifest import Command, Function, Manifest, nowhere
from chalicelib.policy.schema import Flow
from chalicelib.policy.types import Role
from chalicelib.promotion.policy import PromotionSection


def _promote(t: cl.Tokens) -> dict[str, Any]:
    app = t.name("app", keyword="to")
    version = env = None
    if t.peek() is not None and not t.at("to"):
        version = t.name("version")
    if t.at("to"):
        env = t.after_keyword("to", "environment")
        if not cl.NAME.fullmatch(env):
            raise cl.Invalid(f"{cl.quoted(env)} is not a valid environment ({cl.NAME_RULE})")
    t.end()
    return {"app": app, "version": version, "env": env}


def _path(cmd: Any, policy: Any) -> tuple[str, ...]:
    app = cmd.args["app"]
    if app not in policy.apps:
        raise cl.Unresolvable(f"unknown app '{app}'")
    path = policy.promotion.paths.get(app)
    if not path:
        raise cl.Unresolvable(f"app '{app}' has no promotion path in policy")
    return path


def _where_promote(cmd: Any, policy: Any) -> list[str]:
    """Promotions start where the candidate soaks: the source environment's account."""
    app, path = cmd.args["app"], _path(cmd, policy)
    target = policy.promotion.destination(app, cmd.args.get("env")) or ""
    if target not in policy.environments():
        raise cl.Unresolvable(f"unknown environment '{target}'")
    source = policy.promotion.previous_environment(app, target)
    if source is None:
        raise cl.Unresolvable(f"nothing promotes {app} to '{target}' (its path: {' → '.join(path)})")
    return [source]


def _where_deploys_happen(cmd: Any, policy: Any) -> list[str]:
    """Holds stop deploys: they live where the deploys happen."""
    return [_path(cmd, policy)[-1]]


def _authorised_in_destination(cmd: Any, policy: Any) -> str | None:
    """``promote`` runs where the candidate soaks but is allowed by the roles of the environment it deploys to."""
    return policy.promotion.destination(cmd.args["app"], cmd.args.get("env"))


MANIFEST = Manifest(
    name="promotion",
    summary="a candidate that succeeded in one environment moves to the next: gated, approved, watched",
    section=PromotionSection,
    kinds=(Kind.CODEPIPELINE, Kind.ALARM, Kind.ECS),
    flows=(Flow.RELEASE_CANDIDATE,),
    event_order=30,  # hears an alarm after alerts and scaling
    handlers="chalicelib.promotion.handlers",
    commands="chalicelib.promotion.commands",
    command_specs=(
        Command("promote", "<app> [version] [to <env>] [--skip-soak]",
                "promote a release to the next (or the given) environment; --skip-soak needs admin",
                Role.OPERATOR, _promote, where=_where_promote, flags={"skip-soak": Role.ADMIN},
                authorised_in=_authorised_in_destination, help_order=10),
        Command("hold", "<app> <reason...>", "stop promotions of an app", Role.OPERATOR, cl.app_reason,
                where=_where_deploys_happen, help_order=11),
        Command("unhold", "<app>", "let promotions of an app go on", Role.OPERATOR, cl.one("app"),
                where=_where_deploys_happen, help_order=12),
        # decisions live in the front door, which decides them itself (frontdoor/commands.py): no executor
        Command("approve", "<id>", "approve a pending promotion", Role.APPROVER, cl.one("id"), where=nowhere,
                help_order=13),
        Command("reject", "<id> <reason...>", "reject a pending promotion", Role.APPROVER, cl.id_reason,
                where=nowhere, help_order=14),
    ),
    functions=(Function("promotion_tick", "chalicelib.promotion.reconcile:run", "rate(1 minute)"),),
    permissions="chalicelib.promotion.permissions",
    status="chalicelib.promotion.commands:status_lines",
)
