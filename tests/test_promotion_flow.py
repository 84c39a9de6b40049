"""Promotion end to end inside one emulated account: moto for DynamoDB, CloudWatch and CodePipeline definitions,
the local world's CodePipeline emulation for executions, approvals, and events, and the shipped stage and prod
policies (switched per step, as the two accounts would run them).

What crosses accounts (the hand-off, approval requests, cards) goes through ``chalicelib.decisions.service`` and
``chalicelib.slackkit.announcements``; here it is recorded instead of being put on a bus, and fed to the other side
by the test, so each step asserts exactly what one account decided. tests/test_promotion_world.py runs the same
story across real accounts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from chalicelib.capabilities import Context
from chalicelib.kinds import Kind
from localworld import codepipeline as emu
from tests.decision_kit import asked_for, result_for
from tests.frontdoor_kit import as_account

ACCOUNT = "123456789012"  # moto's default account: the tests' credentials act here
REGION = "eu-west-1"
# Handlers read the clock; ticks are given a time. Event times start when each test's world is built, so both agree
# however long the suite ran before this test (the shipped policies have no freeze windows; test_promotion_gates
# covers freezes). Read it as ``T0`` here and ``flow.T0`` from other modules (an imported name would be stale).
T0 = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def world(aws, monkeypatch):
    """Pipelines web-stage, web-prod, api-stage, api-prod (api-prod waits at Prod/ApproveProd), fast steps, and a
    recorder in place of the cross-account calls."""
    global T0
    T0 = datetime.now(UTC).replace(microsecond=0)
    from localworld.estate import TRUST_CODEPIPELINE, _pipeline

    emu.set_step_seconds(0.05)
    from chalicelib.promotion.store import PromotionItem

    for account in ("stage", "prod"):
        monkeypatch.setattr(PromotionItem.Meta, "table_name", f"switchboard-state-{account}")
        monkeypatch.setattr(PromotionItem, "_connection", None)
        PromotionItem.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="codepipeline", AssumeRolePolicyDocument=TRUST_CODEPIPELINE)["Role"]["Arn"]
    cp = boto3.client("codepipeline")
    fake = SimpleNamespace(id=ACCOUNT, region=REGION, environment="stage")
    for app, ecs in (("web", True), ("api", False)):
        for env in ("stage", "prod"):
            fake.environment = env
            approval = ("Prod", "ApproveProd") if (app, env) == ("api", "prod") else None
            cp.create_pipeline(pipeline=_pipeline(fake, app, f"{app}-{env}", role, ecs=ecs, approval=approval))
    sent: dict[str, list[Any]] = {"send_to": [], "ask": [], "announce": [], "requests": []}
    from chalicelib.decisions import service as approvals
    from chalicelib.slackkit import announcements

    monkeypatch.setattr(announcements, "send_to", lambda policy, account, flow, payload: sent["send_to"].append(
        (account, str(flow), json.loads(json.dumps(payload)))))
    # the real ask stores the pending request in the asking account; what it would send is recorded
    real_ask = approvals.ask
    monkeypatch.setattr(announcements, "send_to_front_door", lambda current, flow, payload: sent["requests"].append(
        json.loads(json.dumps(payload, default=str))))
    monkeypatch.setattr(approvals, "ask", lambda **kw: (sent["ask"].append(kw), real_ask(**kw))[1])
    monkeypatch.setattr(announcements, "announce", lambda **kw: sent["announce"].append(kw))
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName="web-5xx", MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")
    yield SimpleNamespace(sent=sent, monkeypatch=monkeypatch)
    emu.wait_idle(timeout=10)


def on(account: str, monkeypatch) -> Any:
    """Act as ``account``: its policy, and its own promotion items (each account has its own state table; here
    both live in one emulated account, so the promotion model is pointed at that account's table)."""
    from chalicelib.promotion.store import PromotionItem

    as_account(monkeypatch, account)
    monkeypatch.setattr(PromotionItem.Meta, "table_name", f"switchboard-state-{account}")
    monkeypatch.setattr(PromotionItem, "_connection", None)
    from chalicelib.policy import loader as policy

    return policy.current()


def handle(event: dict[str, Any], policy: Any) -> Any:
    from chalicelib.capabilities import handler_for
    from chalicelib.intake.events import MODELS

    kind = {"aws.codepipeline": Kind.CODEPIPELINE, "aws.cloudwatch": Kind.ALARM, "switchboard": Kind.PEER}[
        event["source"]]
    parsed = MODELS[kind].model_validate(event)
    from chalicelib.capabilities import Capability

    return handler_for(Capability.PROMOTION)(parsed, Context(event_id=event["id"], kind=kind, policy=policy))


def pipeline_event(pipeline: str, execution_id: str, state: str, at: datetime | None = None,
                   detail_type: str = "CodePipeline Pipeline Execution State Change", **extra: Any) -> dict[str, Any]:
    return {"version": "0", "id": f"{execution_id}-{state}-{detail_type[13:18]}", "detail-type": detail_type,
            "source": "aws.codepipeline", "account": ACCOUNT, "time": (at or T0).isoformat(), "region": REGION,
            "resources": [f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{pipeline}"],
            "detail": {"pipeline": pipeline, "execution-id": execution_id, "state": state, "version": 1.0, **extra}}


def alarm_event(name: str, state: str, previous: str, at: datetime) -> dict[str, Any]:
    return {"version": "0", "id": f"alarm-{name}-{state}-{at.timestamp()}", "detail-type":
            "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "account": ACCOUNT, "time": at.isoformat(),
            "region": REGION, "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"],
            "detail": {"alarmName": name, "state": {"value": state, "timestamp": at.isoformat()},
                       "previousState": {"value": previous, "timestamp": at.isoformat()}}}


def build(pipeline: str, commit: str, message: str = "Fix checkout", author: str = "alice@acme.example") -> str:
    execution = emu.push(ACCOUNT, REGION, pipeline, commit_id=commit, message=message, author=author)
    assert emu.wait_for(ACCOUNT, REGION, pipeline, execution, timeout=20) == "Succeeded"
    return execution


def promotions(app: str) -> list[Any]:
    from chalicelib.promotion import store

    return store.of_app(app)


def only(app: str, side: str) -> Any:
    found = [p for p in promotions(app) if p.side == side]
    assert len(found) == 1, found
    return found[0]


def tick(policy: Any, now: datetime) -> list[str]:
    from chalicelib.promotion import reconcile

    return reconcile.run(now=now, policy=policy)


COMMIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
COMMIT2 = "b2c3d4e5f60718293a4b5c6d7e8f901234567890"


def stage_candidate(world: Any, commit: str = COMMIT, at: datetime | None = None) -> tuple[Any, str]:
    """web-stage builds ``commit`` and its SUCCEEDED event reaches the stage instance."""
    stage = on("stage", world.monkeypatch)
    execution = build("web-stage", commit)
    result = handle(pipeline_event("web-stage", execution, "SUCCEEDED", at or T0), stage)
    assert result.outcome == "succeeded", result
    return stage, execution


def hand_over(world: Any, now: datetime) -> dict[str, Any]:
    """Soak over: the stage tick hands the candidate to prod; returns the release-candidate payload."""
    stage = on("stage", world.monkeypatch)
    tick(stage, now)
    account, flow, payload = world.sent["send_to"][-1]
    assert (account, flow) == ("prod", "release-candidate")
    return payload


def release_event(payload: dict[str, Any], n: int = 1) -> dict[str, Any]:
    return {"version": "0", "id": f"rc-{payload['promotion']['id']}-{n}",
            "detail-type": "Switchboard release-candidate", "source": "switchboard", "account": ACCOUNT,
            "time": T0.isoformat(), "region": REGION, "resources": [],
            "detail": {"to_account": "333344445555", "from_account": "stage", "flow": "release-candidate",
                       "payload": payload}}


def at_prod(world: Any, payload: dict[str, Any], now: datetime) -> Any:
    prod = on("prod", world.monkeypatch)
    from chalicelib.promotion import service

    service.on_candidate(prod, payload, "test", now)
    return prod


def decide(verdict: str, approvals: list[str], app: str = "web", reason: str | None = None, p: Any = None,
           prefix: str = "pro-") -> str | None:
    """The front door's verdict on prod's request for ``p``, delivered to prod's decision handler. Returns the
    refusal, if prod refused it."""
    from chalicelib.promotion import handlers

    p = p or only(app, "target")
    return handlers.decided(result_for(asked_for(f"{prefix}{p.id}"), verdict, approvals, reason=reason))


# ---- the source side ----

def test_a_stage_success_becomes_a_soaking_candidate_once(world):
    stage, execution = stage_candidate(world)
    p = only("web", "source")
    assert (p.state, p.source_env, p.target_env, p.revision.id) == ("soaking", "stage", "prod", COMMIT)
    assert p.revision.summary == "Fix checkout"
    assert p.next_check_at == T0 + timedelta(minutes=20)  # web soaks 20m in stage (stage.yaml)
    again = handle(pipeline_event("web-stage", execution, "SUCCEEDED", T0), stage)  # delivered twice
    assert "duplicate" in again.actions[0]
    assert len(promotions("web")) == 1
    assert handle(pipeline_event("web-stage", execution, "STARTED", T0), stage).outcome == "received"


def test_soak_waits_then_hands_over_with_the_gates_it_passed(world):
    stage, _ = stage_candidate(world)
    tick(stage, T0 + timedelta(minutes=19))
    assert world.sent["send_to"] == []
    assert only("web", "source").state == "soaking"
    payload = hand_over(world, T0 + timedelta(minutes=20))
    p = only("web", "source")
    assert p.state == "handed_off"
    sent = payload["promotion"]
    assert (sent["id"], sent["revision"]["id"]) == (p.id, COMMIT)
    assert [g["name"] for g in sent["gates"]] == ["soak", "alarms", "health"]
    assert all(g["status"] == "pass" for g in sent["gates"])
    tick(stage, T0 + timedelta(minutes=30))
    assert len(world.sent["send_to"]) == 1  # handed over once


def test_an_alarm_during_soak_restarts_the_quiet_period(world):
    stage, _ = stage_candidate(world)
    handle(alarm_event("web-5xx", "ALARM", "OK", T0 + timedelta(minutes=5)), stage)
    handle(alarm_event("web-5xx", "OK", "ALARM", T0 + timedelta(minutes=8)), stage)
    tick(stage, T0 + timedelta(minutes=21))
    p = only("web", "source")
    assert p.state == "soaking" and world.sent["send_to"] == []
    alarms = next(g for g in p.gates if g["name"] == "alarms")
    assert alarms["status"] == "wait"
    tick(stage, T0 + timedelta(minutes=8 + 20))
    assert only("web", "source").state == "handed_off"


def test_an_alarm_in_alarm_now_holds_the_hand_off(world):
    stage, _ = stage_candidate(world)
    boto3.client("cloudwatch").set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="test")
    tick(stage, T0 + timedelta(hours=1))
    p = only("web", "source")
    assert p.state == "soaking"
    assert "web-5xx" in next(g for g in p.gates if g["name"] == "alarms")["reason"]


