"""Scaling against moto: each mode changed and verified, save/restore with and without interference, dry-run,
approvals (asked, approved against fresh state, rejected, duplicated), concurrency, AWS errors, alarm events in
and out of order, and audit + announcements. Every AWS call goes to the moto server; Slack is behind the bus."""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import aws, pending
from chalicelib.intake.pipeline import Kind, handle
from chalicelib.scaling import executor, handlers, service, store, ticks
from chalicelib.scaling.plan import Request
from chalicelib.state import audit
from tests.decision_kit import result_for
from tests.events import context, sample
from tests.scaling_kit import (
    PROD_SCALING,
    Bus,
    asg,
    desired_count,
    ecs_service,
    group,
    register_aas,
    scalable_range,
    shipped_with,
    use_policy,
    wire,
)

ALICE, CAROL = "U0ALICE001", "U0CAROL001"


@pytest.fixture
def prod(aws, monkeypatch):
    policy = use_policy(monkeypatch, shipped_with("prod"))
    wire(monkeypatch)
    ecs_service("prod", "web", 2)
    asg("api", 1, 6, 2)
    return SimpleNamespace(policy=policy, bus=Bus(), monkeypatch=monkeypatch)


@pytest.fixture
def open_prod(prod):
    """prod where ending a temporary change goes back without asking."""
    prod.policy = use_policy(prod.monkeypatch, shipped_with("prod", PROD_SCALING.replace(
        "approval: {prod: [in]}", "approval: {prod: [in]}\n        approve_restores: false")))
    return prod


def slack(target: str, count, *, trigger: str = "t1", user: str = ALICE, **kw) -> Request:
    return Request(target, "set", count, origin="slack", actor=user, request_id=f"slack:{trigger}", **kw)


def entries(target: str = "service/prod/web") -> list:
    return sorted(audit.for_target(target, limit=100), key=lambda e: e.at)


def outcomes(target: str = "service/prod/web") -> list[str]:
    return [e.outcome for e in entries(target)]


# ---- changes, in each mode ----

def test_a_change_is_made_verified_audited_and_announced(prod):
    result = service.run(slack("web", 4))
    assert result.outcome == "succeeded" and desired_count() == 4
    [entry] = entries()
    assert (entry.actor, entry.action, entry.capability, entry.outcome) == (ALICE, "scaling.scale", "scaling",
                                                                            "succeeded")
    assert entry.before["desired"] == 2 and entry.after["desired"] == 4 and entry.detail["calls"][0]["params"][
        "desiredCount"] == 4
    [said] = prod.bus.announcements()
    assert said["channel"] == "#team-web" and "*web* (prod): 2 → 4 by <@U0ALICE001> in Slack" in said["text"]
    assert [c.after for c in store.history("web", datetime.now(UTC) - timedelta(hours=1))] == [4]


def test_application_auto_scaling_mode_moves_the_scalable_range(prod):
    register_aas("prod", "web", 2, 10)
    result = service.run(slack("web", 4))
    assert result.outcome == "succeeded", result.reason
    assert scalable_range() == (4, 10)
    assert desired_count() == 2  # moto never moves the service: the verification reads the range, not the count
    assert "registered with Application Auto Scaling" in result.lines[0]
    assert entries()[0].detail["calls"][0]["method"] == "register_scalable_target"


def test_auto_scaling_group_without_policies_sets_desired(prod):
    assert service.run(slack("api", 4)).outcome == "succeeded"
    assert group() == (4, 1, 6)
    [entry] = entries("autoScalingGroup/api")
    assert entry.detail["calls"][0]["params"] == {"AutoScalingGroupName": "api", "DesiredCapacity": 4}


def test_auto_scaling_group_with_policies_holds_with_min(prod):
    boto3.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName="api", ForceDelete=True)
    asg("api", 1, 6, 2, managed=True)
    assert service.run(slack("api", 4)).outcome == "succeeded"
    assert group() == (4, 4, 6)


def test_guardrails_hold_on_their_own_even_where_moto_would_accept(prod):
    # moto accepts a desired count above the group's max; the ceiling (6) is Switchboard's own
    result = service.run(slack("api", 8))
    assert result.outcome == "refused" and "8 is above the ceiling of 6" in result.reason
    assert group() == (2, 1, 6)
    [entry] = entries("autoScalingGroup/api")
    assert entry.outcome == "refused" and entry.actor == ALICE
    assert "not scaled to 8" in prod.bus.texts()[0]


