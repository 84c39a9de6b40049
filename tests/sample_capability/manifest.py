"""The sample capability, declared (see chalicelib/manifest.py)."""

from __future__ import annotations

from typing import Any

from chalicelib import commandline as cl
from chalicelib.kinds import Kind
from chalicelib.manifest import Command, Function, Manifest
from chalicelib.policy.types import Role
from tests.sample_capability.policy import SampleSection


def _sample(t: cl.Tokens) -> dict[str, Any]:
    return {"word": t.name("word", keyword="in"), **cl.in_env(t)}


MANIFEST = Manifest(
    name="sample",
    summary="says a word back: the smallest capability there is (tests only)",
    section=SampleSection,
    kinds=(Kind.ECS,),
    event_order=40,  # after promotion's
    handlers="tests.sample_capability.handlers",
    commands="tests.sample_capability.commands",
    command_specs=(
        Command("sample", "<word> [in <env>]", "say a word back (the sample capability)", Role.VIEWER, _sample,
                where=cl.named_env_or_here),
    ),
    functions=(Function("sample_tick", "tests.sample_capability.ticks:run", "rate(10 minutes)"),),
    permissions="tests.sample_capability.permissions",
    buttons={"sample_wave": "tests.sample_capability.commands:wave"},  # a card's button standing for a command
)
