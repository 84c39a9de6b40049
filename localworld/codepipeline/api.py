"""What answers CodePipeline's API calls: moto's handlers, the request checks and errors, and the response shapes.

``install()`` puts the handlers on moto's own ``CodePipelineResponse`` (in the moto server's process) and makes
DeletePipeline and ``/moto-api/reset`` forget executions. ``Api`` does each call over the engine's model, under
its lock; ``push`` and ``fail_next`` are the local world's own controls, which need the same lookups.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from datetime import datetime
from typing import Any

from moto.core.exceptions import JsonRESTError

from localworld.codepipeline import model
from localworld.codepipeline.model import (
    COMMIT_PROVIDERS,
    REVISION_TYPES,
    WORK_CATEGORIES,
    Commit,
    Execution,
    Pipeline,
    Revision,
    Run,
    epoch,
)
from localworld.codepipeline.scheduler import ENGINE, Engine

_TOKEN = re.compile(r"^[a-zA-Z0-9-]+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


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


def _moto_pipeline(account: str, region: str, name: str | None) -> Any:
    from moto.codepipeline.models import codepipeline_backends

    found = codepipeline_backends[account][region].pipelines.get(name or "")
    if found is None:
        raise PipelineNotFoundException(f"Account '{account}' does not have a pipeline with name '{name}'")
    return found


class Api:
    """CodePipeline's calls (and the world's controls) over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- the world's controls ----

    def push(self, account: str, region: str, name: str, *, commit_id: str, message: str, author: str,
             created: datetime | None = None, action: str | None = None) -> str:
        engine = self.engine
        with engine.cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            sources = model.source_actions(moto_pipeline.pipeline)
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
            engine.commits[(model.repository(declared), commit_id)] = Commit(commit_id, message, author,
                                                                             model.aware(created or model.now()))
            pipe = engine.pipeline(account, region, name, moto_pipeline)
            pipe.heads[action] = model.commit_revision(engine.commits, pipe, declared, commit_id)
            if provider == "CodeCommit":
                trigger = {"triggerType": "CloudWatchEvent", "triggerDetail":
                           f"arn:aws:events:{region}:{account}:rule/codepipeline-{name}"}
            else:
                trigger = {"triggerType": "Webhook", "triggerDetail": model.connection(declared, account, region)}
            return self.start(account, region, name, trigger=trigger)

    def fail_next(self, account: str, region: str, name: str, stage: str, *, action: str | None = None,
                  summary: str | None = None) -> None:
        with self.engine.cond:
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
            pipe = self.engine.pipeline(account, region, name, moto_pipeline)
            pipe.fail_next[stage] = (chosen["name"], summary or
                                     f"{kind['provider']} {kind['category'].lower()} failed (local world)")

    # ---- the API ----

    def start(self, account: str, region: str, name: str | None, *, source_revisions: list[dict] | None = None,
              variables: list[dict] | None = None, token: str | None = None,
              trigger: dict[str, str] | None = None) -> str:
        engine = self.engine
        with engine.cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            pipe = engine.pipeline(account, region, moto_pipeline.pipeline["name"], moto_pipeline)
            if token is not None:
                if not (1 <= len(token) <= 128 and _TOKEN.match(token)):
                    raise ValidationException(
                        "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: "
                        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9-]+$")
                if token in pipe.tokens:
                    return pipe.tokens[token]
            declaration = copy.deepcopy(moto_pipeline.pipeline)
            sources = model.source_actions(declaration)
            pins = self._pins(pipe, sources, source_revisions or [])
            now = model.now()
            revisions = {action: pins.get(action) or pipe.heads.get(action)
                         or model.initial_revision(engine.commits, pipe, declared, moto_pipeline._created)
                         for action, declared in sources.items()}
            ex = Execution(pipeline=pipe, id=str(uuid.uuid4()), version=int(declaration.get("version", 1)),
                           stages=declaration["stages"], mode=declaration.get("executionMode") or "SUPERSEDED",
                           trigger=trigger or {"triggerType": "StartPipelineExecution", "triggerDetail": ""},
                           variables=self._variables(declaration, variables or []), revisions=revisions,
                           artifact_store=(declaration.get("artifactStore") or {}).get("location", ""),
                           started=now, updated=now)
            pipe.executions[ex.id] = ex
            if token is not None:
                pipe.tokens[token] = ex.id
            engine.started(ex)
            return ex.id

    def get_execution(self, account: str, region: str, name: str | None, execution_id: str | None) -> dict:
        with self.engine.cond:
            ex = self._execution(account, region, name, execution_id)
            view = {"pipelineName": ex.pipeline.name, "pipelineVersion": ex.version, "pipelineExecutionId": ex.id,
                    "status": ex.status, "artifactRevisions": _artifact_revisions(ex),
                    "variables": copy.deepcopy(ex.variables), "trigger": dict(ex.trigger),
                    "executionMode": ex.mode, "executionType": "STANDARD"}
            if ex.summary:
                view["statusSummary"] = ex.summary
            return view

    def list_executions(self, account: str, region: str, name: str | None, max_results: int | None,
                        next_token: str | None, filters: dict | None) -> dict:
        with self.engine.cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            pipe = self.engine.pipeline(account, region, moto_pipeline.pipeline["name"], moto_pipeline)
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
            answer: dict[str, Any] = {"pipelineExecutionSummaries": [_summary(ex) for ex in page]}
            if start + limit < len(executions):
                answer["nextToken"] = executions[start + limit].id
            return answer

    def state(self, account: str, region: str, name: str | None) -> dict:
        with self.engine.cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            pipe = self.engine.pipeline(account, region, moto_pipeline.pipeline["name"], moto_pipeline)
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
                        head = pipe.last_fetched(action["name"])
                        if head is not None:
                            action_view["currentRevision"] = {"revisionId": head.id, "revisionChangeId":
                                                              head.change_id, "created": epoch(head.created)}
                            if head.url:
                                action_view["revisionUrl"] = head.url
                    if run is not None:
                        action_view["latestExecution"] = _run_view(run)
                    actions.append(action_view)
                view["actionStates"] = actions
                if stage_name in pipe.stage_latest:
                    execution_id, status = pipe.stage_latest[stage_name]
                    view["latestExecution"] = {"pipelineExecutionId": execution_id, "status": status,
                                               "type": "STANDARD"}
                stages.append(view)
            return {"pipelineName": pipe.name, "pipelineVersion": moto_pipeline.pipeline["version"],
                    "stageStates": stages, "created": epoch(moto_pipeline._created),
                    "updated": epoch(moto_pipeline._updated)}

    def put_approval(self, account: str, region: str, name: str | None, stage: str | None, action: str | None,
                     result: dict | None, token: str | None, caller: str) -> datetime:
        engine = self.engine
        with engine.cond:
            moto_pipeline = _moto_pipeline(account, region, name)
            pipe = engine.pipeline(account, region, moto_pipeline.pipeline["name"], moto_pipeline)
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
            engine.machine.decide(run, approved=status == "Approved", summary=(result or {}).get("summary") or "",
                                  by=caller)
            engine.cond.notify_all()
            return run.changed

    def stop(self, account: str, region: str, name: str | None, execution_id: str | None, *, abandon: bool,
             reason: str | None) -> str:
        engine = self.engine
        with engine.cond:
            ex = self._execution(account, region, name, execution_id)
            if ex.status == "Stopping" and not abandon:
                raise DuplicatedStopRequestException(f"Execution '{ex.id}' is already being stopped. To stop it "
                                                     "faster, stop and abandon it.")
            if ex.status not in ("InProgress", "Stopping"):
                raise PipelineExecutionNotStoppableException(f"Execution '{ex.id}' is {ex.status} and cannot be "
                                                             "stopped")
            engine.machine.stop(ex, abandon=abandon, reason=reason)
            engine.cond.notify_all()
            return ex.id

    # ---- lookups and checks ----

    def _execution(self, account: str, region: str, name: str | None, execution_id: str | None) -> Execution:
        moto_pipeline = _moto_pipeline(account, region, name)
        pipe = self.engine.pipeline(account, region, moto_pipeline.pipeline["name"], moto_pipeline)
        ex = pipe.executions.get(execution_id or "")
        if ex is None:
            raise PipelineExecutionNotFoundException(f"Execution '{execution_id}' of pipeline '{name}' "
                                                     "was not found")
        return ex

    @staticmethod
    def _variables(declaration: dict[str, Any], given: list[dict]) -> list[dict[str, str]]:
        declared = {v["name"]: v for v in declaration.get("variables") or []}
        values = {}
        for variable in given:
            if variable.get("name") not in declared:
                raise ValidationException(f"Variable '{variable.get('name')}' is not defined in pipeline "
                                          f"'{declaration['name']}'")
            values[variable["name"]] = variable.get("value", "")
        return [{"name": name, "resolvedValue": values.get(name, spec.get("defaultValue", ""))}
                for name, spec in declared.items()]

    def _pins(self, pipe: Pipeline, sources: dict[str, dict], overrides: list[dict]) -> dict[str, Revision]:
        pins: dict[str, Revision] = {}
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
                pins[action] = model.commit_revision(self.engine.commits, pipe, sources[action], value)
            else:
                summary = {"IMAGE_DIGEST": f"Image digest {value}"}.get(kind, f"Object version {value}")
                pins[action] = Revision(action, kind, value, value, summary, None, None)
        return pins


