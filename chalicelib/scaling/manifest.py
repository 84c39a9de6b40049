"""The scaling capability, declared (see chalicelib/manifest.py): capacity by alarm, schedule and Slack."""

from __future__ import annotations

from typing import Any

from chalicelib import commandline as cl
from chalicelib.kinds import Kind
from chalicelib.manifest import Command, Function, Manifest
from chalicelib.policy.types import Role
from chalicelib.scaling.policy import ScalingSection


def _scale(t: cl.Tokens) -> dict[str, Any]:
    target = t.name("target", keyword="for")
    if t.peek() is None or t.at("for"):
        raise t.missing("count")
    count = cl.count(t.take())
    duration = cl.duration(t.after_keyword("for", "duration")) if t.at("for") else None
    t.end()
    return {"target": target, "count": count, "duration": duration}


def _where_target(cmd: Any, policy: Any) -> list[str]:
    """The environment of the account that holds the target."""
    target = policy.scaling.targets.get(cmd.args["target"])
    if target is None:
        raise cl.Unresolvable(f"unknown scaling target '{cmd.args['target']}'")
    return [policy.accounts()[target.account][1]]


MANIFEST = Manifest(
    name="scaling",
    summary="ASG and ECS capacity by alarm, schedule and Slack, inside guardrails",
    section=ScalingSection,
    kinds=(Kind.ALARM, Kind.AUTOSCALING),
    event_order=20,  # hears an alarm after alerts, before promotion
    handlers="chalicelib.scaling.handlers",
    commands="chalicelib.scaling.commands",
    command_specs=(
        Command("scale", "<target> <count> [for <duration>] [--dry-run]",
                "set a service's desired count, for a while if given; --dry-run only shows the plan",
                Role.OPERATOR, _scale, where=_where_target, flags={"dry-run": None}, help_order=20),
    ),
    functions=(Function("scaling_tick", "chalicelib.scaling.ticks:run", "rate(1 minute)"),),
    permissions="chalicelib.scaling.permissions",
)