@pytest.mark.parametrize(("count", "reason"), [
    (0, "0 is below the floor of 2"),
    (-1, "-1 is not a size"),
    (10**40, "a 41-digit number is above the ceiling of 6"),
    ("lots", "'lots' is not a whole number"),
])
def test_edge_values_are_refused_and_audited(prod, count, reason):
    result = service.run(slack("web", count))
    assert result.outcome == "refused" and reason in result.reason and desired_count() == 2
    assert reason in entries()[0].reason


def test_a_no_op_changes_nothing_and_starts_no_cooldown(prod):
    result = service.run(slack("web", 2))
    assert result.outcome == "succeeded" and result.reason == "already at 2: nothing to change"
    assert store.history("web", datetime.now(UTC) - timedelta(hours=1)) == [] and prod.bus.announcements() == []
    assert service.run(slack("web", 4, trigger="t2")).outcome == "succeeded"


@pytest.mark.parametrize(("name", "why"), [
    ("nope", "unknown scaling target 'nope'"),
    ("web-stage", "scaling target 'web-stage' is in account 'stage', not this one"),
])
def test_targets_that_are_not_here_are_refused(aws, monkeypatch, name, why):
    use_policy(monkeypatch, shipped_with("prod", PROD_SCALING.replace(
        "  alarms:", "    web-stage: {account: stage}\n  alarms:")))
    result = service.run(slack(name, 3))
    assert result.outcome == "refused" and result.reason == why
    [entry] = audit.for_target(f"scaling/{name}")
    assert entry.reason == why and entry.actor == ALICE


def test_a_disabled_section_changes_nothing(aws, monkeypatch):
    use_policy(monkeypatch, shipped_with("prod", PROD_SCALING.replace("enabled: true", "enabled: false")))
    ecs_service("prod", "web", 2)
    result = service.run(slack("web", 4))
    assert result.reason == "scaling is disabled in this account's policy" and desired_count() == 2


# ---- cooldown and the hourly limit, through the state table ----

def test_cooldown_refuses_the_second_change(prod):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert service.run(slack("web", 4), now=now).outcome == "succeeded"
    second = service.run(slack("web", 6, trigger="t2"), now=now + timedelta(minutes=3))
    assert second.outcome == "refused"
    assert second.reason == "cooldown: the last change was 3m ago; the next is allowed at 12:10:00 UTC"
    assert desired_count() == 4
    third = service.run(slack("web", 6, trigger="t3"), now=now + timedelta(minutes=10))
    assert third.outcome == "succeeded" and desired_count() == 6


def test_the_hourly_limit_counts_switchboard_changes(aws, monkeypatch):
    use_policy(monkeypatch, shipped_with("prod", PROD_SCALING.replace("cooldown: 10m", "cooldown: 1m").replace(
        "max_changes_per_hour: 6", "max_changes_per_hour: 2")))
    ecs_service("prod", "web", 2)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert service.run(slack("web", 4, trigger="a"), now=now).outcome == "succeeded"
    assert service.run(slack("web", 6, trigger="b"), now=now + timedelta(minutes=2)).outcome == "succeeded"
    refused = service.run(slack("web", 5, trigger="c", approved_by=CAROL), now=now + timedelta(minutes=4))
    assert refused.reason.startswith("hourly limit: 2 changes in the last hour (at most 2)")
    assert service.run(slack("web", 4, trigger="d", approved_by=CAROL),
                       now=now + timedelta(minutes=61)).outcome == "succeeded"


# ---- dry-run ----

@pytest.mark.parametrize("how", ["flag", "policy", "target"])
def test_dry_run_records_and_announces_the_plan_and_changes_nothing(aws, monkeypatch, how):
    section = PROD_SCALING
    if how == "policy":
        section = section.replace("dry_run: false", "dry_run: true")
    if how == "target":
        section = section.replace("      guardrails:\n        floor: 2", "      dry_run: true\n      guardrails:\n"
                                  "        floor: 2", 1)
    use_policy(monkeypatch, shipped_with("prod", section))
    ecs_service("prod", "web", 2)
    bus = Bus()
    result = service.run(slack("web", 4, dry_run=how == "flag"))
    assert result.outcome == "planned" and desired_count() == 2
    assert result.reason == ("dry run (--dry-run)" if how == "flag" else "dry run (policy)")
    assert "• nothing was changed" in result.lines and any("call: `ecs update_service" in line for line in
                                                          result.lines)
    [entry] = entries()
    assert entry.outcome == "planned" and entry.after["desired"] == 4 and entry.before["desired"] == 2
    assert ":memo:" in bus.texts()[0] and "would 2 → 4" in bus.texts()[0]
    assert store.history("web", datetime.now(UTC) - timedelta(hours=1)) == []  # no cooldown started


