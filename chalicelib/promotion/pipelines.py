"""CodePipeline, thinly: read what an execution built, start one pinned to a revision, answer a Manual Approval.

Only this module calls CodePipeline. Every call acts in this account (the client comes from ``chalicelib.aws``).
CodePipeline reports a revision's id, commit message (``revisionSummary``, JSON for CodeStar connections) and
commit URL, but not its author: the author is taken from the execution's ``COMMIT_AUTHOR`` variable when the
pipeline declares one (V2 pipelines; the source step sets it), else it is unknown and four eyes covers the
requester only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib import aws
from chalicelib.promotion.policy import Deploy
from chalicelib.promotion.store import Revision

AUTHOR_VARIABLE = "COMMIT_AUTHOR"


def _client() -> Any:
    return aws.client("codepipeline")


def _summary(text: str | None) -> str | None:
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict):
        return parsed.get("CommitMessage") or parsed.get("commitMessage") or text
    return text


def _aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


@dataclass(frozen=True)
class Execution:
    id: str
    status: str  # InProgress | Succeeded | Failed | Stopped | Stopping | Superseded | Cancelled
    revision: Revision | None


class NotFound(LookupError):
    """CodePipeline does not know the pipeline or the execution."""


def execution(pipeline: str, execution_id: str, revision_type: str = "COMMIT_ID") -> Execution:
    client = _client()
    try:
        found = client.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution_id)
    except (client.exceptions.PipelineExecutionNotFoundException, client.exceptions.PipelineNotFoundException) as exc:
        raise NotFound(f"{pipeline} has no execution {execution_id} ({exc.response['Error']['Code']})") from None
    ex = found["pipelineExecution"]
    author = next((v.get("resolvedValue") for v in ex.get("variables", []) if v.get("name") == AUTHOR_VARIABLE),
                  None)
    revision = None
    if ex.get("artifactRevisions"):
        art = ex["artifactRevisions"][0]
        revision = Revision(id=art["revisionId"], type=revision_type, name=art.get("name"),
                            summary=_summary(art.get("revisionSummary")), url=art.get("revisionUrl"),
                            committed_at=_aware(art.get("created")), author=author or None)
    return Execution(execution_id, ex["status"], revision)


def find_succeeded(pipeline: str, wanted: str | None, revision_type: str = "COMMIT_ID",
                   limit: int = 50) -> tuple[Execution, datetime] | None:
    """The newest succeeded execution (``wanted`` None), or the one whose execution id or revision id starts
    with ``wanted`` (at least 7 characters), with when it finished."""
    pages = _client().get_paginator("list_pipeline_executions").paginate(
        pipelineName=pipeline, PaginationConfig={"MaxItems": limit})
    for page in pages:
        for summary in page.get("pipelineExecutionSummaries", []):
            if summary.get("status") != "Succeeded":
                continue
            ids = [summary["pipelineExecutionId"]] + [r.get("revisionId", "") for r in
                                                      summary.get("sourceRevisions", [])]
            if wanted is None or any(i.startswith(wanted) for i in ids if i):
                done = _aware(summary.get("lastUpdateTime")) or datetime.now(UTC)
                return execution(pipeline, summary["pipelineExecutionId"], revision_type), done
    return None


def start_pinned(pipeline: str, deploy: Deploy, revision: Revision, token: str) -> str:
    """Start ``pipeline`` with its source pinned to ``revision`` (the same request token starts it once)."""
    answer = _client().start_pipeline_execution(
        name=pipeline, clientRequestToken=token[:128],
        sourceRevisions=[{"actionName": deploy.source_action, "revisionType": str(deploy.revision_type),
                          "revisionValue": revision.id}])
    return answer["pipelineExecutionId"]


@dataclass(frozen=True)
class Waiting:
    execution_id: str
    token: str


def waiting_approval(pipeline: str, stage: str, action: str) -> Waiting | None:
    """The execution waiting at the Manual Approval action, with its token (None: nothing waits there)."""
    state = _client().get_pipeline_state(name=pipeline)
    for stage_state in state.get("stageStates", []):
        if stage_state.get("stageName") != stage:
            continue
        latest = stage_state.get("latestExecution") or {}
        for action_state in stage_state.get("actionStates", []):
            found = action_state.get("latestExecution") or {}
            if (action_state.get("actionName") == action and found.get("status") == "InProgress"
                    and found.get("token") and latest.get("pipelineExecutionId")):
                return Waiting(latest["pipelineExecutionId"], found["token"])
    return None


def answer_approval(pipeline: str, stage: str, action: str, token: str, *, approved: bool, summary: str) -> None:
    _client().put_approval_result(
        pipelineName=pipeline, stageName=stage, actionName=action, token=token,
        result={"summary": summary[:512], "status": "Approved" if approved else "Rejected"})


def answer_once(pipeline: str, stage: str, action: str, execution_id: str, token: str, *, approved: bool,
                summary: str) -> bool:
    """Answer the approval ``token`` of ``execution_id`` unless it is answered already: GetPipelineState shows a
    token only while its action waits, so an answer given before (by us before a crash, or by a person) is seen
    there, and CodePipeline's ApprovalAlreadyCompletedException says the same. True when this call answered it."""
    waiting = waiting_approval(pipeline, stage, action)
    if waiting is None or waiting.token != token or waiting.execution_id != execution_id:
        return False
    client = _client()
    try:
        answer_approval(pipeline, stage, action, token, approved=approved, summary=summary)
    except client.exceptions.ApprovalAlreadyCompletedException:
        return False
    return True