def test_a_newer_candidate_supersedes_the_older_soaking_one(world):
    stage, _ = stage_candidate(world)
    older = only("web", "source")
    stage_candidate(world, COMMIT2, T0 + timedelta(minutes=3))
    states = {p.revision.id: p.state for p in promotions("web")}
    assert states == {COMMIT: "superseded", COMMIT2: "soaking"}
    from chalicelib.promotion import store

    assert store.load("web", older.id)[0].superseded_by is not None


# ---- the target side ----

def approved_into_deploy(world: Any) -> tuple[Any, Any]:
    stage_candidate(world)
    payload = hand_over(world, T0 + timedelta(minutes=20))
    prod = at_prod(world, payload, T0 + timedelta(minutes=21))
    decide("approved", ["U0BOB00001", "U0CAROL001"])
    return prod, only("web", "target")


def test_prod_asks_two_leads_and_never_asks_twice(world):
    stage_candidate(world)
    payload = hand_over(world, T0 + timedelta(minutes=20))
    prod = at_prod(world, payload, T0 + timedelta(minutes=21))
    p = only("web", "target")
    assert p.state == "awaiting_approval"
    [ask] = world.sent["ask"]
    assert (ask["decision_id"], ask["required"], ask["group"], ask["four_eyes"]) == (f"pro-{p.id}", 2, "S0LEADS",
                                                                                   True)
    assert ask["deadline"] == T0 + timedelta(minutes=21, hours=24)
    assert ask["key"] == f"promotion:{p.id}" and ask["environment"] == "prod"
    assert handle(release_event(payload, 2), prod).actions == [f"duplicate {p.id} awaiting_approval"]
    tick(prod, T0 + timedelta(minutes=40))
    assert len(world.sent["ask"]) == 1


