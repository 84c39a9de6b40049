"""How a local CodePipeline execution moves (localworld/codepipeline/machine.py), over plain data: no moto, no
thread, no clock but the ones passed in. tests/test_localworld_codepipeline.py drives the same machine through
boto3 and moto."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localworld.codepipeline.machine import Machine, next_deadline, timed_runs
from localworld.codepipeline.model import Execution, Pipeline, Revision, Run, source_actions

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def action(name: str, category: str, *, run_order: int = 1) -> dict[str, Any]:
    provider = {"Source": "CodeStarSourceConnection", "Build": "CodeBuild", "Deploy": "ECS",
                "Approval": "Manual"}[category]
    return {"name": name, "runOrder": run_order,
            "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"}}


def stage(name: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "actions": list(actions)}


BUILD = [stage("Source", action("Source", "Source")), stage("Build", action("Build", "Build"))]
GATED = [*BUILD, stage("Prod", action("Approve", "Approval")), stage("Deploy", action("Deploy", "Deploy"))]


class World:
    """A machine whose clocks and ids count, and whose events are recorded as (kind, state, stage, action)."""

    def __init__(self, stages: list[dict[str, Any]], mode: str = "SUPERSEDED") -> None:
        self.stages, self.mode = stages, mode
        self.events: list[tuple[str, str, str | None, str | None]] = []
        ticks, ids = itertools.count(), itertools.count(1)
        self.machine = Machine(self._emit, step_seconds=1.0, now=lambda: T0 + timedelta(seconds=next(ticks)),
                               monotonic=lambda: float(next(ticks)), new_id=lambda: f"id-{next(ids)}",
                               artifact_suffix=lambda: "abc1234")
        self.pipe = Pipeline("111111111111", "eu-west-1", "app", "arn:aws:codepipeline:eu-west-1:111111111111:app",
                             moto=None)

    def _emit(self, ex: Execution, detail_type: str, state: str, *, stage: str | None = None,
              run: Run | None = None) -> None:
        kind = detail_type.split()[1]  # "CodePipeline Stage Execution State Change" -> "Stage"
        self.events.append((kind, state, stage, run.name if run else None))

    def start(self) -> Execution:
        declaration = {"stages": self.stages}
        revisions = {name: Revision(name, "COMMIT_ID", "c0ffee", "c0ffee", "a change", T0, None)
                     for name in source_actions(declaration)}
        ex = Execution(self.pipe, f"ex-{len(self.pipe.executions) + 1}", 1, self.stages, self.mode,
                       {"triggerType": "StartPipelineExecution", "triggerDetail": ""}, [], revisions, "bucket",
                       T0, T0)
        self.pipe.executions[ex.id] = ex
        self.machine.start(ex)
        return ex

    def drain(self) -> None:
        """What the ticker does, without waiting: end every timed action, the earliest due first."""
        while runs := timed_runs([self.pipe]):
            self.machine.complete(min(runs, key=lambda r: r.due))  # type: ignore[arg-type, return-value]

    def approval(self, ex: Execution) -> Run:
        return next(r for r in ex.runs if r.approval and r.status == "InProgress")


def test_an_execution_runs_stage_by_stage_and_says_so_at_each_step():
    world = World(BUILD)
    ex = world.start()
    world.drain()
    assert ex.status == "Succeeded"
    assert ex.fetched == ["Source"] and ex.succeeded_stages == {"Source", "Build"}
    assert world.events == [
        ("Pipeline", "STARTED", None, None),
        ("Stage", "STARTED", "Source", None), ("Action", "STARTED", "Source", "Source"),
        ("Action", "SUCCEEDED", "Source", "Source"), ("Stage", "SUCCEEDED", "Source", None),
        ("Stage", "STARTED", "Build", None), ("Action", "STARTED", "Build", "Build"),
        ("Action", "SUCCEEDED", "Build", "Build"), ("Stage", "SUCCEEDED", "Build", None),
        ("Pipeline", "SUCCEEDED", None, None)]
    assert world.pipe.occupant == {} and next_deadline([world.pipe]) is None


def test_a_stage_runs_its_run_order_groups_one_after_the_other():
    world = World([stage("Ship", action("Deploy", "Deploy", run_order=2), action("Build", "Build", run_order=1),
                         action("Test", "Build", run_order=1))])
    ex = world.start()
    assert [r.name for r in ex.runs] == ["Build", "Test"]
    world.machine.complete(ex.runs[0])
    assert [r.name for r in ex.runs] == ["Build", "Test"]  # the group ends when its last action does
    world.machine.complete(ex.runs[1])
    assert [r.name for r in ex.runs] == ["Deploy"]
    world.drain()
    assert ex.status == "Succeeded"


def test_a_planned_failure_fails_its_action_its_stage_and_the_execution_once():
    world = World(BUILD)
    world.pipe.fail_next["Build"] = ("Build", "CodeBuild build failed (local world)")
    first = world.start()
    world.drain()
    assert (first.status, first.summary) == ("Failed", "CodeBuild build failed (local world)")
    assert world.events[-3:] == [("Action", "FAILED", "Build", "Build"), ("Stage", "FAILED", "Build", None),
                                 ("Pipeline", "FAILED", None, None)]
    second = world.start()
    world.drain()
    assert second.status == "Succeeded"


@pytest.mark.parametrize(("approved", "status", "action_state", "reached_deploy"), [
    (True, "Succeeded", "SUCCEEDED", True),
    (False, "Failed", "FAILED", False),
])
def test_a_manual_approval_waits_for_someone(approved, status, action_state, reached_deploy):
    world = World(GATED)
    ex = world.start()
    world.drain()
    run = world.approval(ex)
    assert ex.status == "InProgress" and run.due is None and run.token
    dave = "arn:aws:iam::111111111111:user/dave"
    world.machine.decide(run, approved=approved, summary="looks fine", by=dave)
    world.drain()
    assert ex.status == status and (run.summary, run.updated_by) == ("looks fine", dave)
    assert ("Action", action_state, "Prod", "Approve") in world.events
    assert ("Deploy" in ex.succeeded_stages) is reached_deploy


# Three executions started one after the other while the first is still in its first stage.
@pytest.mark.parametrize(("mode", "statuses", "waiting_after_start"), [
    ("SUPERSEDED", ["Succeeded", "Superseded", "Succeeded"], [False, False, True]),  # the newer waiter wins
    ("QUEUED", ["Succeeded", "Succeeded", "Succeeded"], [False, True, True]),  # in order, none lost
    ("PARALLEL", ["Succeeded", "Succeeded", "Succeeded"], [False, False, False]),  # nobody waits
])
def test_execution_modes_decide_who_waits_and_who_is_superseded(mode, statuses, waiting_after_start):
    world = World(BUILD, mode)
    executions = [world.start() for _ in range(3)]
    assert [ex.waiting for ex in executions] == waiting_after_start
    world.drain()
    assert [ex.status for ex in executions] == statuses
    finished = [e for e in world.events if e[0] == "Pipeline" and e[1] == "SUCCEEDED"]
    assert len(finished) == statuses.count("Succeeded")


def test_superseded_mode_replaces_an_execution_that_only_waits_for_an_approval():
    world = World(GATED)
    old = world.start()
    world.drain()
    old_approval = world.approval(old)
    new = world.start()
    world.drain()
    assert old.status == "Superseded" and old_approval.status == "Abandoned"
    assert world.approval(new).stage == "Prod" and world.pipe.occupant["Prod"] == new.id
    assert ("Action", "ABANDONED", "Prod", "Approve") in world.events


def test_queued_mode_keeps_an_execution_waiting_behind_an_approval():
    world = World(GATED, "QUEUED")
    old = world.start()
    world.drain()
    new = world.start()
    world.drain()
    assert new.waiting and new.stage == "Prod" and old.status == "InProgress"
    world.machine.decide(world.approval(old), approved=True, summary="", by="dave")
    world.drain()
    assert old.status == "Succeeded" and not new.waiting and world.approval(new)


# Where the execution is when it is stopped, with or without abandon.
@pytest.mark.parametrize(("where", "abandon", "run_status", "status_at_once"), [
    ("running", False, "InProgress", "Stopping"),  # the running action finishes first
    ("running", True, "Abandoned", "Stopped"),
    ("approval", False, "Abandoned", "Stopped"),  # a pending approval is abandoned either way
    ("waiting", False, None, "Stopped"),  # at an inbound transition: nothing runs
])
def test_stopping_an_execution(where, abandon, run_status, status_at_once):
    world = World(GATED if where == "approval" else BUILD, "QUEUED")
    ex = world.start()
    if where == "approval":
        world.drain()
    if where == "waiting":
        world.start()
        ex = world.start()  # the third waits behind the second at Source
        assert ex.waiting
    world.machine.stop(ex, abandon=abandon, reason="bad commit")
    assert ex.status == status_at_once
    assert [r.status for r in ex.runs][:1] == ([run_status] if run_status else [])
    world.drain()
    assert (ex.status, ex.summary) == ("Stopped", "bad commit")
    assert world.events.count(("Pipeline", "STOPPING", None, None)) == 1
    assert ("Pipeline", "STOPPED", None, None) in world.events
