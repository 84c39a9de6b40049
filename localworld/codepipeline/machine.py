"""How an execution moves: stage by stage, runOrder group by group, through the execution modes.

Pure over ``model``'s plain data: no lock, no thread, no moto. What it needs from outside comes in: the wall
clock (``now``), the monotonic clock and the step time (when a timed action is due), ids, and ``emit``, called
for every transition with the event CodePipeline would put (``bus.py`` renders and puts it). ``scheduler.py``
calls ``complete`` when a timed action is due; ``api.py`` calls ``start``, ``decide`` and ``stop``.

Execution modes: SUPERSEDED (the default) holds one execution per stage; a newer execution that reaches an
occupied stage waits at its inbound transition and supersedes an older one waiting there, and an older
execution whose only running actions are Manual approvals is superseded as soon as a newer one reaches its
stage. QUEUED waits in order and supersedes nothing. PARALLEL never waits.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from localworld.codepipeline import model
from localworld.codepipeline.model import Execution, Pipeline, Run

PIPELINE_EVENT = "CodePipeline Pipeline Execution State Change"
STAGE_EVENT = "CodePipeline Stage Execution State Change"
ACTION_EVENT = "CodePipeline Action Execution State Change"
EVENT_STATE = {"Succeeded": "SUCCEEDED", "Failed": "FAILED", "Stopped": "STOPPED", "Superseded": "SUPERSEDED",
               "Abandoned": "ABANDONED", "Stopping": "STOPPING"}


class Emit(Protocol):
    def __call__(self, ex: Execution, detail_type: str, state: str, *, stage: str | None = None,
                 run: Run | None = None) -> None: ...


def _new_id() -> str:
    return str(uuid.uuid4())


def _artifact_suffix() -> str:
    return secrets.token_urlsafe(5)[:7]


def _monotonic() -> float:
    return time.monotonic()  # looked up at each call: the local world and the tests replace time.monotonic


class Machine:
    def __init__(self, emit: Emit, *, step_seconds: float, now: Callable[[], datetime] = model.now,
                 monotonic: Callable[[], float] = _monotonic, new_id: Callable[[], str] = _new_id,
                 artifact_suffix: Callable[[], str] = _artifact_suffix) -> None:
        self.emit = emit
        self.step_seconds = step_seconds  # how long each non-approval action takes
        self._now, self._monotonic, self._new_id, self._suffix = now, monotonic, new_id, artifact_suffix

    # ---- what callers do ----

    def start(self, ex: Execution) -> None:
        """A new execution (already in its pipeline's ``executions``) starts at its first stage."""
        self.emit(ex, PIPELINE_EVENT, "STARTED")
        self._enter(ex, 0)

    def complete(self, run: Run) -> None:
        """A timed action ends (its planned failure, if any, happens now)."""
        ex = run.execution
        if run.fail:
            run.summary = run.fail
            run.external_id = self._new_id()
            self._end_run(run, "Failed")
        else:
            if run.category == "Source":
                revision = ex.revisions[run.name]
                run.summary, run.external_id, run.external_url = revision.summary, revision.id, revision.url
                ex.fetched.append(run.name)
            else:
                run.external_id = self._new_id()
            for artifact in run.action.get("outputArtifacts") or []:
                ex.artifacts[artifact["name"]] = f"{ex.pipeline.name[:20]}/{artifact['name'][:10]}/" \
                                                 f"{self._suffix()}"
            self._end_run(run, "Succeeded")
        self._settle(ex)

    def decide(self, run: Run, *, approved: bool, summary: str, by: str) -> None:
        """Someone answers a Manual approval that is in progress."""
        run.summary = summary
        run.updated_by = by
        self._end_run(run, "Succeeded" if approved else "Failed")
        self._settle(run.execution)

    def stop(self, ex: Execution, *, abandon: bool, reason: str | None) -> None:
        """Stop an execution that is InProgress or Stopping: it ends when its running actions do (at once with
        ``abandon``; pending approvals are abandoned either way)."""
        if reason:
            ex.stop_reason = reason
        first = ex.status == "InProgress"
        ex.status = "Stopping"
        ex.updated = self._now()
        if first:
            self.emit(ex, PIPELINE_EVENT, "STOPPING")
        if ex.waiting:
            self._unqueue(ex)
            self._finish(ex, "Stopped")
        else:
            if first:
                ex.pipeline.stage_latest[ex.stage] = (ex.id, "Stopping")
                self.emit(ex, STAGE_EVENT, "STOPPING", stage=ex.stage)
            for run in ex.runs:
                if run.status == "InProgress" and (abandon or run.approval):
                    self._end_run(run, "Abandoned")
            self._settle(ex)

    # ---- how an execution moves ----

    def _enter(self, ex: Execution, index: int) -> None:
        """``ex`` reaches the inbound transition of stage ``index``: it enters, or waits there."""
        pipe = ex.pipeline
        ex.stage_index, ex.group, ex.runs = index, 0, []
        stage = ex.stage
        if ex.mode != "PARALLEL":
            holder = pipe.executions.get(pipe.occupant.get(stage, ""))
            if holder is not None and holder is not ex:
                if ex.mode == "SUPERSEDED" and holder.status == "InProgress" and holder.awaits_approval_only():
                    self._supersede(holder)
                else:
                    queue = pipe.queue.setdefault(stage, [])
                    if ex.mode == "SUPERSEDED":
                        for older in [pipe.executions[i] for i in queue if i in pipe.executions]:
                            self._supersede(older)
                    queue.append(ex.id)
                    ex.waiting = True
                    return
            pipe.occupant[stage] = ex.id
        ex.waiting = False
        pipe.stage_latest[stage] = (ex.id, "InProgress")
        self.emit(ex, STAGE_EVENT, "STARTED", stage=stage)
        self._start_group(ex)

    def _start_group(self, ex: Execution) -> None:
        pipe = ex.pipeline
        declared = ex.stages[ex.stage_index]
        order = model.orders(declared)[ex.group]
        now = self._now()
        ex.runs = []
        for action in declared["actions"]:
            if int(action.get("runOrder", 1)) != order:
                continue
            run = Run(ex, declared["name"], action, self._new_id(), now, now)
            if run.approval:
                run.token = self._new_id()
                pipe.approvals[run.token] = run
            else:
                run.due = self._monotonic() + self.step_seconds
                planned = pipe.fail_next.get(run.stage)
                if planned and planned[0] == run.name:
                    del pipe.fail_next[run.stage]
                    run.fail = planned[1]
            ex.runs.append(run)
            pipe.action_latest[(run.stage, run.name)] = run
            self.emit(ex, ACTION_EVENT, "STARTED", stage=run.stage, run=run)

    def _end_run(self, run: Run, status: str) -> None:
        run.status, run.changed, run.due = status, self._now(), None
        run.execution.updated = run.changed
        self.emit(run.execution, ACTION_EVENT, EVENT_STATE[status], stage=run.stage, run=run)

    def _settle(self, ex: Execution) -> None:
        """After an action of ``ex`` ended: next group, next stage, or the end."""
        if ex.status not in ("InProgress", "Stopping") or any(r.status == "InProgress" for r in ex.runs):
            return
        pipe, stage = ex.pipeline, ex.stage
        failed = next((r for r in ex.runs if r.status == "Failed"), None)
        if ex.status == "Stopping":
            self._close_stage(ex, "Stopped")
            self._finish(ex, "Stopped")
        elif failed is not None:
            self._close_stage(ex, "Failed")
            self._finish(ex, "Failed", failed.summary)
        elif ex.group + 1 < len(model.orders(ex.stages[ex.stage_index])):
            ex.group += 1
            self._start_group(ex)
            return
        else:
            self._close_stage(ex, "Succeeded")
            ex.succeeded_stages.add(stage)
            if ex.stage_index + 1 < len(ex.stages):
                self._enter(ex, ex.stage_index + 1)
            else:
                self._finish(ex, "Succeeded")
        self._admit(pipe, stage)

    def _close_stage(self, ex: Execution, status: str) -> None:
        pipe = ex.pipeline
        pipe.stage_latest[ex.stage] = (ex.id, status)
        self.emit(ex, STAGE_EVENT, EVENT_STATE[status], stage=ex.stage)
        if pipe.occupant.get(ex.stage) == ex.id:
            del pipe.occupant[ex.stage]

    def _admit(self, pipe: Pipeline, stage: str) -> None:
        queue = pipe.queue.get(stage) or []
        while queue and stage not in pipe.occupant:
            nxt = pipe.executions.get(queue.pop(0))
            if nxt is not None and nxt.status == "InProgress" and nxt.waiting:
                self._enter(nxt, nxt.stage_index)

    def _unqueue(self, ex: Execution) -> None:
        queue = ex.pipeline.queue.get(ex.stage) or []
        if ex.id in queue:
            queue.remove(ex.id)
        ex.waiting = False

    def _supersede(self, old: Execution) -> None:
        if old.waiting:
            self._unqueue(old)
        else:  # waiting at a Manual approval inside the stage: the newer execution takes the stage
            for run in old.runs:
                if run.status == "InProgress":
                    self._end_run(run, "Abandoned")
            if old.pipeline.occupant.get(old.stage) == old.id:
                del old.pipeline.occupant[old.stage]
        self._finish(old, "Superseded")

    def _finish(self, ex: Execution, status: str, summary: str | None = None) -> None:
        ex.status, ex.updated = status, self._now()
        ex.waiting = False
        if status == "Stopped" and ex.stop_reason:
            ex.summary = ex.stop_reason
        elif summary:
            ex.summary = summary
        self.emit(ex, PIPELINE_EVENT, EVENT_STATE[status])


def timed_runs(pipelines: Iterable[Pipeline]) -> list[Run]:
    """Every action running on a timer (not waiting for someone), across ``pipelines``."""
    return [run for pipe in pipelines for ex in pipe.executions.values()
            if ex.status in ("InProgress", "Stopping") for run in ex.runs
            if run.status == "InProgress" and run.due is not None]


def next_deadline(pipelines: Iterable[Pipeline]) -> float | None:
    return min((run.due for run in timed_runs(pipelines)), default=None)  # type: ignore[type-var]