def test_a_verdict_with_one_of_two_approvals_is_refused_and_it_waits(world):
    stage_candidate(world)
    at_prod(world, hand_over(world, T0 + timedelta(minutes=20)), T0 + timedelta(minutes=21))
    refused = decide("approved", ["U0BOB00001"])  # the front door never sends this: prod counts for itself
    assert refused == "1 of 2 required approvals count here"
    p = only("web", "target")
    assert p.state == "awaiting_approval" and p.approvals == []
    assert "0 of 2" in next(g for g in p.gates if g["name"] == "approval")["reason"]


def test_approved_deploys_prod_pinned_to_the_stage_revision(world):
    prod, p = approved_into_deploy(world)
    assert p.state == "deploying" and p.target_pipeline == "web-prod"
    execution = p.target_execution
    assert emu.wait_for(ACCOUNT, REGION, "web-prod", execution, timeout=20) == "Succeeded"
    built = boto3.client("codepipeline").get_pipeline_execution(pipelineName="web-prod",
                                                                pipelineExecutionId=execution)
    assert built["pipelineExecution"]["artifactRevisions"][0]["revisionId"] == COMMIT
    from chalicelib.promotion import store

    assert store.pointer(execution) == {"app": "web", "promotion": p.id, "role": "deploy"}


def test_each_card_carries_the_promotions_stored_version_growing_with_every_step(world):
    """The card's version is the promotion's stored version (every step raises it): the front door sends only the
    newest, so a late announcement of an earlier step never shows over a later one."""
    stage_candidate(world)
    payload = hand_over(world, T0 + timedelta(minutes=20))
    source_cards = [a["version"] for a in world.sent["announce"]]
    first = len(source_cards)
    at_prod(world, payload, T0 + timedelta(minutes=21))  # the target side: prod's own promotion, its own versions
    decide("approved", ["U0BOB00001", "U0CAROL001"])
    p = only("web", "target")
    from chalicelib.promotion import store

    target_cards = [a["version"] for a in world.sent["announce"][first:] if a["key"] == f"promotion:{p.id}"]
    for versions in (source_cards, target_cards):
        assert len(versions) >= 2 and all(isinstance(v, int) for v in versions), versions
        assert versions == sorted(set(versions)), versions  # strictly growing: one version per step shown
    _, stored = store.load("web", p.id)
    assert target_cards[-1] == stored  # the last card shows what is stored


