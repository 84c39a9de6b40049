"""Helpers for the scaling tests: the proposed policy sections (the same YAML the report asks the lead to ship),
an estate in moto, the wiring the lead adds to app/capabilities (patched per test), and a capture of the bus."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import capabilities
from chalicelib.capabilities import Capability
from chalicelib.kinds import Kind
from chalicelib.policy.loader import Policy, parse
from tests.harness import ACTIONABLE

POLICIES = Path(__file__).resolve().parent.parent / "chalicelib" / "policies"

# ---- the sections proposed for the shipped policies (see the report) ----

PROD_SCALING = """
scaling:
  enabled: true
  dry_run: false
  targets:
    web:
      account: prod
      ecs_service: {account: prod, cluster: prod, service: web}
      guardrails:
        floor: 2
        ceiling: 6
        max_step: 2
        max_step_percent: 100
        cooldown: 10m
        max_changes_per_hour: 6
        approval: {prod: [in]}
    api:
      account: prod
      asg: api
      guardrails:
        floor: 1
        ceiling: 6
        max_step: 2
        cooldown: 10m
        max_changes_per_hour: 6
        approval: {prod: [in]}
  alarms:
    web-latency:
      alarm: web-latency
      target: web
      add: 2
      revert_on_ok: true
      revert_after: 2h
"""

STAGE_SCALING = """
scaling:
  enabled: true
  dry_run: false
  targets:
    web-stage:
      account: stage
      ecs_service: {account: stage, cluster: stage, service: web}
      guardrails:
        floor: 0
        ceiling: 4
        max_step: 4
        cooldown: 5m
        max_changes_per_hour: 6
    api-stage:
      account: stage
      asg: api
      guardrails:
        floor: 0
        ceiling: 4
        max_step: 2
        cooldown: 5m
        max_changes_per_hour: 6
  schedules:
    night:
      target: web-stage
      cron: "0 20 * * mon-fri"
      timezone: Europe/Berlin
      set: 0
    morning:
      target: web-stage
      cron: "0 7 * * mon-fri"
      timezone: Europe/Berlin
      restore: night
"""

SHARED_SCALING = """
scaling:
  targets:
    web: {account: prod}
    api: {account: prod}
    web-stage: {account: stage}
    api-stage: {account: stage}
"""

SECTIONS = {"prod": PROD_SCALING, "stage": STAGE_SCALING, "shared-services": SHARED_SCALING}


def without_scaling(text: str) -> str:
    """A policy's text without its top-level ``scaling:`` section (once the lead ships one, tests bring their own)."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        if re.match(r"^scaling:", line):
            inside = True
            continue
        if inside and re.match(r"^[^\s#]", line):
            inside = False
        if not inside:
            kept.append(line)
    return "".join(kept).rstrip("\n") + "\n"


def shipped_text(account: str) -> str:
    return without_scaling((POLICIES / f"{account}.yaml").read_text())


def shipped_with(account: str, section: str | None = None) -> Policy:
    """The shipped policy of ``account`` with a scaling section (default: the proposed one) in place of its own."""
    return parse(shipped_text(account) + (SECTIONS[account] if section is None else section), f"{account}.yaml+scaling")


def use_policy(monkeypatch: pytest.MonkeyPatch, policy: Policy) -> Policy:
    """Make ``policy`` the current one (and the account it is for)."""
    from chalicelib import settings

    def current() -> Policy:
        return policy

    current.cache_clear = lambda: None  # type: ignore[attr-defined] # reset_caches() clears it
    monkeypatch.setenv("SWITCHBOARD_ACCOUNT_NAME", policy.account.name)
    monkeypatch.setenv("SWITCHBOARD_SIGNING_KEY", f"alias/switchboard-signing-{policy.account.name}")
    monkeypatch.setenv("SWITCHBOARD_POLICY_FILE", f"policies/{policy.account.name}.yaml")
    settings.get_settings.cache_clear()
    monkeypatch.setattr("chalicelib.policy.loader.current", current)
    return policy


def wire(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wiring the lead adds permanently (see the report): scaling has landed and hears alarms."""
    monkeypatch.setitem(capabilities.LANDED, Capability.SCALING, "chalicelib.scaling.handlers")
    monkeypatch.setitem(capabilities.KIND_ROUTES, Kind.ALARM, (Capability.ALERTS, Capability.SCALING))
    import chalicelib.scaling.handlers  # noqa: F401 - registers the handlers (LANDED would, on first use)


# ---- an estate in moto (the default account) ----

def ecs_service(cluster: str = "prod", service: str = "web", desired: int = 2) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(family=f"{service}-{cluster}", containerDefinitions=[
        {"name": service, "image": f"registry.local/{service}:stable", "memory": 512}])
    ecs.create_service(cluster=cluster, serviceName=service, desiredCount=desired,
                       taskDefinition=f"{service}-{cluster}")


def register_aas(cluster: str = "prod", service: str = "web", minimum: int = 2, maximum: int = 10) -> None:
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ResourceId=f"service/{cluster}/{service}", ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=minimum, MaxCapacity=maximum)


def asg(name: str = "api", minimum: int = 1, maximum: int = 6, desired: int = 2, managed: bool = False) -> None:
    ec2, autoscaling = boto3.client("ec2"), boto3.client("autoscaling")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    if not ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": ["app"]}])[
            "LaunchTemplates"]:
        ec2.create_launch_template(LaunchTemplateName="app", LaunchTemplateData={
            "ImageId": "ami-12c6146b", "InstanceType": "t3.small"})
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=minimum, MaxSize=maximum,
                                          DesiredCapacity=desired, LaunchTemplate={"LaunchTemplateName": "app"},
                                          VPCZoneIdentifier=",".join(subnets))
    if managed:
        autoscaling.put_scaling_policy(
            AutoScalingGroupName=name, PolicyName="cpu", PolicyType="TargetTrackingScaling",
            TargetTrackingConfiguration={"PredefinedMetricSpecification": {
                "PredefinedMetricType": "ASGAverageCPUUtilization"}, "TargetValue": 50.0})


def desired_count(cluster: str = "prod", service: str = "web") -> int:
    return boto3.client("ecs").describe_services(cluster=cluster, services=[service])["services"][0]["desiredCount"]


def scalable_range(cluster: str = "prod", service: str = "web") -> tuple[int, int]:
    [found] = boto3.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{cluster}/{service}"],
        ScalableDimension="ecs:service:DesiredCount")["ScalableTargets"]
    return found["MinCapacity"], found["MaxCapacity"]


def group(name: str = "api") -> tuple[int, int, int]:
    """(desired, min, max)"""
    [found] = boto3.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"]
    return found["DesiredCapacity"], found["MinSize"], found["MaxSize"]


# ---- what goes on this account's bus (announcements, approval requests) ----

class Bus:
    def __init__(self) -> None:
        sqs, events = boto3.client("sqs"), boto3.client("events")
        self.url = sqs.create_queue(QueueName="scaling-captured")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="scaling-capture", EventPattern=json.dumps(ACTIONABLE))
        events.put_targets(Rule="scaling-capture", Targets=[{"Id": "q", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def take(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        got: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                got.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        self.seen += got
        return got

    def announcements(self) -> list[dict[str, Any]]:
        self.take()
        return [e["detail"]["payload"] for e in self.seen if e["detail"]["flow"] == "announce"]

    def approvals(self) -> list[dict[str, Any]]:
        self.take()
        return [e["detail"]["payload"] for e in self.seen if e["detail"]["flow"] == "approval-request"]

    def texts(self) -> list[str]:
        return [a["text"] for a in self.announcements()]
