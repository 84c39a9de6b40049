"""CodePipeline executions for the local world: moto stores pipelines, this module runs them.

Which APIs are emulated, and why (for docs/ARCHITECTURE.md, "moto gaps")
------------------------------------------------------------------------
moto 5.2.5 stores CodePipeline pipelines (Create/Get/Update/List/DeletePipeline, tags) but does not run them:
its StartPipelineExecution records an execution that is ``Succeeded`` at once, with no revisions, stages or
events, and GetPipelineState, PutApprovalResult and StopPipelineExecution do not exist. Promotion starts
pipelines pinned to a revision, reads what they built and answers Manual approvals, so
``localworld/codepipeline/`` (``api.py``) replaces or adds, on moto's own ``CodePipelineResponse`` in the moto server's
process, **StartPipelineExecution** (``sourceRevisions``, ``variables``, ``clientRequestToken``),
**GetPipelineExecution**, **ListPipelineExecutions** (``maxResults``, ``nextToken``,
``filter.succeededInStage``), **GetPipelineState**, **PutApprovalResult** and **StopPipelineExecution**
(``abandon``, ``reason``). Executions run stage by stage through the stored declaration, emit CodePipeline's
pipeline/stage/action state-change events through moto's events backend (so moto's rules deliver them), and
answer with CodePipeline's own errors (``PipelineNotFoundException``, ``PipelineExecutionNotFoundException``,
``ValidationException``, ``StageNotFoundException``, ``ActionNotFoundException``,
``InvalidApprovalTokenException``, ``ApprovalAlreadyCompletedException``,
``PipelineExecutionNotStoppableException``, ``DuplicatedStopRequestException``,
``InvalidNextTokenException``). DeletePipeline forgets a pipeline's executions and ``/moto-api/reset`` clears
them all. ``install()`` is called by ``Emulator.start``.

How an execution runs
---------------------
Like CodePipeline: stage by stage through the declaration the pipeline had when the execution started, each
stage's actions in ``runOrder`` groups. A Source action fetches the revision captured at the start (the one
pinned by ``sourceRevisions``, else the pipeline's head, which ``push`` sets); Build, Deploy, Test and Invoke
actions take ``step_seconds`` (default 0.3 s; one ticker thread runs every timer); a Manual approval waits for
PutApprovalResult (Approved continues, Rejected fails the execution). The execution mode is the pipeline's
``executionMode`` (default SUPERSEDED): a stage holds one execution at a time; a newer execution that reaches
an occupied stage waits at its inbound transition and supersedes an older one waiting there; and an older
execution whose only running actions are Manual approvals is superseded as soon as a newer one reaches its
stage (its approval is abandoned, its token stops working). QUEUED waits in order and supersedes nothing;
PARALLEL never waits. Every transition puts the event CodePipeline emits ("CodePipeline Pipeline / Stage /
Action Execution State Change", source ``aws.codepipeline``, resources the pipeline ARN, detail ``pipeline``,
``execution-id``, ``start-time``, ``state``, ``version`` as a float, ``pipeline-execution-attempt`` 1.0,
``execution-trigger``; stage and action events add ``stage``, action events ``action``, ``region``, ``type``,
artifacts and ``execution-result``) on the account's default bus through moto's events backend
(``EventsBackend.put_events``, the code behind the PutEvents API), so moto's rules and targets route it exactly
as a PutEvents call. States: pipeline STARTED, STOPPING, STOPPED, SUCCEEDED, FAILED, SUPERSEDED; stage STARTED,
STOPPING, STOPPED, SUCCEEDED, FAILED; action STARTED, SUCCEEDED, FAILED, ABANDONED.

Commits are kept per repository (``FullRepositoryId``), like a git host shared by every account, so a commit
pushed to ``web-stage`` and pinned in ``web-prod`` (same repository) reports the same message and time. For a
CodeStar connection source, ``revisionSummary`` is ``{"ProviderType":"GitHub","CommitMessage":"..."}`` and
``created`` is the commit time. As on AWS, the author is not reported.

Simplifications: a pinned commit the world never pushed resolves with an empty message (AWS would fail the
Source action); UpdatePipeline does not cancel running executions (they finish on the declaration they
started with); stop-and-wait abandons pending approvals at once; ``pipeline-execution-attempt`` is always 1
(no RetryStageExecution).

Control API (in-process: moto runs in the world's and the tests' own process)
----------------------------------------------------------------------------
- ``install()``: patch moto (idempotent).
- ``push(account_id, region, pipeline, *, commit_id, message, author, created=None, action=None) -> str``:
  a commit lands on the source's branch: it becomes the pipeline's head and an execution starts as the
  connection's webhook would (trigger ``Webhook``); returns the execution id.
- ``fail_next(account_id, region, pipeline, stage, *, action=None, summary=None)``: the next execution to run
  that stage fails at its Build/Deploy/Test/Invoke action (or ``action``).
- ``set_step_seconds(seconds)`` / ``step_seconds()``: how long each non-approval action takes.
- ``wait_for(account_id, region, pipeline, execution_id, statuses=TERMINAL, timeout=10.0) -> str``: the
  execution's status once it is one of ``statuses``; ``TimeoutError`` otherwise.
- ``wait_for_approval(account_id, region, pipeline, stage, action, timeout=10.0) -> (execution_id, token)``.
- ``wait_idle(timeout=10.0)``: until no action runs on a timer (everything left waits for someone).
- ``events(account_id, region, pipeline) -> list[dict]``: the events emitted for the pipeline, in order.
- ``reset()``: forget every execution, head, commit and planned failure (moto's reset calls it).

Where things are
----------------
- ``model.py``: the plain data (pipelines, executions, action runs, revisions, commits) and reading a declaration.
- ``machine.py``: how an execution moves (stages, runOrder groups, execution modes, stop, approvals); pure over the
  model, its clocks, ids and event sink passed in; table-tested in tests/test_localworld_codepipeline_machine.py.
- ``scheduler.py``: the ``Engine``: the one lock over the model, the ticker thread that ends timed actions, waits.
- ``bus.py``: the events CodePipeline puts, rendered and put through moto's events backend.
- ``api.py``: moto's handlers, request checks, CodePipeline's errors and response shapes; ``install()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from localworld.codepipeline.api import API, install
from localworld.codepipeline.model import TERMINAL
from localworld.codepipeline.scheduler import DEFAULT_STEP_SECONDS, ENGINE

__all__ = ["DEFAULT_STEP_SECONDS", "TERMINAL", "events", "fail_next", "install", "push", "reset",
           "set_step_seconds", "step_seconds", "wait_for", "wait_for_approval", "wait_idle"]


# ---- the control API ----

def push(account_id: str, region: str, pipeline: str, *, commit_id: str, message: str, author: str,
         created: datetime | None = None, action: str | None = None) -> str:
    """A commit lands on the pipeline's source branch: it becomes the head and an execution starts (trigger
    Webhook, as from a CodeStar connection). Returns the execution id."""
    return API.push(account_id, region, pipeline, commit_id=commit_id, message=message, author=author,
                    created=created, action=action)


def fail_next(account_id: str, region: str, pipeline: str, stage: str, *, action: str | None = None,
              summary: str | None = None) -> None:
    """The next execution to run ``stage`` fails at its Build/Deploy/Test/Invoke action (or ``action``)."""
    API.fail_next(account_id, region, pipeline, stage, action=action, summary=summary)


def set_step_seconds(seconds: float) -> None:
    """How long each Source/Build/Deploy/Test/Invoke action takes from now on."""
    ENGINE.set_step_seconds(seconds)


def step_seconds() -> float:
    return ENGINE.step_seconds


def wait_for(account_id: str, region: str, pipeline: str, execution_id: str,
             statuses: Iterable[str] = TERMINAL, timeout: float = 10.0) -> str:
    """The execution's status once it is one of ``statuses`` (default: any final one); TimeoutError if not."""
    return ENGINE.wait_for(account_id, region, pipeline, execution_id, statuses, timeout)


def wait_for_approval(account_id: str, region: str, pipeline: str, stage: str, action: str,
                      timeout: float = 10.0) -> tuple[str, str]:
    """(execution id, token) of the approval waiting at ``stage``/``action``; TimeoutError if none comes."""
    return ENGINE.wait_for_approval(account_id, region, pipeline, stage, action, timeout)


def wait_idle(timeout: float = 10.0) -> None:
    """Until no action runs on a timer anywhere (what is left waits for an approval); TimeoutError if not."""
    ENGINE.wait_idle(timeout)


def events(account_id: str, region: str, pipeline: str) -> list[dict[str, Any]]:
    """The events emitted for the pipeline, oldest first: ``{"id", "detail-type", "detail"}``."""
    return ENGINE.events(account_id, region, pipeline)


def reset() -> None:
    ENGINE.reset()
