"""The engine: every pipeline's executions across accounts and regions, the one lock over them, and the one
ticker thread that ends timed actions when they are due.

Everything that reads or changes the model holds ``Engine.cond`` (a condition over a re-entrant lock); the
ticker and every ``wait_*`` sleep on it, and whoever changes something notifies it.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from localworld.codepipeline import bus, machine
from localworld.codepipeline.model import TERMINAL, Commit, Execution, Pipeline

log = logging.getLogger(__name__)

DEFAULT_STEP_SECONDS = 0.3


class Engine:
    """Every pipeline's executions, across accounts and regions, and the one ticker thread that runs them."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.pipelines: dict[tuple[str, str, str], Pipeline] = {}
        self.commits: dict[tuple[str, str], Commit] = {}  # (repository, commit id) -> commit
        self.machine = machine.Machine(bus.emit, step_seconds=DEFAULT_STEP_SECONDS)
        self._ticker: threading.Thread | None = None

    # ---- control ----

    @property
    def step_seconds(self) -> float:
        return self.machine.step_seconds

    def set_step_seconds(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("step_seconds must be >= 0")
        with self.cond:
            self.machine.step_seconds = float(seconds)

    def reset(self) -> None:
        with self.cond:
            self.pipelines.clear()
            self.commits.clear()
            self.cond.notify_all()

    def forget(self, account: str, region: str, name: str) -> None:
        with self.cond:
            self.pipelines.pop((account, region, name), None)
            self.cond.notify_all()

    def pipeline(self, account: str, region: str, name: str, moto_pipeline: Any) -> Pipeline:
        """What the engine keeps for moto's pipeline ``moto_pipeline`` (new when moto's object is)."""
        key = (account, region, name)
        pipe = self.pipelines.get(key)
        if pipe is None or pipe.moto is not moto_pipeline:
            pipe = Pipeline(account, region, name, moto_pipeline.metadata["pipelineArn"], moto_pipeline)
            self.pipelines[key] = pipe
        return pipe

    def started(self, ex: Execution) -> None:
        """``ex`` was just added to its pipeline: it runs."""
        self.machine.start(ex)
        self._ensure_ticker()
        self.cond.notify_all()

    # ---- waiting ----

    def wait_for(self, account: str, region: str, name: str, execution_id: str,
                 statuses: Iterable[str] = TERMINAL, timeout: float = 10.0) -> str:
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                pipe = self.pipelines.get((account, region, name))
                ex = pipe.executions.get(execution_id) if pipe else None
                if ex is not None and ex.status in wanted:
                    return ex.status
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"execution {execution_id} of {name} is "
                                       f"{ex.status if ex else 'unknown'} after {timeout}s, not {sorted(wanted)}")
                self.cond.wait(remaining)

    def wait_for_approval(self, account: str, region: str, name: str, stage: str, action: str,
                          timeout: float = 10.0) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                pipe = self.pipelines.get((account, region, name))
                run = pipe.action_latest.get((stage, action)) if pipe else None
                if run is not None and run.status == "InProgress" and run.token:
                    return run.execution.id, run.token
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no approval waits at {name}/{stage}/{action} after {timeout}s")
                self.cond.wait(remaining)

    def wait_idle(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while machine.next_deadline(self.pipelines.values()) is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"pipelines still running actions after {timeout}s")
                self.cond.wait(remaining)

    def events(self, account: str, region: str, name: str) -> list[dict[str, Any]]:
        with self.cond:
            pipe = self.pipelines.get((account, region, name))
            return copy.deepcopy(pipe.journal) if pipe else []

    # ---- the ticker ----

    def _ensure_ticker(self) -> None:
        if self._ticker is None or not self._ticker.is_alive():
            self._ticker = threading.Thread(target=self._tick_forever, name="localworld-codepipeline", daemon=True)
            self._ticker.start()

    def _tick_forever(self) -> None:
        with self.cond:
            while True:
                now = time.monotonic()
                due = sorted((r for r in machine.timed_runs(self.pipelines.values()) if r.due <= now),  # type: ignore
                             key=lambda r: r.due)  # type: ignore
                for run in due:
                    if run.status != "InProgress" or run.due is None:
                        continue  # abandoned meanwhile
                    try:
                        self.machine.complete(run)
                    except Exception:  # never let one pipeline stop every other
                        log.exception("local CodePipeline: completing %s/%s failed", run.stage, run.name)
                        run.due = None
                if due:
                    self.cond.notify_all()
                deadline = machine.next_deadline(self.pipelines.values())
                self.cond.wait(None if deadline is None else max(deadline - time.monotonic(), 0.0))


ENGINE = Engine()
