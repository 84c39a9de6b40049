"""The scaling section of the policy: the proposed shipped sections load, every dangling reference is reported with
its line, and the IAM statements follow the policy."""

from __future__ import annotations

import pytest

from chalicelib.policy.loader import PolicyError, parse
from chalicelib.scaling import permissions
from chalicelib.scaling.policy import Direction, ScalingSection
from tests.scaling_kit import SECTIONS, shipped_text, shipped_with, without_scaling

BASE = shipped_text("prod")
LINE = BASE.count("\n")  # the scaling section starts on the next line


def problems(section: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse(BASE + section)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("account", ["prod", "stage", "shared-services"])
def test_the_proposed_sections_load_with_the_shipped_policies(account):
    policy = shipped_with(account)
    assert policy.scaling.targets


def test_the_proposed_prod_section():
    policy = shipped_with("prod")
    web = policy.scaling.targets["web"]
    assert web.guardrails.approval == {"prod": (Direction.IN,)} and web.audit_target == "service/prod/web"
    assert policy.scaling.channel_for("web", policy) == "#team-web"
    assert policy.scaling.channel_for("api", policy) == "#team-api"
    assert policy.scaling.targets["api"].audit_target == "autoScalingGroup/api"
    assert set(policy.scaling.local(policy)) == {"web", "api"}


def test_the_front_door_only_routes():
    policy = shipped_with("shared-services")
    assert policy.scaling.local(policy) == {} and not policy.scaling.enabled
    assert {n: t.account for n, t in policy.scaling.targets.items()} == {
        "web": "prod", "api": "prod", "web-stage": "stage", "api-stage": "stage"}


def test_defaults_are_safe():
    section = ScalingSection()
    assert section.enabled is False and section.dry_run is True and section.catch_up == "1h"


GUARD = "guardrails: {floor: 1, ceiling: 4, max_step: 2}"


@pytest.mark.parametrize(("section", "expected"), [
    ("scaling:\n  targets:\n    web: {account: prod}\n",
     "scaling.targets.web: a scaling target names exactly one of 'asg' or 'ecs_service' (line +3)"),
    (f"scaling:\n  targets:\n    web: {{account: prod, asg: a, ecs_service: {{account: prod, cluster: c, service: s}}, "
     f"{GUARD}}}\n",
     "scaling.targets.web: a scaling target names exactly one of 'asg' or 'ecs_service' (line +3)"),
    ("scaling:\n  targets:\n    web: {account: prd}\n", "scaling.targets.web: unknown account 'prd' (line +3)"),
    ("scaling:\n  targets:\n    web: {account: prod, asg: api}\n",
     "scaling.targets.web: a scaling target in this account needs guardrails (line +3)"),
    ("scaling:\n  targets:\n    web:\n      account: prod\n      asg: api\n"
     "      guardrails: {floor: 5, ceiling: 4, max_step: 1}\n",
     "scaling.targets.web: ceiling 4 is below floor 5 (line +6)"),
    ("scaling:\n  targets:\n    web:\n      account: prod\n      asg: api\n"
     "      guardrails: {floor: 1, ceiling: 4, max_step: 1, approval: {qa: [in]}}\n",
     "scaling.targets.web: unknown environment 'qa' (line +6)"),
    (f"scaling:\n  targets:\n    web: {{account: prod, asg: nobody-lists-me, {GUARD}}}\n",
     "scaling.targets.web: no channel to announce changes in: set 'channel' (no app lists this resource and "
     "slack.audit_channel is unset) (line +3)"),
    ("scaling:\n  targets:\n    web: {account: stage, ecs_service: {account: prod, cluster: c, service: s}}\n",
     "scaling.targets.web: the service is in account 'prod', not 'stage' (line +3)"),
    ("scaling:\n  alarms:\n    r: {alarm: 'web-*', target: nope, add: 1}\n",
     "scaling.alarms.r: unknown scaling target 'nope' (line +3)"),
    ("scaling:\n  targets:\n    w: {account: stage}\n  alarms:\n    r: {alarm: 'web-*', target: w, add: 1}\n",
     "scaling.alarms.r: target 'w' is in account 'stage': rules act on this account's targets only (line +5)"),
    (f"scaling:\n  targets:\n    api: {{account: prod, asg: api, {GUARD}}}\n  schedules:\n"
     f"    n: {{target: api, cron: '0 25 * * *', set: 1}}\n",
     "scaling.schedules.n: bad cron '0 25 * * *': hour: 25 is outside 0-23 (line +5)"),
    (f"scaling:\n  targets:\n    api: {{account: prod, asg: api, {GUARD}}}\n  schedules:\n"
     f"    n: {{target: api, cron: '0 20 * * *', timezone: Europe/Berlln, set: 1}}\n",
     "scaling.schedules.n: unknown time zone 'Europe/Berlln' (line +5)"),
    (f"scaling:\n  targets:\n    api: {{account: prod, asg: api, {GUARD}}}\n  schedules:\n"
     f"    m: {{target: api, cron: '0 7 * * *', restore: n}}\n",
     "scaling.schedules.m: 'n' is not a schedule that sets a size (line +5)"),
    (f"scaling:\n  targets:\n    api: {{account: prod, asg: api, {GUARD}}}\n"
     f"    web: {{account: prod, ecs_service: {{account: prod, cluster: prod, service: web}}, {GUARD}}}\n"
     f"  schedules:\n    n: {{target: web, cron: '0 20 * * *', set: 1}}\n"
     f"    m: {{target: api, cron: '0 7 * * *', restore: n}}\n",
     "scaling.schedules.m: 'n' scales 'web', not 'api' (line +7)"),
    ("scaling:\n  catch_up: 2d\n",
     "scaling.catch_up: at most 1d: a schedule is not worth acting on a day late (line +2)"),
])
def test_dangling_references_are_reported_with_their_line(section, expected):
    message, _, line = expected.rpartition(" (line +")
    assert f"{message} (line {LINE + int(line.rstrip(')'))})" in problems(section)


@pytest.mark.parametrize(("schedule", "message"), [
    ("{target: api, cron: '0 7 * * *'}", "a schedule either sets a size ('set') or restores one ('restore')"),
    ("{target: api, cron: '0 7 * * *', set: 1, restore: x}", "a schedule either sets a size"),
    ("{target: api, cron: '0 7 * * *', restore: x, duration: 1h}", "'duration' goes with 'set'"),
    ("{target: api, cron: '0 7 * * *', set: -1}", "greater than or equal to 0"),
    ("{target: api, cron: '0 7 * * *', set: 1, duration: 1 hour}", "does not match"),
])
def test_schedule_shape(schedule, message):
    found = problems(f"scaling:\n  schedules:\n    s: {schedule}\n")
    assert any(message in p for p in found), found


@pytest.mark.parametrize(("guardrails", "message"), [
    ("{floor: -1, ceiling: 4, max_step: 1}", "floor: input should be greater than or equal to 0"),
    ("{floor: 1, ceiling: 4, max_step: 0}", "max_step: input should be greater than or equal to 1"),
    ("{floor: 1, ceiling: 4, max_step: 1, cooldwn: 5m}", "cooldwn: unknown field"),
    ("{floor: 1, ceiling: 4, max_step: 1, approval: {prod: [sideways]}}", "input should be 'out' or 'in'"),
    ("{floor: 1, ceiling: 4, max_step: 1, max_changes_per_hour: 0}", "greater than or equal to 1"),
    ("{floor: 1, ceiling: 4}", "max_step: required field is missing"),
])
def test_guardrail_shape(guardrails, message):
    found = problems(f"scaling:\n  targets:\n    api: {{account: prod, asg: api, guardrails: {guardrails}}}\n")
    assert any(message in p for p in found), found


def test_iam_statements_follow_the_policy():
    prod = permissions.statements(shipped_with("prod"), "prod")
    by_sid = {s["Sid"]: s for s in prod}
    assert by_sid["ScalingGroups"]["Resource"] == [
        "arn:aws:autoscaling:eu-west-1:333344445555:autoScalingGroup:*:autoScalingGroupName/api"]
    assert by_sid["ScalingServices"]["Resource"] == ["arn:aws:ecs:eu-west-1:333344445555:service/prod/web"]
    assert by_sid["ScalingServices"]["Action"] == ["ecs:DescribeServices", "ecs:UpdateService"]
    assert by_sid["ScalingScalableTargets"]["Resource"] == (
        "arn:aws:application-autoscaling:eu-west-1:333344445555:scalable-target/*")
    assert by_sid["ScalingDescribe"]["Resource"] == "*"
    stage = {s["Sid"]: s for s in permissions.statements(shipped_with("stage"))}
    assert stage["ScalingServices"]["Resource"] == ["arn:aws:ecs:eu-west-1:222233334444:service/stage/web"]
    assert permissions.statements(shipped_with("shared-services")) == []
    assert permissions.statements(shipped_with("prod", "")) == []  # no section: nothing granted


def test_without_scaling_strips_only_the_section():
    text = "version: 1\nscaling:\n  enabled: true\n  # a comment\n  targets: {}\n\nrotation:\n  enabled: false\n"
    assert without_scaling(text) == "version: 1\nrotation:\n  enabled: false\n"
    assert without_scaling("version: 1\n" + SECTIONS["prod"]).strip() == "version: 1"
