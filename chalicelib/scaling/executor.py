"""The thin AWS adapter: describe a target's capacity (and so its mode), perform a plan's calls, verify.

Nothing here decides anything; ``plan.py`` does. Every boto3 error becomes a ``ScalingError`` with a readable
reason (``TargetMissing``, ``AwsError``; ``NotVerified`` when a describe after the change does not show it).
Clients come from ``chalicelib.aws`` (adaptive retries, so throttling is retried before it is reported) unless a
``client`` factory is injected (tests).

moto accepts a desired capacity above the group's max, min above max, and never moves an ECS service's count into
a new Application Auto Scaling range: the plan keeps its own invariants and this module checks only what the API
reports back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib import aws
from chalicelib.scaling.exceptions import AwsError, NotVerified, TargetMissing
from chalicelib.scaling.plan import Capacity, Mode, Plan, describe
from chalicelib.scaling.policy import ScalingTarget

ClientFactory = Callable[[str], Any]
ECS_DIMENSION = "ecs:service:DesiredCount"


def _guard(call: str, fn: Callable[[], Any]) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        if code in ("ServiceNotFoundException", "ClusterNotFoundException") or (
                code == "ValidationError" and "not found" in str(error.get("Message", ""))):
            raise TargetMissing(f"{call}: {code}: {error.get('Message', '')}".strip(), code) from exc
        raise AwsError(f"{call}: {code}: {error.get('Message', '')}".strip(), code) from exc
    except BotoCoreError as exc:
        raise AwsError(f"{call}: {type(exc).__name__}: {exc}", type(exc).__name__) from exc


def describe_target(target: ScalingTarget, client: ClientFactory = aws.client) -> Capacity:
    """The target's capacity now, and which mode applies (see plan.Mode)."""
    if target.ecs_service is not None:
        return _describe_service(target.ecs_service.cluster, target.ecs_service.service, client)
    assert target.asg is not None
    return _describe_group(target.asg, client)


def _describe_group(name: str, client: ClientFactory) -> Capacity:
    autoscaling = client("autoscaling")
    groups = _guard("DescribeAutoScalingGroups", lambda: autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"])
    if not groups:
        raise TargetMissing(f"auto scaling group '{name}' does not exist")
    group = groups[0]
    policies = _guard("DescribePolicies", lambda: autoscaling.describe_policies(
        AutoScalingGroupName=name)["ScalingPolicies"])
    mode = Mode.ASG_MANAGED if policies else Mode.ASG
    return Capacity(mode, name, group["DesiredCapacity"], group["MinSize"], group["MaxSize"])


def _describe_service(cluster: str, service: str, client: ClientFactory) -> Capacity:
    ecs = client("ecs")
    answer = _guard("DescribeServices", lambda: ecs.describe_services(cluster=cluster, services=[service]))
    found = [s for s in answer.get("services", []) if s.get("status") != "INACTIVE"]
    if not found:
        why = answer.get("failures", [{}])[0].get("reason", "INACTIVE") if answer.get("failures") else "INACTIVE"
        raise TargetMissing(f"ECS service '{cluster}/{service}' does not exist ({why})")
    desired = found[0]["desiredCount"]
    registered = _guard("DescribeScalableTargets", lambda: client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{cluster}/{service}"],
        ScalableDimension=ECS_DIMENSION)["ScalableTargets"])
    resource = f"{cluster}/{service}"
    if registered:
        return Capacity(Mode.ECS_AAS, resource, desired, registered[0]["MinCapacity"], registered[0]["MaxCapacity"])
    return Capacity(Mode.ECS, resource, desired)


def apply(plan: Plan, client: ClientFactory = aws.client) -> None:
    """Perform the plan's calls, in order (a plan has at most one: nothing is ever left half-done)."""
    for action in plan.actions:
        service = client(action.service)
        _guard(_api_name(action.method), lambda a=action, s=service: getattr(s, a.method)(**a.params))


def verify(target: ScalingTarget, plan: Plan, client: ClientFactory = aws.client) -> Capacity:
    """Describe the target again; the fields the plan set must read back as planned."""
    seen = describe_target(target, client)
    if seen.mode is not plan.after.mode or seen.held() != plan.after.held():
        raise NotVerified(f"after the change {target.audit_target} reads {describe(seen)}, "
                          f"not {describe(plan.after)}")
    return seen


def _api_name(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_"))