def test_dry_run_of_a_change_needing_approval_asks_nobody(aws, monkeypatch):
    use_policy(monkeypatch, shipped_with("prod"))
    ecs_service("prod", "web", 4)
    bus = Bus()
    result = service.run(slack("web", 2, dry_run=True))
    assert result.outcome == "planned" and "• would ask for an approval first" in result.lines
    assert bus.approvals() == []


# ---- save and restore ----

def test_a_temporary_change_is_restored_when_it_ends(open_prod):
    prod = open_prod
    now = datetime.now(UTC)
    result = service.run(slack("web", 4, duration=3600, slot="slack:t1"), now=now)
    assert result.outcome == "succeeded" and "temporary: back to 2 at " in result.title
    saved = store.get_saved("web", "slack:t1")
    assert saved.before["desired"] == 2 and saved.set_to["desired"] == 4
    assert ticks.run(now + timedelta(minutes=59))["restored"] == []
    report = ticks.run(now + timedelta(minutes=61))
    assert [(r["target"], r["outcome"]) for r in report["restored"]] == [("web", "succeeded")]
    assert desired_count() == 2 and store.get_saved("web", "slack:t1") is None
    restore = entries()[-1]
    assert (restore.action, restore.actor, restore.outcome) == ("scaling.restore", "system", "succeeded")
    change, back = prod.bus.announcements()
    assert change["key"] == back["key"] == "scaling/web/slack:t1"  # the end updates the message in place
    assert "restored 4 → 2" in back["text"] and "_earlier:_" in back["text"]
    assert ticks.run(now + timedelta(minutes=62))["restored"] == []


def test_someone_changed_it_in_between_so_it_is_said_not_fought(open_prod):
    prod = open_prod
    now = datetime.now(UTC)
    service.run(slack("web", 4, duration=600, slot="slack:t1"), now=now)
    boto3.client("ecs").update_service(cluster="prod", service="web", desiredCount=5)  # a person, by hand
    report = ticks.run(now + timedelta(minutes=11))
    assert report["restored"][0]["outcome"] == "refused" and desired_count() == 5
    last = entries()[-1]
    assert last.outcome == "refused" and "changed since Switchboard set it to 4 (now 5): not restoring 2" in last.reason
    assert ":raised_hand:" in prod.bus.texts()[-1]
    assert store.get_saved("web", "slack:t1") is None  # forgotten: no tick will try again
    assert ticks.run(now + timedelta(minutes=12))["restored"] == []


def test_nested_temporary_changes_unwind(open_prod):
    now = datetime.now(UTC)
    service.run(slack("web", 4, trigger="a", duration=7200, slot="slack:a"), now=now)
    service.run(slack("web", 6, trigger="b", duration=1800, slot="slack:b"), now=now + timedelta(minutes=10))
    ticks.run(now + timedelta(minutes=41))
    assert desired_count() == 4
    ticks.run(now + timedelta(hours=2, minutes=1))
    assert desired_count() == 2


def test_saving_twice_keeps_the_size_from_before_switchboard(prod):
    now = datetime.now(UTC)
    before = executor.describe_target(prod.policy.scaling.targets["web"])
    service.run(Request("web", "set", 4, request_id="s1", slot="schedule:x"), now=now)
    service.run(Request("web", "set", 6, request_id="s2", slot="schedule:x"), now=now + timedelta(minutes=11))
    assert store.get_saved("web", "schedule:x").before == before.as_dict()


def test_a_failed_change_leaves_no_saved_size_behind(prod):
    def failing(name):
        client = aws.client(name)
        if name != "ecs":
            return client
        return SimpleNamespace(describe_services=client.describe_services,
                               update_service=_raise("ValidationException", "desiredCount is invalid"))

    result = service.run(slack("web", 4, duration=600, slot="slack:t1"), client=failing)
    assert result.outcome == "failed" and store.get_saved("web", "slack:t1") is None


# ---- approvals ----

