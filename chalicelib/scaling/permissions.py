"""The IAM statements scaling needs in one account, derived from its policy (like Cloud Custodian's actions, which
declare their permissions): only the groups and services the policy names, and the describe calls, which AWS does
not scope to a resource (``ScalingDescribe``: ``*``). Nothing when ``scaling.enabled`` is off or no target is in
this account.

``needs`` says which entry point uses which (``infra/iam_policy.py`` turns entry points into functions): every path
that may change capacity (alarm rules, schedules and the tick, ``/ops scale``, an approval decided) plans against
fresh state and applies; Auto Scaling events are only audited and said.
"""

from __future__ import annotations

from typing import Any

from chalicelib.policy.schema import Flow, Policy
from chalicelib.scaling.executor import ECS_DIMENSION
from chalicelib.slackkit.permissions import ANNOUNCE


def statements(policy: Policy, stage: str | None = None) -> list[dict[str, Any]]:
    """``stage`` is unused (scaling calls no function of its own); accepted like every capability's."""
    region, account = policy.account.region, policy.account.id
    local = policy.scaling.local(policy)
    if not policy.scaling.enabled or not local:
        return []
    groups = sorted({t.asg for t in local.values() if t.asg})
    services = sorted({(t.ecs_service.cluster, t.ecs_service.service) for t in local.values() if t.ecs_service})
    found: list[dict[str, Any]] = [{
        # scaling: read a target's capacity and mode (these calls take no resource-level permissions)
        "Sid": "ScalingDescribe",
        "Effect": "Allow",
        "Action": ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribePolicies",
                   "application-autoscaling:DescribeScalableTargets"],
        "Resource": "*",
    }]
    if groups:
        found.append({
            "Sid": "ScalingGroups",
            "Effect": "Allow",
            "Action": ["autoscaling:UpdateAutoScalingGroup"],
            "Resource": [f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/{g}"
                         for g in groups],
        })
    if services:
        found.append({
            "Sid": "ScalingServices",
            "Effect": "Allow",
            "Action": ["ecs:DescribeServices", "ecs:UpdateService"],
            "Resource": [f"arn:aws:ecs:{region}:{account}:service/{c}/{s}" for c, s in services],
        })
        found.append({
            # a service registered with Application Auto Scaling: its scalable target's min/max (ids are random, so
            # the resource is any target: the conditions keep it to ECS services' desired count)
            "Sid": "ScalingScalableTargets",
            "Effect": "Allow",
            "Action": ["application-autoscaling:RegisterScalableTarget"],
            "Resource": f"arn:aws:application-autoscaling:{region}:{account}:scalable-target/*",
            "Condition": {"StringEquals": {"application-autoscaling:service-namespace": "ecs",
                                           "application-autoscaling:scalable-dimension": ECS_DIMENSION}},
        })
    return found


def needs(policy: Policy, stage: str | None = None) -> dict[str, list[Any]]:
    """Entry point (a ``Kind``, a ``Flow`` or a function of app.py) -> statements and groups."""
    found = statements(policy, stage)
    if not found:
        return {}
    change = [*found, ANNOUNCE]  # plan, apply, verify; ask for approval or say what was done
    return {"alarm": change, "schedule": change, "scaling_tick": change, str(Flow.COMMAND): change,
            str(Flow.APPROVAL_RESULT): change, "autoscaling": [ANNOUNCE]}
