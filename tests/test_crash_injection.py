"""Crash injection: the handler dies at every named point between an effect and its record
(chalicelib/state/crashpoints.py), is retried as AWS would retry it (the same event or decision delivered again,
Secrets Manager calling the step again, the next tick), and then: every effect happened exactly once (pipeline
executions started, approvals answered, desired counts changed, consumers told), every transition has its audit
entry, and the stored state matches what runs.

Every point in ``POINTS`` is a case here (``test_every_point_has_a_case``): adding a point adds a test.
"""

# ruff: noqa: F811 - ``world`` is tests/test_promotion_flow.py's fixture, imported to be used here

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

import tests.test_promotion_flow as flow  # its T0 is set by each test's world
from chalicelib.state.crashpoints import POINTS, Crash, armed

# ---- promotion (the world and helpers of tests/test_promotion_flow.py: stage and prod in one emulated account) ----
from tests.test_promotion_flow import (  # noqa: F401 - world is a fixture
    ACCOUNT,
    COMMIT,
    REGION,
    api_awaiting_approval,
    at_prod,
    decide,
    emu,
    hand_over,
    on,
    only,
    promotions,
    release_event,
    stage_candidate,
    tick,
    world,
)


def executions(pipeline: str) -> list[dict[str, Any]]:
    return boto3.client("codepipeline").list_pipeline_executions(pipelineName=pipeline)[
        "pipelineExecutionSummaries"]


def transitions(app: str, action: str, account: str | None = None) -> list[Any]:
    from chalicelib.state import audit

    return [e for e in audit.for_target(f"app/{app}", limit=200) if e.action == f"promotion.{action}"
            and account in (None, e.account)]


def crashes(point: str, fn: Callable[[], Any]) -> None:
    with armed(point), pytest.raises(Crash) as died:
        fn()
    assert died.value.point == point


TRIGGER_POINTS = ["promotion.committed", "promotion.start_pipeline.performed", "promotion.effects.done"]


@pytest.mark.parametrize("point", TRIGGER_POINTS)
def test_promotion_trigger_mode_deploys_once(world, point):
    stage_candidate(world)
    payload = hand_over(world, flow.T0 + timedelta(minutes=20))
    prod = at_prod(world, payload, flow.T0 + timedelta(minutes=21))
    crashes(point, lambda: decide("approved", ["U0BOB00001", "U0CAROL001"]))
    decide("approved", ["U0BOB00001", "U0CAROL001"])  # the decision delivered again
    tick(prod, flow.T0 + timedelta(minutes=22))
    p = only("web", "target")
    [run] = executions("web-prod")  # exactly one prod run, pinned to the stage revision
    assert p.state in ("deploying", "verifying") and p.target_execution == run["pipelineExecutionId"]
    from chalicelib.promotion import store

    assert store.pointer(p.target_execution) == {"app": "web", "promotion": p.id, "role": "deploy"}
    assert store.deploying("web", "prod") == p.id
    assert len(transitions("web", "to_deploying")) == 1 and len(transitions("web", "to_approved")) == 1
    assert emu.wait_for(ACCOUNT, REGION, "web-prod", run["pipelineExecutionId"], timeout=20) == "Succeeded"


APPROVAL_POINTS = ["promotion.committed", "promotion.answer_approval.performed", "promotion.effects.done"]