def test_prod_scale_in_asks_for_approval_and_changes_nothing_yet(prod):
    result = service.run(slack("api", 1))
    assert result.outcome == "refused" and result.reason == "awaiting approval: scale-in in prod needs an approver"
    assert group() == (2, 1, 6)
    [asked] = prod.bus.approvals()
    assert (asked["capability"], asked["environment"], asked["channel"], asked["requester"]) == (
        "scaling", "prod", "#team-api", ALICE)
    assert asked["title"] == "api 2 (min 1, max 6) → 1 (min 1, max 6) in prod"
    stored = pending.get(asked["pending"]["id"])  # the request is stored here; only its ticket travels
    assert stored.subject["request"]["count"] == 1 and stored.subject["request"]["request_id"] == "slack:t1"
    assert asked["pending"]["digest"] == pending.digest(stored.subject) and asked["payload"] is None
    [entry] = entries("autoScalingGroup/api")
    assert entry.outcome == "refused" and entry.reason.startswith("awaiting approval")
    assert service.run(slack("api", 1)).outcome == "duplicate"  # the same request again asks nobody again
    assert len(prod.bus.approvals()) == 1


def approve(prod, verdict: str = "approved", by: str = CAROL, reason: str | None = None) -> None:
    [asked] = prod.bus.approvals()
    handlers.decided(result_for(asked, verdict, [by], decision_id="sca-1", reason=reason))


def test_an_approval_plans_again_against_fresh_state_then_acts(prod):
    service.run(slack("api", 1))
    approve(prod)
    assert group() == (1, 1, 6)
    last = entries("autoScalingGroup/api")[-1]
    assert last.outcome == "succeeded" and last.actor == ALICE
    assert "scale-in in prod approved by <@U0CAROL001>" in last.detail["notes"]
    approve(prod)  # the verdict delivered twice: nothing more happens
    assert [e.outcome for e in entries("autoScalingGroup/api")] == ["refused", "succeeded"]
    [replay] = audit.for_target("decision/sca-1")
    assert replay.outcome == "rejected" and "already decided" in replay.reason


def test_an_approval_meets_the_state_of_now_not_of_when_it_was_asked(prod):
    service.run(slack("api", 1))
    service.run(slack("api", 4, trigger="t2"))  # another change meanwhile: cooldown starts
    approve(prod)
    last = entries("autoScalingGroup/api")[-1]
    # the change made meanwhile is what refuses it (seconds ago: however slow this machine is)
    assert last.outcome == "refused" and re.search(r"cooldown: the last change was \d+s ago", last.reason)
    assert group() == (4, 1, 6)


def test_a_rejection_is_recorded_and_said(prod):
    service.run(slack("api", 1))
    approve(prod, "rejected", reason="not during the launch")
    assert group() == (2, 1, 6)
    last = entries("autoScalingGroup/api")[-1]
    assert last.outcome == "refused" and last.reason == "rejected by <@U0CAROL001>: not during the launch"
    assert "rejected by &lt;@U0CAROL001&gt;" not in prod.bus.texts()[-1]  # a mention, not escaped text
    assert "rejected by <@U0CAROL001>: not during the launch" in prod.bus.texts()[-1]
    approve(prod)  # a late approval after the rejection changes nothing
    assert group() == (2, 1, 6)


def test_a_decision_without_a_request_is_rejected(prod):
    handlers.decided({"id": "sca-9", "verdict": "approved", "decided_by": CAROL, "payload": {}})
    [entry] = audit.for_target("decision/sca-9")
    assert entry.outcome == "rejected"


# ---- concurrency ----

def race(n: int, make) -> list[service.Result]:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def go(i: int) -> None:
        barrier.wait()
        results[i] = service.run(make(i))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.fixture
def slow_describe(prod):
    real = executor.describe_target

    def slow(target, client=aws.client):
        found = real(target, client)
        threading.Event().wait(0.2)  # widen the window between reading and acting
        return found
    prod.monkeypatch.setattr(executor, "describe_target", slow)
    return prod


def test_concurrent_triggers_never_both_act_past_the_guardrails(slow_describe):
    results = race(3, lambda i: Request("web", "add", 2, origin=f"alarm:r{i}", request_id=f"alarm:r{i}:x",
                                        bounded=True))
    assert sorted(r.outcome for r in results) == ["refused", "refused", "succeeded"]
    assert desired_count() == 4  # one step of +2 within the cooldown, not three
    assert len(store.history("web", datetime.now(UTC) - timedelta(hours=1))) == 1
    assert all(r.reason.startswith("cooldown") for r in results if r.outcome == "refused")


def test_without_the_lease_the_same_race_breaks_the_guardrails(slow_describe):
    """The control: proves the race above is real, so the lease is what keeps it safe."""
    @contextmanager
    def no_lease(*args, **kwargs):
        yield
    slow_describe.monkeypatch.setattr(store, "lease", no_lease)
    results = race(3, lambda i: Request("web", "add", 2, origin=f"alarm:r{i}", request_id=f"alarm:r{i}:x",
                                        bounded=True))
    assert [r.outcome for r in results] == ["succeeded"] * 3
    assert len(store.history("web", datetime.now(UTC) - timedelta(hours=1))) == 3


