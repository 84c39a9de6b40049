"""The rotation capability, declared (see chalicelib/manifest.py): secrets rotated, watched, announced."""

from __future__ import annotations

from typing import Any

from chalicelib import commandline as cl
from chalicelib.kinds import Kind
from chalicelib.manifest import Command, Function, Manifest
from chalicelib.policy.types import Role
from chalicelib.rotation.policy import RotationSection


def _rotate(t: cl.Tokens) -> dict[str, Any]:
    return {"secret": t.name("secret", keyword="in"), **cl.in_env(t)}


MANIFEST = Manifest(
    name="rotation",
    summary="Secrets Manager rotation behind one protocol, a daily watch, outcomes announced, /ops rotate",
    section=RotationSection,
    kinds=(Kind.SECRETS,),
    handlers="chalicelib.rotation.handlers",
    decisions="chalicelib.rotation.decisions",
    commands="chalicelib.rotation.commands",
    command_specs=(
        Command("rotate", "<secret> [in <env>]", "rotate a secret now", Role.OPERATOR, _rotate,
                where=cl.named_env_or_here, help_order=40),
    ),
    functions=(
        Function("rotate_secret", "chalicelib.rotation.rotator:handle"),  # invoked by Secrets Manager
        Function("rotation_watch", "chalicelib.rotation.watch:run", "cron(0 7 * * ? *)"),
    ),
    permissions="chalicelib.rotation.permissions",
)
