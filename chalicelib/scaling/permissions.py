"""The IAM statements scaling needs in one account, derived from its policy (like Cloud Custodian's actions, which
declare their permissions): only the groups and services the policy names, and the describe calls, which AWS does
not scope to a resource (``ScalingDescribe``: ``*``). ``infra/iam_policy.py`` adds them to the account's role
(``CAPABILITY_PERMISSIONS``). Nothing when ``scaling.enabled`` is off or no target is in this account.
"""

from __future__ import annotations

from typing import Any

from chalicelib.policy.schema import Policy


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
            # a service registered with Application Auto Scaling: its scalable target's min/max (ids are random)
            "Sid": "ScalingScalableTargets",
            "Effect": "Allow",
            "Action": ["application-autoscaling:RegisterScalableTarget"],
            "Resource": f"arn:aws:application-autoscaling:{region}:{account}:scalable-target/*",
        })
    return found