def test_a_held_lease_makes_a_trigger_wait_then_refuse(prod):
    store.acquire("web", "someone-else")
    result = service.run(slack("web", 4), lease_wait=0.2)
    assert result.outcome == "refused" and "another change to web is in progress (someone-else)" in result.reason
    assert desired_count() == 2
    store.release("web", "someone-else")
    assert service.run(slack("web", 4, trigger="t2")).outcome == "succeeded"


def test_an_expired_lease_is_taken_over(prod, monkeypatch):
    store.acquire("web", "crashed", seconds=-1)  # its holder died: its time is up
    assert service.run(slack("web", 4), lease_wait=0).outcome == "succeeded"


def test_the_lease_is_released_by_its_holder_only(prod):
    store.acquire("web", "a")
    store.release("web", "b")  # not b's: nothing happens
    with pytest.raises(store.Busy):
        store.acquire("web", "c", wait=0)
    store.release("web", "a")
    store.acquire("web", "c", wait=0)


# ---- AWS errors ----

def _raise(code: str, message: str):
    def fail(**kwargs):
        raise ClientError({"Error": {"Code": code, "Message": message}}, "Call")
    return fail


def test_a_missing_service_is_reported_and_nothing_else_changes(prod):
    boto3.client("ecs").delete_service(cluster="prod", service="web", force=True)
    result = service.run(slack("web", 4, duration=600, slot="slack:t1"))
    assert result.outcome == "failed"
    assert result.reason == "AWS: ECS service 'prod/web' does not exist (INACTIVE)"
    assert store.get_saved("web", "slack:t1") is None
    assert store.history("web", datetime.now(UTC) - timedelta(hours=1)) == []
    assert entries()[0].outcome == "failed" and ":x:" in prod.bus.texts()[0]


def test_a_missing_group_is_reported(prod):
    boto3.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName="api", ForceDelete=True)
    result = service.run(slack("api", 3))
    assert result.outcome == "failed" and result.reason == "AWS: auto scaling group 'api' does not exist"


@pytest.mark.parametrize(("code", "message"), [
    ("ValidationError", "Desired capacity:9 must be between the specified min size:1 and max size:6"),
    ("Throttling", "Rate exceeded"),
    ("AccessDenied", "not authorized to perform autoscaling:UpdateAutoScalingGroup"),
])
def test_aws_refusals_are_reported_with_their_reason(prod, code, message):
    def client(name):
        real = aws.client(name)
        if name != "autoscaling":
            return real
        return SimpleNamespace(describe_auto_scaling_groups=real.describe_auto_scaling_groups,
                               describe_policies=real.describe_policies,
                               update_auto_scaling_group=_raise(code, message))

    result = service.run(slack("api", 3), client=client)
    assert result.outcome == "failed" and result.reason == f"AWS: UpdateAutoScalingGroup: {code}: {message}"
    assert group() == (2, 1, 6) and store.history("api", datetime.now(UTC) - timedelta(hours=1)) == []
    assert "nothing was changed" in prod.bus.texts()[0]


def test_a_throttled_describe_is_reported(prod):
    def client(name):
        real = aws.client(name)
        if name != "ecs":
            return real
        return SimpleNamespace(describe_services=_raise("ThrottlingException", "Rate exceeded"))

    result = service.run(slack("web", 4), client=client)
    assert result.reason == "AWS: DescribeServices: ThrottlingException: Rate exceeded" and desired_count() == 2


def test_a_change_that_does_not_read_back_is_reported_as_not_verified(prod):
    def client(name):
        real = aws.client(name)
        if name != "ecs":
            return real
        return SimpleNamespace(describe_services=real.describe_services, update_service=lambda **kw: {})

    result = service.run(slack("web", 4), client=client)
    assert result.outcome == "failed" and result.reason == (
        "not verified: after the change service/prod/web reads 2, not 4")
    assert len(store.history("web", datetime.now(UTC) - timedelta(hours=1))) == 1  # it may have acted: cooldown