def test_out_of_order_pipeline_events_only_move_forward(world):
    prod, p = approved_into_deploy(world)
    done = T0 + timedelta(minutes=30)
    handle(pipeline_event("web-prod", p.target_execution, "SUCCEEDED", done), prod)
    assert only("web", "target").state == "verifying"
    handle(pipeline_event("web-prod", p.target_execution, "STARTED", T0 + timedelta(minutes=22)), prod)
    handle(pipeline_event("web-prod", p.target_execution, "SUCCEEDED", done), prod)  # a duplicate
    after = only("web", "target")
    assert after.state == "verifying" and after.deployed_at == done
    assert [s.dst for s in after.history].count("verifying") == 1


def test_bake_passes_into_promoted_and_prod_records_what_runs(world):
    prod, p = approved_into_deploy(world)
    done = T0 + timedelta(minutes=30)
    handle(pipeline_event("web-prod", p.target_execution, "SUCCEEDED", done), prod)
    tick(prod, done + timedelta(minutes=9))
    assert only("web", "target").state == "verifying"
    tick(prod, done + timedelta(minutes=10))  # web bakes 10m (prod.yaml)
    p = only("web", "target")
    assert p.state == "promoted"
    from chalicelib.promotion import commands, store

    assert store.current("web", "prod")["revision"]["id"] == COMMIT
    lines = "\n".join(commands.status_lines("web", prod, now=done + timedelta(minutes=11)))
    assert "Running in prod" in lines and "deploys: 1" in lines


