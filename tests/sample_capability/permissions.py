"""What the sample capability's entry points need: to read ECS services on its events, nothing else."""

from __future__ import annotations

from typing import Any

from chalicelib.kinds import Kind


def needs(policy: Any, stage: str | None = None) -> dict[str, list[Any]]:
    region, account = policy.account.region, policy.account.id
    read = {"Sid": "SampleEcsRead", "Effect": "Allow", "Action": ["ecs:DescribeServices"],
            "Resource": f"arn:aws:ecs:{region}:{account}:service/*"}
    tick = {"Sid": "SampleTick", "Effect": "Allow", "Action": ["ecs:ListClusters"], "Resource": "*"}
    return {str(Kind.ECS): [read], "sample_tick": [tick]}