def test_a_restore_that_aws_fails_is_tried_again_then_given_up(open_prod):
    prod = open_prod
    now = datetime.now(UTC)
    service.run(slack("web", 4, duration=60, slot="slack:t1"), now=now)
    boom = lambda name: SimpleNamespace(describe_services=_raise("Throttling", "slow down"))  # noqa: E731
    for minute in (2, 3):
        assert ticks.run(now + timedelta(minutes=minute), client=boom)["restored"][0]["outcome"] == "failed"
        assert store.get_saved("web", "slack:t1") is not None
    ticks.run(now + timedelta(minutes=4), client=boom)
    assert store.get_saved("web", "slack:t1") is None and "gave up after 3 attempts" in prod.bus.texts()[-1]


# ---- alarms: through the intake, in order, once ----

def alarm(value: str, at: str, name: str = "web-latency", **overrides) -> dict:
    event = sample("alarm-web-5xx-prod.json", **overrides)
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"] = value
    event["detail"]["state"]["timestamp"] = at
    return event


def scaling_result(outcome: dict) -> dict:
    return next(r for r in outcome["results"] if r["capability"] == "scaling")


def test_an_alarm_bumps_its_target_within_the_ceiling(prod):
    outcome = handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:00:00.000+0000"), context())
    assert [r["capability"] for r in outcome["results"]] == ["alerts", "scaling"]
    assert scaling_result(outcome)["outcome"] == "succeeded" and desired_count() == 4
    [entry] = entries()
    assert entry.actor == "system" and entry.correlation_id == outcome["event_id"]
    assert "by alarm `web-latency`" in prod.bus.texts()[0]
    assert "temporary: back to 2 at " in prod.bus.texts()[0]
    assert "or when the alarm returns to OK, whichever is first" in prod.bus.texts()[0]


def test_alarms_that_match_no_rule_leave_no_trace(prod):
    outcome = handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:00:00.000+0000", name="web-5xx"), context())
    assert scaling_result(outcome) == {"capability": "scaling", "outcome": "received",
                                       "reason": "no scaling rule matches alarm web-5xx", "actions": []}
    assert entries() == [] and desired_count() == 2


def test_a_duplicate_alarm_changes_nothing_twice(prod):
    event = alarm("ALARM", "2026-11-23T10:00:00.000+0000")
    handle(Kind.ALARM, event, context())
    assert handle(Kind.ALARM, event, context())["duplicate"] is True  # the ledger
    again = handle(Kind.ALARM, {**event, "id": "another-delivery-id"}, context())  # same change, new id
    assert "is already raised for this alarm" in scaling_result(again)["actions"][0]
    assert desired_count() == 4 and outcomes() == ["succeeded"]


def test_an_alarm_state_delivered_late_is_ignored(aws, monkeypatch):
    use_policy(monkeypatch, shipped_with("prod", PROD_SCALING.replace("approval: {prod: [in]}", "approval: {}")))
    wire(monkeypatch)
    ecs_service("prod", "web", 2)
    handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:00:00.000+0000"), context())
    ok = handle(Kind.ALARM, alarm("OK", "2026-11-23T10:20:00.000+0000"), context())
    assert scaling_result(ok)["outcome"] == "succeeded" and desired_count() == 2  # reverted on OK
    late = handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:05:00.000+0000"), context())  # older than the OK
    assert "is older than a state change already acted on: ignored" in scaling_result(late)["actions"][0]
    assert desired_count() == 2
    fresh = handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:40:00.000+0000"), context())
    assert scaling_result(fresh)["outcome"] == "refused"  # a real new ALARM: within the cooldown of the revert
    assert "cooldown" in scaling_result(fresh)["actions"][0]


def test_an_ok_before_any_alarm_has_nothing_to_revert(prod):
    outcome = handle(Kind.ALARM, alarm("OK", "2026-11-23T10:00:00.000+0000"), context())
    assert scaling_result(outcome)["actions"] == ["web-latency: nothing to revert on web"]


def test_reverting_a_prod_bump_on_ok_is_a_scale_in_so_it_asks(prod):
    handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:00:00.000+0000"), context())
    ok = handle(Kind.ALARM, alarm("OK", "2026-11-23T10:20:00.000+0000"), context())
    assert "awaiting approval" in scaling_result(ok)["actions"][0] and desired_count() == 4
    [asked] = prod.bus.approvals()
    assert asked["requester"] == "system" and asked["title"].endswith("(restore)")
    assert store.get_saved("web", "alarm:web-latency").state == "asked"
    approve(prod)
    assert desired_count() == 2 and store.get_saved("web", "alarm:web-latency") is None