def test_what_runs_is_read_back_from_the_pipeline_not_assumed(world, monkeypatch):
    """The prod run reports success but CodePipeline says it deployed another revision (the pin was not honoured):
    prod records what runs, and the promotion fails saying so instead of recording what it meant to deploy."""
    from chalicelib.promotion import pipelines, store

    prod, p = approved_into_deploy(world)
    done = T0 + timedelta(minutes=30)
    handle(pipeline_event("web-prod", p.target_execution, "SUCCEEDED", done), prod)
    real = pipelines.execution

    def other(pipeline, execution_id, revision_type="COMMIT_ID"):
        ex = real(pipeline, execution_id, revision_type)
        return pipelines.Execution(ex.id, ex.status, ex.revision.model_copy(update={"id": "0badc0de" * 5}))

    monkeypatch.setattr(pipelines, "execution", other)
    tick(prod, done + timedelta(minutes=10))
    after = only("web", "target")
    assert after.state in ("failed", "rolled_back")
    assert f"deployed 0badc0d, not {COMMIT[:7]}" in after.failure
    assert store.current("web", "prod")["revision"]["id"] == "0badc0de" * 5


def promoted(world: Any, prod: Any, p: Any, done: datetime) -> None:
    handle(pipeline_event("web-prod", p.target_execution, "SUCCEEDED", done), prod)
    tick(prod, done + timedelta(minutes=10))
    assert only_state(p.id) == "promoted"


def only_state(promo_id: str) -> str:
    return next(p.state for p in promotions("web") if p.id == promo_id and p.side == "target")


def second_release(world: Any, start: datetime) -> Any:
    """COMMIT2 goes through stage and is approved in prod (after COMMIT was promoted)."""
    stage = on("stage", world.monkeypatch)
    execution = build("web-stage", COMMIT2)
    handle(pipeline_event("web-stage", execution, "SUCCEEDED", start), stage)
    payload = hand_over(world, start + timedelta(minutes=20))
    at_prod(world, payload, start + timedelta(minutes=21))
    target = next(p for p in promotions("web") if p.side == "target" and p.revision.id == COMMIT2)
    decide("approved", ["U0BOB00001", "U0CAROL001"], p=target)
    return next(p for p in promotions("web") if p.id == target.id and p.side == "target")


def test_an_alarm_during_bake_rolls_back_to_the_last_promoted_revision(world):
    prod, first = approved_into_deploy(world)
    promoted(world, prod, first, T0 + timedelta(minutes=30))
    later = T0 + timedelta(hours=2)
    second = second_release(world, later)
    assert second.state == "deploying" and second.previous.id == COMMIT
    prod = on("prod", world.monkeypatch)
    handle(pipeline_event("web-prod", second.target_execution, "SUCCEEDED", later + timedelta(minutes=30)), prod)
    handle(alarm_event("web-5xx", "ALARM", "OK", later + timedelta(minutes=33)), prod)
    p = next(x for x in promotions("web") if x.id == second.id and x.side == "target")
    assert p.state == "rolled_back" and "web-5xx" in p.failure
    from chalicelib.promotion import store

    assert store.bad("web", COMMIT2) is not None
    assert emu.wait_for(ACCOUNT, REGION, "web-prod", p.rollback_execution, timeout=20) == "Succeeded"
    rebuilt = boto3.client("codepipeline").get_pipeline_execution(pipelineName="web-prod",
                                                                  pipelineExecutionId=p.rollback_execution)
    assert rebuilt["pipelineExecution"]["artifactRevisions"][0]["revisionId"] == COMMIT
    handle(pipeline_event("web-prod", p.rollback_execution, "SUCCEEDED", later + timedelta(minutes=40)), prod)
    p = next(x for x in promotions("web") if x.id == second.id and x.side == "target")
    assert p.restored_at is not None
    assert store.current("web", "prod")["revision"]["id"] == COMMIT
    from chalicelib.promotion import commands

    lines = "\n".join(commands.status_lines("web", prod, now=later + timedelta(hours=1)))
    assert "change failure rate: 50%" in lines


