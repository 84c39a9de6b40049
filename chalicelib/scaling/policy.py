"""The scaling section of the policy (filled by the scaling capability, issue 6)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import Field

from chalicelib.policy.types import EcsServiceRef, Name, Path, Section, Strict

if TYPE_CHECKING:
    from chalicelib.policy.schema import Policy


class ScalingTarget(Strict):
    account: Name
    asg: str | None = None
    ecs_service: EcsServiceRef | None = None


class ScalingSection(Section):
    enabled: bool = False
    dry_run: bool = True
    targets: dict[Name, ScalingTarget] = Field(default_factory=dict)

    def dangling(self, policy: Policy) -> Iterator[tuple[Path, str, Path]]:
        accounts = policy.accounts()
        for name, target in self.targets.items():
            entry = ("scaling", "targets", name)
            if target.account not in accounts:
                yield entry, f"unknown account '{target.account}'", (*entry, "account")
            if (target.asg is None) == (target.ecs_service is None):
                yield entry, "a scaling target names exactly one of 'asg' or 'ecs_service'", entry