def test_the_alarm_bump_also_ends_after_its_duration(prod):
    now = datetime.now(UTC)
    handle(Kind.ALARM, alarm("ALARM", store.stamp(now).replace("Z", "+0000")), context())
    saved = store.get_saved("web", "alarm:web-latency")
    assert saved.restore_at is not None and saved.gsi1pk == "scaling#due"
    report = ticks.run(now + timedelta(hours=2, minutes=1))
    assert report["restored"][0]["outcome"] == "refused"  # prod scale-in: asked, not made
    assert "awaiting approval" in report["restored"][0]["reason"]
    assert ticks.run(now + timedelta(hours=2, minutes=2))["restored"] == []  # asked once, not every minute


def test_contributor_alarms_do_not_scale(prod):
    event = sample("alarm-contributor-api-latency-prod.json")
    event["detail"]["alarmName"] = "web-latency"
    assert scaling_result(handle(Kind.ALARM, event, context()))["outcome"] == "received"


def test_a_freeze_stops_an_alarm_bump(aws, monkeypatch):
    frozen = shipped_with("prod").model_copy(update={"freezes": shipped_with("prod", PROD_SCALING + (
        "freezes:\n  - {name: launch, environments: [prod], weekly: {days: [mon, tue, wed, thu, fri, sat, sun], "
        "from: '00:00', to: '23:59'}}\n")).freezes})
    use_policy(monkeypatch, frozen)
    wire(monkeypatch)
    ecs_service("prod", "web", 2)
    outcome = handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:00:00.000+0000"), context())
    assert "freeze 'launch' is in force in prod" in scaling_result(outcome)["actions"][0] and desired_count() == 2
    assert service.run(slack("web", 4)).outcome == "succeeded"  # a person may


# ---- Auto Scaling events about a target ----

def test_a_failed_launch_of_a_target_is_audited_and_said(prod):
    event = sample("autoscaling-api-launch-stage.json", **{"detail-type": "EC2 Instance Launch Unsuccessful"})
    event["detail"]["Cause"] = "InsufficientInstanceCapacity <in eu-west-1a>"
    outcome = handle(Kind.AUTOSCALING, event, context())
    assert outcome["results"][0]["outcome"] == "failed"
    [entry] = entries("autoScalingGroup/api")
    assert entry.action == "scaling.observe" and "InsufficientInstanceCapacity" in entry.reason
    assert "&lt;in eu-west-1a&gt;" in prod.bus.texts()[0]


def test_a_successful_launch_is_only_received(prod):
    outcome = handle(Kind.AUTOSCALING, sample("autoscaling-api-launch-stage.json"), context())
    assert outcome["results"][0]["outcome"] == "received" and entries("autoScalingGroup/api") == []


def test_an_announcement_that_fails_never_undoes_a_change(prod, monkeypatch):
    from chalicelib.slackkit import announcements

    monkeypatch.setattr(announcements, "announce", lambda **kw: (_ for _ in ()).throw(RuntimeError("bus down")))
    assert service.run(slack("web", 4)).outcome == "succeeded" and desired_count() == 4
    assert [e.action for e in entries()] == ["scaling.scale", "scaling.announce"]


# ---- more of idempotency, restores and their approvals ----

def test_the_same_slack_request_twice_acts_once(prod):
    assert service.run(slack("web", 4)).outcome == "succeeded"
    again = service.run(slack("web", 4))
    assert again.outcome == "duplicate" and again.reason == "already handled (succeeded)"
    assert outcomes() == ["succeeded"]


def test_a_restore_during_a_freeze_waits_for_the_freeze_to_end(aws, monkeypatch):
    frozen = PROD_SCALING.replace("approval: {prod: [in]}", "approval: {}") + (
        "freezes:\n  - name: launch\n    environments: [prod]\n"
        "    dates: {from: '2026-11-23T12:00:00', to: '2026-11-23T13:00:00'}\n")
    use_policy(monkeypatch, shipped_with("prod", frozen))
    ecs_service("prod", "web", 2)
    bus = Bus()
    start = datetime(2026, 11, 23, 11, 30, tzinfo=UTC)
    service.run(slack("web", 4, duration=1800, slot="slack:t1"), now=start)
    for minute in (1, 2, 3):  # due at 12:00, inside the freeze: deferred, said once, kept
        report = ticks.run(start + timedelta(minutes=30 + minute))
        assert report["restored"][0]["outcome"] == "refused" and desired_count() == 4
    assert [e.reason for e in entries() if e.outcome == "refused"] == [
        "deferred: freeze 'launch' is in force in prod: Switchboard changes nothing on its own"]
    assert sum("tried again every minute" in t for t in bus.texts()) == 1
    assert ticks.run(datetime(2026, 11, 23, 13, 0, 30, tzinfo=UTC))["restored"][0]["outcome"] == "succeeded"
    assert desired_count() == 2