def test_a_rolled_back_revision_is_never_promoted_again(world):
    prod, first = approved_into_deploy(world)
    from chalicelib.promotion import store

    store.mark_bad("web", COMMIT, why="rolled back", at=T0)
    payload = {"promotion": {**first.model_dump(mode="json"), "id": "feedc0ffee"}}
    at_prod(world, payload, T0 + timedelta(hours=1))
    again = next(p for p in promotions("web") if p.id == "feedc0ffee")
    assert again.state == "rejected" and "rolled back" in again.reject_reason


def test_a_failed_prod_pipeline_without_an_earlier_release_says_so(world):
    emu.fail_next(ACCOUNT, REGION, "web-prod", "Deploy")
    prod, p = approved_into_deploy(world)
    assert emu.wait_for(ACCOUNT, REGION, "web-prod", p.target_execution, timeout=20) == "Failed"
    handle(pipeline_event("web-prod", p.target_execution, "FAILED", T0 + timedelta(minutes=25)), prod)
    p = only("web", "target")
    assert p.state == "failed" and "nothing to roll back to" in p.failure


def test_hold_parks_and_unhold_resumes(world):
    stage_candidate(world)
    prod = at_prod(world, hand_over(world, T0 + timedelta(minutes=20)), T0 + timedelta(minutes=21))
    from chalicelib.promotion import commands

    asked = SimpleNamespace(user="U0ALICE001", request_id="req-hold")
    cmd = SimpleNamespace(args={"app": "web", "reason": "incident review"}, flags=frozenset())
    commands.hold(cmd, "prod", asked, prod)
    p = only("web", "target")
    assert (p.state, p.held_from) == ("held", "awaiting_approval")
    decide("approved", ["U0BOB00001", "U0CAROL001"])
    assert only("web", "target").state == "held"  # approvals recorded, nothing deploys
    commands.unhold(SimpleNamespace(args={"app": "web"}, flags=frozenset()), "prod", asked, prod)
    assert only("web", "target").state == "deploying"


def test_a_rejection_ends_it_with_the_reason(world):
    stage_candidate(world)
    at_prod(world, hand_over(world, T0 + timedelta(minutes=20)), T0 + timedelta(minutes=21))
    decide("rejected", ["U0CAROL001"], reason="not during the sale")
    p = only("web", "target")
    assert p.state == "rejected" and "not during the sale" in p.reject_reason


def api_awaiting_approval(world: Any, commit: str, start: datetime) -> tuple[Any, str, Any]:
    """``commit`` through api-stage (soaked, handed over); api-prod, pushed the same commit, waits at
    Prod/ApproveProd. Returns (prod's policy, the waiting prod run, prod's promotion awaiting its approvers)."""
    stage = on("stage", world.monkeypatch)
    run = build("api-stage", commit)
    prod_run = emu.push(ACCOUNT, REGION, "api-prod", commit_id=commit, message="Fix checkout",
                        author="alice@acme.example")
    emu.wait_for_approval(ACCOUNT, REGION, "api-prod", "Prod", "ApproveProd", timeout=20)
    handle(pipeline_event("api-stage", run, "SUCCEEDED", start), stage)
    tick(stage, start + timedelta(minutes=30))
    payload = [pl for _, _, pl in world.sent["send_to"] if pl["promotion"]["revision"]["id"] == commit
               and pl["promotion"]["app"] == "api"][-1]
    prod = at_prod(world, payload, start + timedelta(minutes=31))
    target = next(p for p in promotions("api") if p.side == "target" and p.revision.id == commit)
    return prod, prod_run, target


def test_approval_mode_answers_the_waiting_manual_approval(world):
    _, prod_run, target = api_awaiting_approval(world, COMMIT, T0)
    decide("approved", ["U0BOB00001"], app="api", p=target)
    p = next(x for x in promotions("api") if x.side == "target")
    assert p.state == "deploying" and p.target_execution == prod_run
    assert emu.wait_for(ACCOUNT, REGION, "api-prod", prod_run, timeout=20) == "Succeeded"


def test_approval_mode_rejects_the_waiting_execution_with_the_reason(world):
    _, prod_run, target = api_awaiting_approval(world, COMMIT, T0)
    decide("rejected", ["U0CAROL001"], app="api", reason="wrong build", p=target)
    assert emu.wait_for(ACCOUNT, REGION, "api-prod", prod_run, timeout=20) == "Failed"