# ---- response shapes ----

def _artifact_revisions(ex: Execution) -> list[dict[str, Any]]:
    sources = {a["name"]: a for st in ex.stages for a in st["actions"]}
    answer = []
    for action in ex.fetched:
        revision = ex.revisions[action]
        outputs = sources[action].get("outputArtifacts") or [{"name": action}]
        item = {"name": outputs[0]["name"], "revisionId": revision.id,
                "revisionChangeIdentifier": revision.change_id, "revisionSummary": revision.summary,
                "created": epoch(revision.created), "revisionUrl": revision.url}
        answer.append({k: v for k, v in item.items() if v is not None})
    return answer


def _summary(ex: Execution) -> dict[str, Any]:
    view: dict[str, Any] = {
        "pipelineExecutionId": ex.id, "status": ex.status, "startTime": epoch(ex.started),
        "lastUpdateTime": epoch(ex.updated),
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


def _run_view(run: Run) -> dict[str, Any]:
    view: dict[str, Any] = {"actionExecutionId": run.id, "status": run.status,
                            "lastStatusChange": epoch(run.changed)}
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


API = Api(ENGINE)


# ---- moto's handlers ----

def _caller(response: Any) -> str:
    """The ARN of whoever signed the request, as sts:GetCallerIdentity would say."""
    try:
        from moto.sts.models import sts_backends

        return sts_backends[response.current_account][response.partition].get_caller_identity(
            response.get_access_key(), response.region)[1]
    except Exception:  # noqa: BLE001 - unknown credentials: say the account, as a root caller
        return f"arn:aws:iam::{response.current_account}:root"


def start_pipeline_execution(self: Any) -> str:
    execution_id = API.start(
        self.current_account, self.region, self._get_param("name"),
        source_revisions=self._get_param("sourceRevisions"), variables=self._get_param("variables"),
        token=self._get_param("clientRequestToken"),
        trigger={"triggerType": "StartPipelineExecution", "triggerDetail": _caller(self)})
    return json.dumps({"pipelineExecutionId": execution_id})


def get_pipeline_execution(self: Any) -> str:
    return json.dumps({"pipelineExecution": API.get_execution(
        self.current_account, self.region, self._get_param("pipelineName"), self._get_param("pipelineExecutionId"))})


def list_pipeline_executions(self: Any) -> str:
    return json.dumps(API.list_executions(
        self.current_account, self.region, self._get_param("pipelineName"), self._get_param("maxResults"),
        self._get_param("nextToken"), self._get_param("filter")))


def get_pipeline_state(self: Any) -> str:
    return json.dumps(API.state(self.current_account, self.region, self._get_param("name")))


def put_approval_result(self: Any) -> str:
    approved_at = API.put_approval(
        self.current_account, self.region, self._get_param("pipelineName"), self._get_param("stageName"),
        self._get_param("actionName"), self._get_param("result"), self._get_param("token"), _caller(self))
    return json.dumps({"approvedAt": epoch(approved_at)})


def stop_pipeline_execution(self: Any) -> str:
    execution_id = API.stop(self.current_account, self.region, self._get_param("pipelineName"),
                            self._get_param("pipelineExecutionId"), abandon=bool(self._get_param("abandon")),
                            reason=self._get_param("reason"))
    return json.dumps({"pipelineExecutionId": execution_id})


HANDLERS = {
    "start_pipeline_execution": start_pipeline_execution,
    "get_pipeline_execution": get_pipeline_execution,
    "list_pipeline_executions": list_pipeline_executions,
    "get_pipeline_state": get_pipeline_state,
    "put_approval_result": put_approval_result,
    "stop_pipeline_execution": stop_pipeline_execution,
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
        for name, handler in HANDLERS.items():
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