def test_a_restore_approved_after_someone_changed_the_target_is_not_made(prod):
    handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:00:00.000+0000"), context())
    handle(Kind.ALARM, alarm("OK", "2026-11-23T10:20:00.000+0000"), context())
    boto3.client("ecs").update_service(cluster="prod", service="web", desiredCount=3)
    approve(prod)
    assert desired_count() == 3 and store.get_saved("web", "alarm:web-latency") is None
    assert "changed since Switchboard set it to 4 (now 3)" in entries()[-1].reason


def test_a_rejected_restore_leaves_the_target_as_it_is_and_forgets(prod):
    handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:00:00.000+0000"), context())
    handle(Kind.ALARM, alarm("OK", "2026-11-23T10:20:00.000+0000"), context())
    approve(prod, "rejected", reason="keep it up tonight")
    assert desired_count() == 4 and store.get_saved("web", "alarm:web-latency") is None
    assert entries()[-1].reason == ("rejected by <@U0CAROL001>: keep it up tonight (it stays as it is; the saved size "
                                    "is forgotten)")


def test_a_restore_that_finds_the_target_busy_is_left_for_the_next_tick(open_prod):
    now = datetime.now(UTC)
    service.run(slack("web", 4, duration=60, slot="slack:t1"), now=now)
    store.acquire("web", "someone-else")
    result = service.run(Request("web", "restore", origin="expiry", request_id="restore:slack:t1", slot="slack:t1"),
                         now=now + timedelta(minutes=2), lease_wait=0.1)
    assert result.outcome == "refused" and "in progress" in result.reason
    assert store.get_saved("web", "slack:t1") is not None and entries()[-1].outcome == "succeeded"  # not audited
    store.release("web", "someone-else")
    assert ticks.run(now + timedelta(minutes=3))["restored"][0]["outcome"] == "succeeded" and desired_count() == 2


def test_a_bounded_request_far_outside_the_guardrails_is_refused(prod):
    boto3.client("ecs").update_service(cluster="prod", service="web", desiredCount=12)  # by hand, above 6
    result = service.run(Request("web", "add", -1, origin="alarm:x", request_id="a", bounded=True))
    assert result.outcome == "refused" and result.reason == (
        "12 is outside its floor..ceiling of 2..6 and one step of 2 does not bring it back")


def test_other_events_are_only_received(prod):
    from chalicelib.capabilities import Context

    ctx = Context(event_id="e", kind=Kind.PEER, policy=prod.policy)
    assert handlers.on_event(object(), ctx).outcome == "received"


def test_an_alarm_rule_that_never_reverts_bumps_again_within_its_guardrails(aws, monkeypatch):
    use_policy(monkeypatch, shipped_with("prod", PROD_SCALING.replace(
        "      revert_on_ok: true\n      revert_after: 2h\n", "      revert_on_ok: false\n").replace(
        "cooldown: 10m", "cooldown: 0s")))
    wire(monkeypatch)
    ecs_service("prod", "web", 2)
    handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:00:00.000+0000"), context())
    assert store.get_saved("web", "alarm:web-latency") is None  # nothing to go back to: nothing saved
    handle(Kind.ALARM, alarm("OK", "2026-11-23T10:05:00.000+0000"), context())
    assert desired_count() == 4
    handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:10:00.000+0000"), context())
    assert desired_count() == 6
    handle(Kind.ALARM, alarm("OK", "2026-11-23T10:15:00.000+0000"), context())
    again = handle(Kind.ALARM, alarm("ALARM", "2026-11-23T10:20:00.000+0000"), context())
    assert desired_count() == 6 and "already at its ceiling of 6 (at 6)" in scaling_result(again)["actions"][0]


def test_text_from_aws_cannot_ping_or_link(prod):
    def client(name):
        real = aws.client(name)
        if name != "ecs":
            return real
        return SimpleNamespace(describe_services=real.describe_services, update_service=_raise(
            "InvalidParameterException", "<!channel> see <https://x|here> & go"))

    result = service.run(slack("web", 4), client=client)
    said = prod.bus.texts()[0]
    assert "<!channel>" not in said and "<https://x" not in said
    assert "&lt;!channel&gt; see &lt;https://x|here&gt; &amp; go" in said
    assert "<!channel>" not in "\n".join([result.title, *result.lines])
