"""CodePipeline executions for the local world: moto stores pipelines, this module runs them.

Which APIs are emulated, and why (for docs/ARCHITECTURE.md, "moto gaps")
------------------------------------------------------------------------
moto 5.2.5 stores CodePipeline pipelines (Create/Get/Update/List/DeletePipeline, tags) but does not run them:
its StartPipelineExecution records an execution that is ``Succeeded`` at once, with no revisions, stages or
events, and GetPipelineState, PutApprovalResult and StopPipelineExecution do not exist. Promotion starts
pipelines pinned to a revision, reads what they built and answers Manual approvals, so
``localworld/codepipeline.py`` replaces or adds, on moto's own ``CodePipelineResponse`` in the moto server's
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
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import JsonRESTError

log = logging.getLogger(__name__)

DEFAULT_STEP_SECONDS = 0.3
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped", "Superseded", "Cancelled"})
WORK_CATEGORIES = ("Build", "Deploy", "Test", "Invoke")
COMMIT_PROVIDERS = ("CodeStarSourceConnection", "CodeCommit", "GitHub", "Bitbucket")
REVISION_TYPES = {"CodeStarSourceConnection": {"COMMIT_ID"}, "CodeCommit": {"COMMIT_ID"}, "GitHub": {"COMMIT_ID"},
                  "Bitbucket": {"COMMIT_ID"}, "ECR": {"IMAGE_DIGEST"},
                  "S3": {"S3_OBJECT_VERSION_ID", "S3_OBJECT_KEY"}}
_TOKEN = re.compile(r"^[a-zA-Z0-9-]+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

PIPELINE_EVENT = "CodePipeline Pipeline Execution State Change"
STAGE_EVENT = "CodePipeline Stage Execution State Change"
ACTION_EVENT = "CodePipeline Action Execution State Change"
_EVENT_STATE = {"Succeeded": "SUCCEEDED", "Failed": "FAILED", "Stopped": "STOPPED", "Superseded": "SUPERSEDED",
                "Abandoned": "ABANDONED", "Stopping": "STOPPING"}


# ---- CodePipeline's errors (botocore's service model names them) ----

class CodePipelineError(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__(type(self).__name__, message)


class ValidationException(CodePipelineError):
    pass


class PipelineNotFoundException(CodePipelineError):
    pass


class PipelineExecutionNotFoundException(CodePipelineError):
    pass


class StageNotFoundException(CodePipelineError):
    pass


class ActionNotFoundException(CodePipelineError):
    pass


class InvalidApprovalTokenException(CodePipelineError):
    pass


class ApprovalAlreadyCompletedException(CodePipelineError):
    pass


class PipelineExecutionNotStoppableException(CodePipelineError):
    pass


class DuplicatedStopRequestException(CodePipelineError):
    pass


class InvalidNextTokenException(CodePipelineError):
    pass


# ---- the model ----

def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # moto keeps naive UTC times


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else round(_aware(value).timestamp(), 3)


@dataclass(frozen=True)
class _Commit:
    id: str
    message: str
    author: str
    created: datetime


@dataclass(frozen=True)
class _Revision:
    action: str  # the source action that fetches it
    type: str  # COMMIT_ID | IMAGE_DIGEST | S3_OBJECT_VERSION_ID | S3_OBJECT_KEY
    id: str
    change_id: str
    summary: str | None
    created: datetime | None
    url: str | None


@dataclass(eq=False)
class _Run:
    """One action execution."""

    execution: _Execution
    stage: str
    action: dict[str, Any]
    id: str
    started: datetime
    changed: datetime
    due: float | None = None  # monotonic time it ends; None: it waits for someone (a Manual approval)
    fail: str | None = None  # the summary of a planned failure
    status: str = "InProgress"  # InProgress | Succeeded | Failed | Abandoned
    summary: str | None = None
    token: str | None = None
    updated_by: str | None = None
    external_id: str | None = None
    external_url: str | None = None

    @property
    def name(self) -> str:
        return self.action["name"]

    @property
    def category(self) -> str:
        return self.action["actionTypeId"]["category"]

    @property
    def approval(self) -> bool:
        return self.category == "Approval"


@dataclass(eq=False)
class _Execution:
    pipeline: _Pipeline
    id: str
    version: int
    stages: list[dict[str, Any]]  # the declaration when it started
    mode: str
    trigger: dict[str, str]
    variables: list[dict[str, str]]
    revisions: dict[str, _Revision]  # source action -> what it fetches
    artifact_store: str  # the S3 bucket of the pipeline's artifacts
    started: datetime
    updated: datetime
    status: str = "InProgress"
    summary: str | None = None
    stop_reason: str | None = None
    stage_index: int = 0
    group: int = 0
    waiting: bool = False  # at the inbound transition of stages[stage_index]
    runs: list[_Run] = field(default_factory=list)  # the current runOrder group
    fetched: list[str] = field(default_factory=list)  # source actions done: their revisions are reported
    succeeded_stages: set[str] = field(default_factory=set)
    artifacts: dict[str, str] = field(default_factory=dict)  # artifact name -> S3 key

    @property
    def stage(self) -> str:
        return self.stages[self.stage_index]["name"]

    def awaits_approval_only(self) -> bool:
        running = [r for r in self.runs if r.status == "InProgress"]
        return bool(running) and all(r.approval for r in running)


@dataclass(eq=False)
class _Pipeline:
    """What CodePipeline keeps about one pipeline besides its declaration (which stays moto's)."""

    account: str
    region: str
    name: str
    arn: str
    moto: Any  # moto's CodePipeline object: a new one (deleted and created again) means a new pipeline
    executions: dict[str, _Execution] = field(default_factory=dict)  # oldest first
    tokens: dict[str, str] = field(default_factory=dict)  # clientRequestToken -> execution id
    heads: dict[str, _Revision] = field(default_factory=dict)  # source action -> its branch head
    fail_next: dict[str, tuple[str, str]] = field(default_factory=dict)  # stage -> (action, summary)
    occupant: dict[str, str] = field(default_factory=dict)  # stage -> execution id in it
    queue: dict[str, list[str]] = field(default_factory=dict)  # stage -> execution ids at its transition
    stage_latest: dict[str, tuple[str, str]] = field(default_factory=dict)  # stage -> (execution id, status)
    action_latest: dict[tuple[str, str], _Run] = field(default_factory=dict)
    approvals: dict[str, _Run] = field(default_factory=dict)  # token -> approval run
    journal: list[dict[str, Any]] = field(default_factory=list)


def _moto_pipeline(account: str, region: str, name: str | None) -> Any:
    from moto.codepipeline.models import codepipeline_backends

    found = codepipeline_backends[account][region].pipelines.get(name or "")
    if found is None:
        raise PipelineNotFoundException(f"Account '{account}' does not have a pipeline with name '{name}'")
    return found


def _source_actions(declaration: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for stage in declaration["stages"] for a in stage["actions"]
            if a["actionTypeId"]["category"] == "Source"}


def _orders(stage: dict[str, Any]) -> list[int]:
    return sorted({int(a.get("runOrder", 1)) for a in stage["actions"]})


def _repository(action: dict[str, Any]) -> str:
    conf = action.get("configuration") or {}
    if conf.get("FullRepositoryId"):
        return conf["FullRepositoryId"]
    if conf.get("Owner") and conf.get("Repo"):
        return f"{conf['Owner']}/{conf['Repo']}"
    return conf.get("RepositoryName") or conf.get("RepositoryId") or action["name"]


def _connection(action: dict[str, Any], account: str, region: str) -> str:
    conf = action.get("configuration") or {}
    return conf.get("ConnectionArn") or (f"arn:aws:codestar-connections:{region}:{account}:connection/"
                                         f"{uuid.uuid5(uuid.NAMESPACE_URL, _repository(action))}")


class Engine:
    """Every pipeline's executions, across accounts and regions, and the one ticker thread that runs them."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._pipelines: dict[tuple[str, str, str], _Pipeline] = {}
        self._commits: dict[tuple[str, str], _Commit] = {}  # (repository, commit id) -> commit
        self._step = DEFAULT_STEP_SECONDS
        self._ticker: threading.Thread | None = None

    # ---- control ----

    @property
    def step_seconds(self) -> float:
        return self._step

    def set_step_seconds(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("step_seconds must be >= 0")
        with self._cond:
            self._step = float(seconds)

    def reset(self) -> None:
        with self._cond:
            self._pipelines.clear()
            self._commits.clear()
            self._cond.notify_all()

    def forget(self, account: str, region: str, name: str) -> None:
        with self._cond:
            self._pipelines.pop((account, region, name), None)
            self._cond.notify_all()

    def push(self, account: str, region: str, name: str, *, commit_id: str, message: str, author: str,
             created: datetime | None = None, action: str | None = None) -> str:
        with self._cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            sources = _source_actions(moto_pipeline.pipeline)
            if action is None:
                if len(sources) != 1:
                    raise ValueError(f"pipeline {name} has {len(sources)} source actions; name the one pushed to")
                action = next(iter(sources))
            if action not in sources:
                raise ValueError(f"pipeline {name} has no source action {action!r} (it has {sorted(sources)})")
            declared = sources[action]
            provider = declared["actionTypeId"]["provider"]
            if provider not in COMMIT_PROVIDERS:
                raise ValueError(f"source action {action!r} of {name} reads from {provider}, not a repository")
            self._commits[(_repository(declared), commit_id)] = _Commit(commit_id, message, author,
                                                                        _aware(created or _now()))
            pipe = self._pipeline(account, region, name, moto_pipeline)
            pipe.heads[action] = self._commit_revision(pipe, declared, commit_id)
            if provider == "CodeCommit":
                trigger = {"triggerType": "CloudWatchEvent", "triggerDetail":
                           f"arn:aws:events:{region}:{account}:rule/codepipeline-{name}"}
            else:
                trigger = {"triggerType": "Webhook", "triggerDetail": _connection(declared, account, region)}
            return self.start(account, region, name, trigger=trigger)

    def fail_next(self, account: str, region: str, name: str, stage: str, *, action: str | None = None,
                  summary: str | None = None) -> None:
        with self._cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            declared = next((s for s in moto_pipeline.pipeline["stages"] if s["name"] == stage), None)
            if declared is None:
                raise ValueError(f"pipeline {name} has no stage {stage!r}")
            candidates = [a for a in declared["actions"] if a["actionTypeId"]["category"] in WORK_CATEGORIES]
            if action is not None:
                candidates = [a for a in declared["actions"] if a["name"] == action and
                              a["actionTypeId"]["category"] != "Approval"]
            if not candidates:
                raise ValueError(f"stage {stage!r} of {name} has no action that can fail"
                                 + (f" named {action!r}" if action else ""))
            chosen = candidates[0]
            kind = chosen["actionTypeId"]
            pipe = self._pipeline(account, region, name, moto_pipeline)
            pipe.fail_next[stage] = (chosen["name"], summary or
                                     f"{kind['provider']} {kind['category'].lower()} failed (local world)")

    def wait_for(self, account: str, region: str, name: str, execution_id: str,
                 statuses: Iterable[str] = TERMINAL, timeout: float = 10.0) -> str:
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                pipe = self._pipelines.get((account, region, name))
                ex = pipe.executions.get(execution_id) if pipe else None
                if ex is not None and ex.status in wanted:
                    return ex.status
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"execution {execution_id} of {name} is "
                                       f"{ex.status if ex else 'unknown'} after {timeout}s, not {sorted(wanted)}")
                self._cond.wait(remaining)

    def wait_for_approval(self, account: str, region: str, name: str, stage: str, action: str,
                          timeout: float = 10.0) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                pipe = self._pipelines.get((account, region, name))
                run = pipe.action_latest.get((stage, action)) if pipe else None
                if run is not None and run.status == "InProgress" and run.token:
                    return run.execution.id, run.token
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no approval waits at {name}/{stage}/{action} after {timeout}s")
                self._cond.wait(remaining)

    def wait_idle(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._next_deadline() is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"pipelines still running actions after {timeout}s")
                self._cond.wait(remaining)

    def events(self, account: str, region: str, name: str) -> list[dict[str, Any]]:
        with self._cond:
            pipe = self._pipelines.get((account, region, name))
            return copy.deepcopy(pipe.journal) if pipe else []

    # ---- the API ----

    def start(self, account: str, region: str, name: str | None, *, source_revisions: list[dict] | None = None,
              variables: list[dict] | None = None, token: str | None = None,
              trigger: dict[str, str] | None = None) -> str:
        with self._cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            pipe = self._pipeline(account, region, moto_pipeline.pipeline["name"], moto_pipeline)
            if token is not None:
                if not (1 <= len(token) <= 128 and _TOKEN.match(token)):
                    raise ValidationException(
                        "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: "
                        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9-]+$")
                if token in pipe.tokens:
                    return pipe.tokens[token]
            declaration = copy.deepcopy(moto_pipeline.pipeline)
            sources = _source_actions(declaration)
            pins = self._pins(pipe, sources, source_revisions or [])
            now = _now()
            revisions = {action: pins.get(action) or pipe.heads.get(action) or self._initial(pipe, declared)
                         for action, declared in sources.items()}
            ex = _Execution(pipeline=pipe, id=str(uuid.uuid4()), version=int(declaration.get("version", 1)),
                            stages=declaration["stages"], mode=declaration.get("executionMode") or "SUPERSEDED",
                            trigger=trigger or {"triggerType": "StartPipelineExecution", "triggerDetail": ""},
                            variables=self._variables(declaration, variables or []), revisions=revisions,
                            artifact_store=(declaration.get("artifactStore") or {}).get("location", ""),
                            started=now, updated=now)
            pipe.executions[ex.id] = ex
            if token is not None:
                pipe.tokens[token] = ex.id
            self._emit(ex, PIPELINE_EVENT, "STARTED")
            self._enter(ex, 0)
            self._ensure_ticker()
            self._cond.notify_all()
            return ex.id

    def get_execution(self, account: str, region: str, name: str | None, execution_id: str | None) -> dict:
        with self._cond:
            ex = self._execution(account, region, name, execution_id)
            view = {"pipelineName": ex.pipeline.name, "pipelineVersion": ex.version, "pipelineExecutionId": ex.id,
                    "status": ex.status, "artifactRevisions": self._artifact_revisions(ex),
                    "variables": copy.deepcopy(ex.variables), "trigger": dict(ex.trigger),
                    "executionMode": ex.mode, "executionType": "STANDARD"}
            if ex.summary:
                view["statusSummary"] = ex.summary
            return view

    def list_executions(self, account: str, region: str, name: str | None, max_results: int | None,
                        next_token: str | None, filters: dict | None) -> dict:
        with self._cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            pipe = self._pipeline(account, region, moto_pipeline.pipeline["name"], moto_pipeline)
            if max_results is not None and not 1 <= int(max_results) <= 100:
                raise ValidationException("1 validation error detected: Value at 'maxResults' failed to satisfy "
                                          "constraint: Member must have value less than or equal to 100")
            limit = int(max_results or 100)
            executions = list(reversed(pipe.executions.values()))
            stage = ((filters or {}).get("succeededInStage") or {}).get("stageName")
            if stage:
                executions = [ex for ex in executions if stage in ex.succeeded_stages]
            start = 0
            if next_token:
                ids = [ex.id for ex in executions]
                if next_token not in ids:
                    raise InvalidNextTokenException("The next token was specified in an invalid format. Make sure "
                                                    "that the next token you provide is the token returned by a "
                                                    "previous call.")
                start = ids.index(next_token)
            page = executions[start:start + limit]
            answer: dict[str, Any] = {"pipelineExecutionSummaries": [self._summary(ex) for ex in page]}
            if start + limit < len(executions):
                answer["nextToken"] = executions[start + limit].id
            return answer

    def state(self, account: str, region: str, name: str | None) -> dict:
        with self._cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            pipe = self._pipeline(account, region, moto_pipeline.pipeline["name"], moto_pipeline)
            stages = []
            for declared in moto_pipeline.pipeline["stages"]:
                stage_name = declared["name"]
                view: dict[str, Any] = {"stageName": stage_name, "inboundTransitionState": {"enabled": True}}
                queued = [pipe.executions[i] for i in pipe.queue.get(stage_name, []) if i in pipe.executions]
                if queued:
                    inbound = [{"pipelineExecutionId": ex.id, "status": "InProgress", "type": "STANDARD"}
                               for ex in queued]
                    view["inboundExecution"] = inbound[-1]
                    view["inboundExecutions"] = inbound
                actions = []
                for action in declared["actions"]:
                    action_view: dict[str, Any] = {"actionName": action["name"]}
                    run = pipe.action_latest.get((stage_name, action["name"]))
                    if action["actionTypeId"]["category"] == "Source":
                        head = self._last_fetched(pipe, action["name"])
                        if head is not None:
                            action_view["currentRevision"] = {"revisionId": head.id, "revisionChangeId":
                                                              head.change_id, "created": _epoch(head.created)}
                            if head.url:
                                action_view["revisionUrl"] = head.url
                    if run is not None:
                        action_view["latestExecution"] = self._run_view(run)
                    actions.append(action_view)
                view["actionStates"] = actions
                if stage_name in pipe.stage_latest:
                    execution_id, status = pipe.stage_latest[stage_name]
                    view["latestExecution"] = {"pipelineExecutionId": execution_id, "status": status,
                                               "type": "STANDARD"}
                stages.append(view)
            return {"pipelineName": pipe.name, "pipelineVersion": moto_pipeline.pipeline["version"],
                    "stageStates": stages, "created": _epoch(moto_pipeline._created),
                    "updated": _epoch(moto_pipeline._updated)}

    def put_approval(self, account: str, region: str, name: str | None, stage: str | None, action: str | None,
                     result: dict | None, token: str | None, caller: str) -> datetime:
        with self._cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            pipe = self._pipeline(account, region, moto_pipeline.pipeline["name"], moto_pipeline)
            declared = next((s for s in moto_pipeline.pipeline["stages"] if s["name"] == stage), None)
            if declared is None:
                raise StageNotFoundException(f"Stage '{stage}' not found in pipeline '{pipe.name}'")
            found = next((a for a in declared["actions"] if a["name"] == action), None)
            if found is None or found["actionTypeId"]["category"] != "Approval":
                raise ActionNotFoundException(f"Approval action '{action}' not found in stage '{stage}' "
                                              f"of pipeline '{pipe.name}'")
            status = (result or {}).get("status")
            if status not in ("Approved", "Rejected"):
                raise ValidationException("1 validation error detected: Value at 'result.status' failed to satisfy "
                                          "constraint: Member must satisfy enum value set: [Approved, Rejected]")
            if not token or not _UUID.match(token):
                raise ValidationException("1 validation error detected: Value at 'token' failed to satisfy "
                                          "constraint: Member must satisfy regular expression pattern: "
                                          "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
            run = pipe.approvals.get(token)
            if run is None or run.stage != stage or run.name != action:
                raise InvalidApprovalTokenException(f"The token for the approval action '{action}' in stage "
                                                    f"'{stage}' of pipeline '{pipe.name}' is not valid")
            if run.status in ("Succeeded", "Failed"):
                raise ApprovalAlreadyCompletedException(f"The approval action '{action}' in stage '{stage}' of "
                                                        f"pipeline '{pipe.name}' has already been "
                                                        f"{'approved' if run.status == 'Succeeded' else 'rejected'}")
            if run.status != "InProgress":
                raise InvalidApprovalTokenException(f"The approval request for '{action}' in stage '{stage}' of "
                                                    f"pipeline '{pipe.name}' is no longer valid")
            run.summary = (result or {}).get("summary") or ""
            run.updated_by = caller
            self._end_run(run, "Succeeded" if status == "Approved" else "Failed")
            self._settle(run.execution)
            self._cond.notify_all()
            return run.changed

    def stop(self, account: str, region: str, name: str | None, execution_id: str | None, *, abandon: bool,
             reason: str | None) -> str:
        with self._cond:
            ex = self._execution(account, region, name, execution_id)
            if ex.status == "Stopping" and not abandon:
                raise DuplicatedStopRequestException(f"Execution '{ex.id}' is already being stopped. To stop it "
                                                     "faster, stop and abandon it.")
            if ex.status not in ("InProgress", "Stopping"):
                raise PipelineExecutionNotStoppableException(f"Execution '{ex.id}' is {ex.status} and cannot be "
                                                             "stopped")
            if reason:
                ex.stop_reason = reason
            first = ex.status == "InProgress"
            ex.status = "Stopping"
            ex.updated = _now()
            if first:
                self._emit(ex, PIPELINE_EVENT, "STOPPING")
            if ex.waiting:
                self._unqueue(ex)
                self._finish(ex, "Stopped")
            else:
                if first:
                    ex.pipeline.stage_latest[ex.stage] = (ex.id, "Stopping")
                    self._emit(ex, STAGE_EVENT, "STOPPING", stage=ex.stage)
                for run in ex.runs:
                    if run.status == "InProgress" and (abandon or run.approval):
                        self._end_run(run, "Abandoned")
                self._settle(ex)
            self._cond.notify_all()
            return ex.id

    # ---- how an execution moves ----

    def _enter(self, ex: _Execution, index: int) -> None:
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
        self._emit(ex, STAGE_EVENT, "STARTED", stage=stage)
        self._start_group(ex)

    def _start_group(self, ex: _Execution) -> None:
        pipe = ex.pipeline
        declared = ex.stages[ex.stage_index]
        order = _orders(declared)[ex.group]
        now = _now()
        ex.runs = []
        for action in declared["actions"]:
            if int(action.get("runOrder", 1)) != order:
                continue
            run = _Run(ex, declared["name"], action, str(uuid.uuid4()), now, now)
            if run.approval:
                run.token = str(uuid.uuid4())
                pipe.approvals[run.token] = run
            else:
                run.due = time.monotonic() + self._step
                planned = pipe.fail_next.get(run.stage)
                if planned and planned[0] == run.name:
                    del pipe.fail_next[run.stage]
                    run.fail = planned[1]
            ex.runs.append(run)
            pipe.action_latest[(run.stage, run.name)] = run
            self._emit(ex, ACTION_EVENT, "STARTED", stage=run.stage, run=run)

    def _complete(self, run: _Run) -> None:
        """A timed action ends."""
        ex = run.execution
        if run.fail:
            run.summary = run.fail
            run.external_id = str(uuid.uuid4())
            self._end_run(run, "Failed")
        else:
            if run.category == "Source":
                revision = ex.revisions[run.name]
                run.summary, run.external_id, run.external_url = revision.summary, revision.id, revision.url
                ex.fetched.append(run.name)
            else:
                run.external_id = str(uuid.uuid4())
            for artifact in run.action.get("outputArtifacts") or []:
                ex.artifacts[artifact["name"]] = f"{ex.pipeline.name[:20]}/{artifact['name'][:10]}/" \
                                                 f"{secrets.token_urlsafe(5)[:7]}"
            self._end_run(run, "Succeeded")
        self._settle(ex)

    def _end_run(self, run: _Run, status: str) -> None:
        run.status, run.changed, run.due = status, _now(), None
        run.execution.updated = run.changed
        self._emit(run.execution, ACTION_EVENT, _EVENT_STATE[status], stage=run.stage, run=run)

    def _settle(self, ex: _Execution) -> None:
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
        elif ex.group + 1 < len(_orders(ex.stages[ex.stage_index])):
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

    def _close_stage(self, ex: _Execution, status: str) -> None:
        pipe = ex.pipeline
        pipe.stage_latest[ex.stage] = (ex.id, status)
        self._emit(ex, STAGE_EVENT, _EVENT_STATE[status], stage=ex.stage)
        if pipe.occupant.get(ex.stage) == ex.id:
            del pipe.occupant[ex.stage]

    def _admit(self, pipe: _Pipeline, stage: str) -> None:
        queue = pipe.queue.get(stage) or []
        while queue and stage not in pipe.occupant:
            nxt = pipe.executions.get(queue.pop(0))
            if nxt is not None and nxt.status == "InProgress" and nxt.waiting:
                self._enter(nxt, nxt.stage_index)

    def _unqueue(self, ex: _Execution) -> None:
        queue = ex.pipeline.queue.get(ex.stage) or []
        if ex.id in queue:
            queue.remove(ex.id)
        ex.waiting = False

    def _supersede(self, old: _Execution) -> None:
        if old.waiting:
            self._unqueue(old)
        else:  # waiting at a Manual approval inside the stage: the newer execution takes the stage
            for run in old.runs:
                if run.status == "InProgress":
                    self._end_run(run, "Abandoned")
            if old.pipeline.occupant.get(old.stage) == old.id:
                del old.pipeline.occupant[old.stage]
        self._finish(old, "Superseded")

    def _finish(self, ex: _Execution, status: str, summary: str | None = None) -> None:
        ex.status, ex.updated = status, _now()
        ex.waiting = False
        if status == "Stopped" and ex.stop_reason:
            ex.summary = ex.stop_reason
        elif summary:
            ex.summary = summary
        self._emit(ex, PIPELINE_EVENT, _EVENT_STATE[status])

    # ---- the ticker ----

    def _ensure_ticker(self) -> None:
        if self._ticker is None or not self._ticker.is_alive():
            self._ticker = threading.Thread(target=self._tick_forever, name="localworld-codepipeline", daemon=True)
            self._ticker.start()

    def _timed_runs(self) -> list[_Run]:
        return [run for pipe in self._pipelines.values() for ex in pipe.executions.values()
                if ex.status in ("InProgress", "Stopping") for run in ex.runs
                if run.status == "InProgress" and run.due is not None]

    def _next_deadline(self) -> float | None:
        return min((run.due for run in self._timed_runs()), default=None)  # type: ignore[type-var]

    def _tick_forever(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                due = sorted((r for r in self._timed_runs() if r.due <= now), key=lambda r: r.due)  # type: ignore
                for run in due:
                    if run.status != "InProgress" or run.due is None:
                        continue  # abandoned meanwhile
                    try:
                        self._complete(run)
                    except Exception:  # never let one pipeline stop every other
                        log.exception("local CodePipeline: completing %s/%s failed", run.stage, run.name)
                        run.due = None
                if due:
                    self._cond.notify_all()
                deadline = self._next_deadline()
                self._cond.wait(None if deadline is None else max(deadline - time.monotonic(), 0.0))

    # ---- events ----

    def _emit(self, ex: _Execution, detail_type: str, state: str, *, stage: str | None = None,
              run: _Run | None = None) -> None:
        pipe = ex.pipeline
        detail: dict[str, Any] = {"pipeline": pipe.name, "execution-id": ex.id, "start-time": _iso(ex.started)}
        if stage is not None:
            detail["stage"] = stage
        if run is not None:
            kind = run.action["actionTypeId"]
            detail.update({"action": run.name, "region": pipe.region,
                           "type": {"owner": kind["owner"], "provider": kind["provider"], "category": kind["category"],
                                    "version": kind["version"]}})
            if state == "STARTED" and run.action.get("inputArtifacts"):
                detail["input-artifacts"] = self._artifacts(ex, run.action["inputArtifacts"])
            if state == "SUCCEEDED" and run.action.get("outputArtifacts"):
                detail["output-artifacts"] = self._artifacts(ex, run.action["outputArtifacts"])
            if state in ("SUCCEEDED", "FAILED"):
                result = {"external-execution-id": run.external_id, "external-execution-summary": run.summary,
                          "external-execution-url": run.external_url}
                if state == "FAILED":
                    result["error-code"] = "JobFailed"
                detail["execution-result"] = {k: v for k, v in result.items() if v}
        detail.update({"state": state, "version": float(ex.version), "pipeline-execution-attempt": 1.0,
                       "execution-trigger": {"trigger-type": ex.trigger["triggerType"],
                                             "trigger-detail": ex.trigger.get("triggerDetail", "")}})
        entry = {"Source": "aws.codepipeline", "DetailType": detail_type, "Detail": json.dumps(detail),
                 "Resources": [pipe.arn], "Time": time.time()}
        event_id = None
        from moto.events.models import events_backends

        for attempt in range(3):
            try:
                event_id = events_backends[pipe.account][pipe.region].put_events([entry])[0].get("EventId")
                break
            except RuntimeError:  # a rule added by a concurrent request changed the bus mid-iteration: again
                if attempt == 2:
                    log.exception("local CodePipeline: putting %s %s on the bus failed", detail_type, state)
            except Exception:  # the bus refusing an event must not wedge the pipeline
                log.exception("local CodePipeline: putting %s %s on the bus failed", detail_type, state)
                break
        pipe.journal.append({"id": event_id, "detail-type": detail_type, "detail": detail})

    def _artifacts(self, ex: _Execution, declared: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"name": a["name"], "s3location": {"bucket": ex.artifact_store, "key": ex.artifacts.get(a["name"], "")}}
                for a in declared]

    # ---- views ----

    def _artifact_revisions(self, ex: _Execution) -> list[dict[str, Any]]:
        sources = {a["name"]: a for st in ex.stages for a in st["actions"]}
        answer = []
        for action in ex.fetched:
            revision = ex.revisions[action]
            outputs = sources[action].get("outputArtifacts") or [{"name": action}]
            item = {"name": outputs[0]["name"], "revisionId": revision.id,
                    "revisionChangeIdentifier": revision.change_id, "revisionSummary": revision.summary,
                    "created": _epoch(revision.created), "revisionUrl": revision.url}
            answer.append({k: v for k, v in item.items() if v is not None})
        return answer

    def _summary(self, ex: _Execution) -> dict[str, Any]:
        view: dict[str, Any] = {
            "pipelineExecutionId": ex.id, "status": ex.status, "startTime": _epoch(ex.started),
            "lastUpdateTime": _epoch(ex.updated),
            "sourceRevisions": [{k: v for k, v in {"actionName": action, "revisionId": ex.revisions[action].id,
                                                   "revisionSummary": ex.revisions[action].summary,
                                                   "revisionUrl": ex.revisions[action].url}.items() if v is not None}
                                for action in ex.fetched],
            "trigger": dict(ex.trigger), "executionMode": ex.mode, "executionType": "STANDARD"}
        if ex.summary:
            view["statusSummary"] = ex.summary
        if ex.status in ("Stopping", "Stopped"):
            view["stopTrigger"] = {"reason": ex.stop_reason or ""}
        return view

    def _run_view(self, run: _Run) -> dict[str, Any]:
        view: dict[str, Any] = {"actionExecutionId": run.id, "status": run.status,
                                "lastStatusChange": _epoch(run.changed)}
        if run.summary is not None:
            view["summary"] = run.summary
        if run.token and run.status == "InProgress":
            view["token"] = run.token
        if run.updated_by:
            view["lastUpdatedBy"] = run.updated_by
        if run.external_id:
            view["externalExecutionId"] = run.external_id
        if run.external_url:
            view["externalExecutionUrl"] = run.external_url
        if run.status == "Failed":
            view["errorDetails"] = {"code": "JobFailed", "message": run.summary or "Action failed"}
        return view

    # ---- lookups ----

    def _pipeline(self, account: str, region: str, name: str, moto_pipeline: Any) -> _Pipeline:
        key = (account, region, name)
        pipe = self._pipelines.get(key)
        if pipe is None or pipe.moto is not moto_pipeline:
            pipe = _Pipeline(account, region, name, moto_pipeline.metadata["pipelineArn"], moto_pipeline)
            self._pipelines[key] = pipe
        return pipe

    def _execution(self, account: str, region: str, name: str | None, execution_id: str | None) -> _Execution:
        moto_pipeline = _moto_pipeline(account, region, name)
        pipe = self._pipeline(account, region, moto_pipeline.pipeline["name"], moto_pipeline)
        ex = pipe.executions.get(execution_id or "")
        if ex is None:
            raise PipelineExecutionNotFoundException(f"Execution '{execution_id}' of pipeline '{name}' "
                                                     "was not found")
        return ex

    def _last_fetched(self, pipe: _Pipeline, action: str) -> _Revision | None:
        for ex in reversed(pipe.executions.values()):
            if action in ex.fetched:
                return ex.revisions[action]
        return None

    def _variables(self, declaration: dict[str, Any], given: list[dict]) -> list[dict[str, str]]:
        declared = {v["name"]: v for v in declaration.get("variables") or []}
        values = {}
        for variable in given:
            if variable.get("name") not in declared:
                raise ValidationException(f"Variable '{variable.get('name')}' is not defined in pipeline "
                                          f"'{declaration['name']}'")
            values[variable["name"]] = variable.get("value", "")
        return [{"name": name, "resolvedValue": values.get(name, spec.get("defaultValue", ""))}
                for name, spec in declared.items()]

    def _pins(self, pipe: _Pipeline, sources: dict[str, dict], overrides: list[dict]) -> dict[str, _Revision]:
        pins: dict[str, _Revision] = {}
        actions = {a["name"]: a for st in pipe.moto.pipeline["stages"] for a in st["actions"]}
        for override in overrides:
            action = override.get("actionName")
            if action in pins:
                raise ValidationException(f"Source action '{action}' appears more than once in sourceRevisions")
            if action not in actions:
                raise ValidationException(f"Action '{action}' in sourceRevisions was not found in pipeline "
                                          f"'{pipe.name}'")
            if action not in sources:
                raise ValidationException(f"Action '{action}' in sourceRevisions is not a source action of "
                                          f"pipeline '{pipe.name}'")
            provider = sources[action]["actionTypeId"]["provider"]
            kind, value = override.get("revisionType"), override.get("revisionValue") or ""
            if kind not in REVISION_TYPES.get(provider, {kind}):
                raise ValidationException(f"Revision type {kind} is not supported by source action '{action}' "
                                          f"({provider})")
            if kind == "COMMIT_ID":
                pins[action] = self._commit_revision(pipe, sources[action], value)
            else:
                summary = {"IMAGE_DIGEST": f"Image digest {value}"}.get(kind, f"Object version {value}")
                pins[action] = _Revision(action, kind, value, value, summary, None, None)
        return pins

    def _commit_revision(self, pipe: _Pipeline, action: dict[str, Any], commit_id: str) -> _Revision:
        repository = _repository(action)
        commit = self._commits.get((repository, commit_id))
        message = commit.message if commit else ""
        provider = action["actionTypeId"]["provider"]
        region = pipe.region
        if provider == "CodeStarSourceConnection":
            summary = json.dumps({"ProviderType": "GitHub", "CommitMessage": message}, separators=(",", ":"))
            url = (f"https://{region}.console.aws.amazon.com/codesuite/settings/connections/redirect?connectionArn="
                   f"{_connection(action, pipe.account, region)}&referenceType=COMMIT&FullRepositoryId={repository}"
                   f"&Commit={commit_id}")
        elif provider == "CodeCommit":
            summary = message
            url = (f"https://{region}.console.aws.amazon.com/codesuite/codecommit/repositories/{repository}/commit/"
                   f"{commit_id}?region={region}")
        else:
            summary, url = message, f"https://github.com/{repository}/commit/{commit_id}"
        return _Revision(action["name"], "COMMIT_ID", commit_id, commit_id, summary,
                         commit.created if commit else None, url)

    def _initial(self, pipe: _Pipeline, action: dict[str, Any]) -> _Revision:
        """The branch head of a source nobody pushed to yet: a stable made-up first commit."""
        provider = action["actionTypeId"]["provider"]
        if provider in COMMIT_PROVIDERS:
            repository = _repository(action)
            commit_id = hashlib.sha1(f"{repository}:initial".encode()).hexdigest()  # noqa: S324 - an id, not security
            if (repository, commit_id) not in self._commits:
                self._commits[(repository, commit_id)] = _Commit(commit_id, "Initial commit", "local-world",
                                                                 _aware(pipe.moto._created))
            return self._commit_revision(pipe, action, commit_id)
        if provider == "ECR":
            digest = "sha256:" + hashlib.sha256(pipe.name.encode()).hexdigest()
            return _Revision(action["name"], "IMAGE_DIGEST", digest, digest, f"Image digest {digest}", None, None)
        version = hashlib.md5(pipe.name.encode()).hexdigest()  # noqa: S324 - an id, not security
        return _Revision(action["name"], "S3_OBJECT_VERSION_ID", version, version, f"Object version {version}",
                         None, None)


ENGINE = Engine()


# ---- moto's handlers ----

def _caller(response: Any) -> str:
    """The ARN of whoever signed the request, as sts:GetCallerIdentity would say."""
    try:
        from moto.sts.models import sts_backends

        return sts_backends[response.current_account][response.partition].get_caller_identity(
            response.get_access_key(), response.region)[1]
    except Exception:  # noqa: BLE001 - unknown credentials: say the account, as a root caller
        return f"arn:aws:iam::{response.current_account}:root"


def _start_pipeline_execution(self: Any) -> str:
    execution_id = ENGINE.start(
        self.current_account, self.region, self._get_param("name"),
        source_revisions=self._get_param("sourceRevisions"), variables=self._get_param("variables"),
        token=self._get_param("clientRequestToken"),
        trigger={"triggerType": "StartPipelineExecution", "triggerDetail": _caller(self)})
    return json.dumps({"pipelineExecutionId": execution_id})


def _get_pipeline_execution(self: Any) -> str:
    return json.dumps({"pipelineExecution": ENGINE.get_execution(
        self.current_account, self.region, self._get_param("pipelineName"), self._get_param("pipelineExecutionId"))})


def _list_pipeline_executions(self: Any) -> str:
    return json.dumps(ENGINE.list_executions(
        self.current_account, self.region, self._get_param("pipelineName"), self._get_param("maxResults"),
        self._get_param("nextToken"), self._get_param("filter")))


def _get_pipeline_state(self: Any) -> str:
    return json.dumps(ENGINE.state(self.current_account, self.region, self._get_param("name")))


def _put_approval_result(self: Any) -> str:
    approved_at = ENGINE.put_approval(
        self.current_account, self.region, self._get_param("pipelineName"), self._get_param("stageName"),
        self._get_param("actionName"), self._get_param("result"), self._get_param("token"), _caller(self))
    return json.dumps({"approvedAt": _epoch(approved_at)})


def _stop_pipeline_execution(self: Any) -> str:
    execution_id = ENGINE.stop(self.current_account, self.region, self._get_param("pipelineName"),
                               self._get_param("pipelineExecutionId"), abandon=bool(self._get_param("abandon")),
                               reason=self._get_param("reason"))
    return json.dumps({"pipelineExecutionId": execution_id})


_HANDLERS = {
    "start_pipeline_execution": _start_pipeline_execution,
    "get_pipeline_execution": _get_pipeline_execution,
    "list_pipeline_executions": _list_pipeline_executions,
    "get_pipeline_state": _get_pipeline_state,
    "put_approval_result": _put_approval_result,
    "stop_pipeline_execution": _stop_pipeline_execution,
}
_install_lock = threading.Lock()


def install() -> None:
    """Run pipeline executions in this process's moto (idempotent): handlers on moto's CodePipelineResponse,
    DeletePipeline forgetting executions, and moto's reset clearing them."""
    from moto.codepipeline.responses import CodePipelineResponse
    from moto.moto_api._internal.models import MotoAPIBackend

    with _install_lock:
        if getattr(CodePipelineResponse, "_switchboard_executions", False):
            return
        for name, handler in _HANDLERS.items():
            setattr(CodePipelineResponse, name, handler)

        moto_delete = CodePipelineResponse.delete_pipeline

        def delete_pipeline(self: Any) -> Any:
            answer = moto_delete(self)
            ENGINE.forget(self.current_account, self.region, self._get_param("name"))
            return answer

        CodePipelineResponse.delete_pipeline = delete_pipeline  # type: ignore[method-assign]

        moto_reset = MotoAPIBackend.reset

        def reset(self: Any) -> None:
            ENGINE.reset()  # first: it takes the engine's lock, never moto's backend lock while holding it
            moto_reset(self)

        MotoAPIBackend.reset = reset  # type: ignore[method-assign]
        CodePipelineResponse._switchboard_executions = True  # type: ignore[attr-defined]


# ---- the control API ----

def push(account_id: str, region: str, pipeline: str, *, commit_id: str, message: str, author: str,
         created: datetime | None = None, action: str | None = None) -> str:
    """A commit lands on the pipeline's source branch: it becomes the head and an execution starts (trigger
    Webhook, as from a CodeStar connection). Returns the execution id."""
    return ENGINE.push(account_id, region, pipeline, commit_id=commit_id, message=message, author=author,
                       created=created, action=action)


def fail_next(account_id: str, region: str, pipeline: str, stage: str, *, action: str | None = None,
              summary: str | None = None) -> None:
    """The next execution to run ``stage`` fails at its Build/Deploy/Test/Invoke action (or ``action``)."""
    ENGINE.fail_next(account_id, region, pipeline, stage, action=action, summary=summary)


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