@pytest.mark.parametrize("point", APPROVAL_POINTS)
def test_promotion_approval_mode_answers_once(world, point):
    from chalicelib.promotion import pipelines

    _, prod_run, target = api_awaiting_approval(world, COMMIT, flow.T0)
    answered: list[str] = []
    real = pipelines.answer_approval

    def counting(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        answered.append(args[3])

    world.monkeypatch.setattr(pipelines, "answer_approval", counting)
    crashes(point, lambda: decide("approved", ["U0BOB00001"], app="api", p=target))
    decide("approved", ["U0BOB00001"], app="api", p=target)  # delivered again
    prod = on("prod", world.monkeypatch)
    tick(prod, flow.T0 + timedelta(minutes=40))
    p = next(x for x in promotions("api") if x.side == "target")
    assert len(answered) == 1  # the Manual Approval was answered once
    assert p.state in ("deploying", "verifying") and p.target_execution == prod_run
    assert len(transitions("api", "to_deploying")) == 1
    assert emu.wait_for(ACCOUNT, REGION, "api-prod", prod_run, timeout=20) == "Succeeded"


def test_promotion_hand_off_creates_one_target_promotion(world):
    stage_candidate(world)
    stage = on("stage", world.monkeypatch)
    crashes("promotion.hand_off.performed", lambda: tick(stage, flow.T0 + timedelta(minutes=20)))
    tick(stage, flow.T0 + timedelta(minutes=21))  # the next tick performs the pending hand-off again
    source = only("web", "source")
    assert source.state == "handed_off" and len(transitions("web", "to_handed_off")) == 1
    sent = [payload for account, _, payload in world.sent["send_to"] if account == "prod"]
    assert 1 <= len(sent) <= 2  # at least once; the receiver makes it once
    prod = on("prod", world.monkeypatch)
    from tests.test_promotion_flow import handle

    for n, payload in enumerate(sent, 1):
        handle(release_event(payload, n), prod)
    assert only("web", "target").state == "awaiting_approval"


def test_promotion_approval_request_is_one_decision(world):
    stage_candidate(world)
    payload = hand_over(world, flow.T0 + timedelta(minutes=20))
    prod = on("prod", world.monkeypatch)
    from chalicelib.promotion import service

    crashes("promotion.ask.performed",
            lambda: service.on_candidate(prod, payload, "rc-1", flow.T0 + timedelta(minutes=21)))
    service.on_candidate(prod, payload, "rc-1", flow.T0 + timedelta(minutes=21))  # the release candidate again
    tick(prod, flow.T0 + timedelta(minutes=22))
    p = only("web", "target")
    assert p.state == "awaiting_approval" and p.decision_id == f"pro-{p.id}"
    assert {a["decision_id"] for a in world.sent["ask"]} == {p.decision_id}  # asking again is the same card
    assert len(transitions("web", "to_awaiting_approval")) == 1 and len(transitions("web", "create", "prod")) == 1


def test_a_superseded_prod_run_is_not_a_failure(world):
    stage_candidate(world)
    prod = at_prod(world, hand_over(world, flow.T0 + timedelta(minutes=20)), flow.T0 + timedelta(minutes=21))
    decide("approved", ["U0BOB00001", "U0CAROL001"])
    p = only("web", "target")
    from chalicelib.promotion import store
    from tests.test_promotion_flow import handle, pipeline_event

    handle(pipeline_event("web-prod", p.target_execution, "SUPERSEDED", flow.T0 + timedelta(minutes=25)), prod)
    p = only("web", "target")
    assert p.state == "superseded" and p.failed_at is None
    assert store.bad("web", COMMIT) is None and store.deploying("web", "prod") is None
    tick(prod, flow.T0 + timedelta(minutes=40))
    assert len(executions("web-prod")) == 1  # nothing rolled back


# ---- scaling (tests/test_scaling_flows.py's prod: ECS service web at 2, ASG api) ----

SCALING_POINTS = ["scaling.committed", "scaling.apply.performed", "scaling.effects.done"]


@pytest.fixture
def scaling_prod(aws, monkeypatch):
    from tests.scaling_kit import Bus, asg, ecs_service, shipped_with, use_policy, wire

    policy = use_policy(monkeypatch, shipped_with("prod"))
    wire(monkeypatch)
    ecs_service("prod", "web", 2)
    asg("api", 1, 6, 2)
    from types import SimpleNamespace

    return SimpleNamespace(policy=policy, bus=Bus(), monkeypatch=monkeypatch)


@pytest.mark.parametrize("point", SCALING_POINTS)
def test_scaling_a_slack_request_changes_once(scaling_prod, point, monkeypatch):
    from chalicelib.scaling import service, store
    from tests.scaling_kit import desired_count
    from tests.test_scaling_flows import entries, slack

    calls = _count_updates(monkeypatch)
    crashes(point, lambda: service.run(slack("web", 4)))
    again = service.run(slack("web", 4))  # the same request again (a retried Lambda)
    assert again.outcome in ("succeeded", "duplicate")
    assert desired_count() == 4 and calls == [4]  # one API call, never past 4
    assert len(store.history("web", datetime.now(UTC) - timedelta(hours=1))) == 1
    assert [e.outcome for e in entries()] == ["succeeded"]
    assert store.request_seen("web", "slack:t1").state == "done"


@pytest.mark.parametrize("point", SCALING_POINTS[:2])
def test_scaling_a_retried_alarm_does_not_bump_twice(scaling_prod, point, monkeypatch):
    """Reproduced before: 2 -> 4 -> 6 inside the cooldown, one change recorded."""
    from chalicelib.capabilities import Capability, Context, handler_for
    from chalicelib.intake.events import MODELS
    from chalicelib.kinds import Kind
    from chalicelib.scaling import store, ticks
    from tests.scaling_kit import desired_count
    from tests.test_scaling_flows import alarm

    event = alarm("ALARM", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
    parsed = MODELS[Kind.ALARM].model_validate(event)

    def deliver() -> Any:
        return handler_for(Capability.SCALING)(parsed, Context(event_id=event["id"], kind=Kind.ALARM,
                                                               policy=scaling_prod.policy))

    crashes(point, deliver)
    deliver()  # EventBridge delivers the event again
    ticks.run(datetime.now(UTC) + timedelta(minutes=1))  # and the tick finishes what is pending
    assert desired_count() == 4
    assert len(store.history("web", datetime.now(UTC) - timedelta(hours=1))) == 1
    assert store.with_effects_pending() == []


def _count_updates(monkeypatch: Any) -> list[int]:
    """Desired counts Switchboard asked ECS for (each call counted)."""
    from chalicelib.scaling import executor

    counts: list[int] = []
    real = executor.apply

    def counting(plan: Any, client: Any = None) -> None:
        counts.append(plan.after.desired)
        real(plan, client) if client is not None else real(plan)

    monkeypatch.setattr(executor, "apply", counting)
    return counts


# ---- rotation: Secrets Manager calls the step again after a crash ----

ROTATION_POINTS = ["rotation.create.stored", "rotation.set.applied", "rotation.finish.moved"]
STEP_OF = {"rotation.create.stored": "createSecret", "rotation.set.applied": "setSecret",
           "rotation.finish.moved": "finishSecret"}


@pytest.fixture
def api_key_world(aws, monkeypatch, tmp_path):
    from localworld.rotation_story import Consumer
    from tests.test_rotation_api_key import POLICY
    from tests.test_rotation_kit import secrets_world, use_policy

    consumer = Consumer()
    use_policy(monkeypatch, tmp_path, "stage", POLICY)
    w = secrets_world(aws.url)
    w.create("web/api-key-consumer", {"url": consumer.url, "token": consumer.token})
    consumer.keys = {"k0"}
    w.arn = w.create("web/api-key", {"key": "k0"})
    w.consumer = consumer
    yield w
    consumer.stop()


def _rotate_through(w: Any, arn: str, point: str) -> str:
    steps = ("createSecret", "setSecret", "testSecret", "finishSecret")
    pending = w.start(arn)
    crash_step = STEP_OF[point]
    before = steps[:steps.index(crash_step)]
    assert w.drive(arn, pending, before).ok if before else True
    with armed(point), pytest.raises(Crash):
        w.step(arn, pending, crash_step)
    report = w.drive(arn, pending, steps[steps.index(crash_step):])  # the step again, then the rest
    assert report.ok, report.error
    return pending


@pytest.mark.parametrize("point", ROTATION_POINTS)
def test_rotation_api_key_survives_a_crash(api_key_world, point):
    w = api_key_world
    pending = _rotate_through(w, w.arn, point)
    new = w.value(w.arn)["key"]
    assert new != "k0" and w.consumer.keys == {"k0", new}
    assert w.consumer.calls.count("set") == 1
    stages = {v: s for v, s in w.sm.describe_secret(SecretId=w.arn)["VersionIdsToStages"].items()}
    assert stages[pending] == ["AWSCURRENT"]  # AWSPENDING taken off after the finish was retried


@pytest.fixture
def iam_world(aws, monkeypatch, tmp_path):
    from chalicelib import aws as factory
    from tests.test_rotation_kit import client_as, secrets_world, use_policy

    use_policy(monkeypatch, tmp_path, "stage")
    monkeypatch.setattr(factory, "client_as", client_as, raising=False)
    return secrets_world(aws.url)


@pytest.mark.parametrize("point", ["rotation.create.stored", "rotation.finish.moved"])
def test_rotation_iam_key_survives_a_crash(iam_world, point):
    from tests.test_rotation_iam import keys, service_user

    first = service_user()
    arn = iam_world.create("ci/deployer-key", first, kind="iam-access-key")
    _rotate_through(iam_world, arn, point)
    current = iam_world.value(arn)
    found = keys()
    assert len(found) == 2 and found[current["access_key_id"]] == "Active"  # one new key, not two
    assert found[first["access_key_id"]] == "Inactive"


def test_every_point_has_a_case():
    covered = {*TRIGGER_POINTS, *APPROVAL_POINTS, *SCALING_POINTS, *ROTATION_POINTS, "promotion.hand_off.performed",
               "promotion.ask.performed"}
    assert covered == set(POINTS)