# ---- /ops promote, run in the source account ----

def promote(text: str, user: str = "U0ADMIN001") -> str:
    from chalicelib.frontdoor import grammar
    from chalicelib.policy import loader as policy
    from chalicelib.promotion import commands
    from chalicelib.slackkit.commands import Asked

    cmd = grammar.parse(text)
    asked = Asked(text=text, user=user, response_url="http://127.0.0.1:1/r", request_id=f"req-{text}")
    return commands.promote(cmd, "stage", asked, policy.current()).text


def test_promote_a_named_version_skipping_the_soak_hands_it_over_at_once(world):
    on("stage", world.monkeypatch)
    build("web-stage", COMMIT)
    build("web-stage", COMMIT2)
    answer = promote("promote web a1b2c3d --skip-soak")
    assert "Promoting web a1b2c3d from stage to prod" in answer
    [manual] = [p for p in promotions("web") if p.requester == "U0ADMIN001"]
    assert (manual.revision.id, manual.state, manual.skip_soak) == (COMMIT, "handed_off", True)
    [(account, flow, payload)] = world.sent["send_to"]
    assert payload["promotion"]["requester"] == "U0ADMIN001"  # prod's four eyes will know who asked
    from chalicelib.state import audit

    assert [e.actor for e in audit.for_target("app/web") if e.action == "promotion.skip_soak"] == ["U0ADMIN001"]


def test_promote_without_a_match_says_what_it_looked_for(world):
    on("stage", world.monkeypatch)
    build("web-stage", COMMIT)
    assert "no succeeded execution of web-stage matching 'deadbee'" in promote("promote web deadbee")
    assert promotions("web") == []


def test_a_success_for_an_execution_codepipeline_does_not_know_is_rejected_not_retried(world):
    stage = on("stage", world.monkeypatch)
    result = handle(pipeline_event("web-stage", "00000000-0000-0000-0000-000000000000", "SUCCEEDED"), stage)
    assert result.outcome == "rejected" and "web-stage has no execution 00000000" in result.reason
    assert promotions("web") == []


def test_promoted_emits_the_dora_keys_as_emf_metrics(world, capsys):
    prod, p = approved_into_deploy(world)
    done = T0 + timedelta(minutes=30)
    handle(pipeline_event("web-prod", p.target_execution, "SUCCEEDED", done), prod)
    capsys.readouterr()
    tick(prod, done + timedelta(minutes=10))
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    metrics = {m["Name"]: blob for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"DeploymentFrequency", "LeadTime", "ChangeFailureRate"} <= set(metrics)
    assert all(blob["app"] == "web" and blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Switchboard"
               for blob in metrics.values())
    assert metrics["ChangeFailureRate"]["ChangeFailureRate"] in (0, [0.0])  # EMF writes a value or a list


def test_an_expired_approval_rejects_the_promotion(world):
    stage_candidate(world)
    at_prod(world, hand_over(world, T0 + timedelta(minutes=20)), T0 + timedelta(minutes=21))
    decide("expired", [])
    p = only("web", "target")
    assert p.state == "rejected" and "expired" in p.reject_reason


def test_a_freeze_window_keeps_an_approved_promotion_waiting_until_it_ends(world):
    from chalicelib.policy.schema import Freeze
    from chalicelib.promotion import service

    stage_candidate(world)
    payload = hand_over(world, T0 + timedelta(minutes=20))
    prod = at_prod(world, payload, T0 + timedelta(minutes=21))
    start, end = T0 - timedelta(minutes=1), T0 + timedelta(hours=3)  # the decision arrives now (real clock)
    frozen = prod.model_copy(update={"freezes": (Freeze.model_validate({
        "name": "sale", "environments": ["prod"], "timezone": "UTC", "reason": "Black Friday",
        "dates": {"from": start.replace(tzinfo=None), "to": end.replace(tzinfo=None)}}),)})
    p = only("web", "target")
    from chalicelib.promotion import handlers

    world.monkeypatch.setattr(handlers.policies, "current", lambda: frozen)
    decide("approved", ["U0BOB00001", "U0CAROL001"], p=p)
    p = only("web", "target")
    freeze = next(g for g in p.gates if g["name"] == "freeze")
    assert p.state == "approved" and freeze["status"] == "wait" and "sale" in freeze["reason"]
    assert p.next_check_at == end
    service.advance("web", p.id, correlation_id="t", now=end, policy=frozen)
    assert only("web", "target").state == "deploying"


def test_an_open_alert_incident_for_the_app_holds_the_deploy(world):
    from chalicelib.alerts import handlers as alert_handlers
    from chalicelib.intake.events import AlarmEvent

    stage_candidate(world)
    prod = at_prod(world, hand_over(world, T0 + timedelta(minutes=20)), T0 + timedelta(minutes=21))
    event = alarm_event("web-5xx", "ALARM", "OK", datetime.now(UTC))
    seen = alert_handlers.on_alarm(AlarmEvent.model_validate(event), Context(event["id"], Kind.ALARM, prod))
    assert seen.outcome == "succeeded", seen  # alert routing opened an incident for web in prod
    decide("approved", ["U0BOB00001", "U0CAROL001"])
    p = only("web", "target")
    incidents = next(g for g in p.gates if g["name"] == "incidents")
    assert p.state == "approved" and incidents["status"] == "wait" and "prod." in incidents["reason"]


def api_release(world: Any, commit: str, start: datetime) -> Any:
    """``commit`` through api-stage; api-prod (pushed the same commit) waits at Prod/ApproveProd; one lead approves;
    Switchboard answers the approval. Returns prod's promotion once its run succeeded and the event came."""
    prod, prod_run, target = api_awaiting_approval(world, commit, start)
    decide("approved", ["U0BOB00001"], app="api", p=target)
    assert emu.wait_for(ACCOUNT, REGION, "api-prod", prod_run, timeout=20) == "Succeeded"
    handle(pipeline_event("api-prod", prod_run, "SUCCEEDED", start + timedelta(minutes=40)), prod)
    return next(p for p in promotions("api") if p.id == target.id and p.side == "target")


def test_approval_mode_rolls_back_on_a_click_and_answers_its_own_rollback_run(world):
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName="api-5xx", MetricName="5xx", Namespace="AWS/ApplicationELB", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")
    first = api_release(world, COMMIT, T0)
    prod = on("prod", world.monkeypatch)
    tick(prod, T0 + timedelta(minutes=40 + 15))  # api bakes 15m (the default)
    assert next(p for p in promotions("api") if p.id == first.id).state == "promoted"
    later = T0 + timedelta(hours=2)
    second = api_release(world, COMMIT2, later)
    assert second.state == "verifying"
    handle(alarm_event("api-5xx", "ALARM", "OK", later + timedelta(minutes=45)), prod)
    failed = next(p for p in promotions("api") if p.id == second.id)
    assert failed.state == "failed" and failed.rollback_decision == f"rbk-{second.id}"  # rollback: notify
    [offer] = [a for a in world.sent["ask"] if a["decision_id"] == f"rbk-{second.id}"]
    assert offer["role"] == "operator" and "Roll back api in prod to a1b2c3d" in offer["title"]
    decide("approved", ["U0ALICE001"], app="api", p=second, prefix="rbk-")
    rolled = next(p for p in promotions("api") if p.id == second.id)
    assert rolled.state == "rolled_back" and rolled.history[-1].by == "U0ALICE001"
    emu.wait_for_approval(ACCOUNT, REGION, "api-prod", "Prod", "ApproveProd", timeout=20)
    action = pipeline_event("api-prod", rolled.rollback_execution, "STARTED", later + timedelta(minutes=50),
                            detail_type="CodePipeline Action Execution State Change", stage="Prod",
                            action="ApproveProd")
    handle(action, prod)
    assert emu.wait_for(ACCOUNT, REGION, "api-prod", rolled.rollback_execution, timeout=20) == "Succeeded"
    handle(pipeline_event("api-prod", rolled.rollback_execution, "SUCCEEDED", later + timedelta(minutes=55)), prod)
    from chalicelib.promotion import store

    assert next(p for p in promotions("api") if p.id == second.id).restored_at is not None
    assert store.current("api", "prod")["revision"]["id"] == COMMIT
