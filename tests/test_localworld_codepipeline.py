"""CodePipeline executions emulated in the local world (localworld/codepipeline/), through boto3 over HTTP
against the session's moto server, as promotion calls them."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from localworld import codepipeline, delivery, estate
from localworld.accounts import load_accounts
from localworld.emulator import assume, session_for

REGION = "eu-west-1"
STEP = 0.02


def _declaration(name: str, role_arn: str, *, approval: bool = False, gate_deploy: bool = False) -> dict[str, Any]:
    """Source → Build → [Prod: ApproveProd (→ Deploy when gate_deploy)] → Deploy."""

    def action(name: str, category: str, provider: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "actionTypeId": {"category": category, "owner": "AWS", "provider": provider,
                                               "version": "1"}, **extra}

    stages = [
        {"name": "Source", "actions": [action("Source", "Source", "CodeStarSourceConnection",
                                              outputArtifacts=[{"name": "SourceArtifact"}],
                                              configuration={"FullRepositoryId": "acme/app", "BranchName": "main"})]},
        {"name": "Build", "actions": [action("Build", "Build", "CodeBuild", inputArtifacts=[{"name": "SourceArtifact"}],
                                             outputArtifacts=[{"name": "BuildArtifact"}])]},
    ]
    if approval:
        gate = [action("ApproveProd", "Approval", "Manual", runOrder=1)]
        if gate_deploy:
            gate.append(action("Release", "Deploy", "ECS", runOrder=2, inputArtifacts=[{"name": "BuildArtifact"}]))
        stages.append({"name": "Prod", "actions": gate})
    stages.append({"name": "Deploy", "actions": [action("Deploy", "Deploy", "ECS",
                                                        inputArtifacts=[{"name": "BuildArtifact"}])]})
    return {"name": name, "roleArn": role_arn, "artifactStore": {"type": "S3", "location": "artifacts"},
            "stages": stages}


@pytest.fixture
def cp(aws):
    before = codepipeline.step_seconds()
    codepipeline.set_step_seconds(STEP)
    client = boto3.client("codepipeline", endpoint_url=aws.url, region_name=REGION)
    iam = boto3.client("iam", endpoint_url=aws.url, region_name=REGION)
    role = iam.create_role(RoleName="codepipeline", AssumeRolePolicyDocument=estate.TRUST_CODEPIPELINE)["Role"]["Arn"]
    account = boto3.client("sts", endpoint_url=aws.url, region_name=REGION).get_caller_identity()["Account"]

    def make(name: str, **kwargs: Any) -> str:
        client.create_pipeline(pipeline=_declaration(name, role, **kwargs))
        return name

    def push(pipeline: str, commit_id: str, message: str = "a change", created: datetime | None = None) -> str:
        return codepipeline.push(account, REGION, pipeline, commit_id=commit_id, message=message, author="dave",
                                 created=created)

    def wait(pipeline: str, execution_id: str, statuses: Any = codepipeline.TERMINAL) -> str:
        return codepipeline.wait_for(account, REGION, pipeline, execution_id, statuses, timeout=10)

    def approval(pipeline: str) -> tuple[str, str]:
        return codepipeline.wait_for_approval(account, REGION, pipeline, "Prod", "ApproveProd", timeout=10)

    yield SimpleNamespace(client=client, role=role, account=account, url=aws.url, make=make, push=push, wait=wait,
                          approval=approval)
    codepipeline.set_step_seconds(before)


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return excinfo.value.response["Error"]["Code"]


def _eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _stage(state: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in state["stageStates"] if s["stageName"] == name)


def _action(state: dict[str, Any], stage: str, action: str) -> dict[str, Any]:
    return next(a for a in _stage(state, stage)["actionStates"] if a["actionName"] == action)


def _shape(events: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None, str]]:
    return [(e["detail-type"].split()[1], e["detail"].get("stage"), e["detail"].get("action"), e["detail"]["state"])
            for e in events]


# ---- starting, reading, listing ----

def test_pinned_start_runs_every_stage_and_reports_the_pinned_commit(cp):
    cp.make("app-stage")
    committed = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    first = cp.push("app-stage", "a" * 40, "Add the thing", created=committed)
    assert cp.wait("app-stage", first) == "Succeeded"
    assert cp.wait("app-stage", cp.push("app-stage", "b" * 40, "Newer head")) == "Succeeded"

    started = cp.client.start_pipeline_execution(name="app-stage", sourceRevisions=[
        {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": "a" * 40}])["pipelineExecutionId"]
    assert cp.wait("app-stage", started) == "Succeeded"

    ex = cp.client.get_pipeline_execution(pipelineName="app-stage", pipelineExecutionId=started)["pipelineExecution"]
    assert ex["pipelineName"] == "app-stage" and ex["pipelineVersion"] == 1 and ex["executionMode"] == "SUPERSEDED"
    assert ex["trigger"]["triggerType"] == "StartPipelineExecution" and ex["trigger"]["triggerDetail"]
    [revision] = ex["artifactRevisions"]
    assert revision["name"] == "SourceArtifact" and revision["revisionId"] == "a" * 40
    assert json.loads(revision["revisionSummary"]) == {"ProviderType": "GitHub", "CommitMessage": "Add the thing"}
    assert revision["created"] == committed
    assert "FullRepositoryId=acme/app" in revision["revisionUrl"] and revision["revisionUrl"].endswith("a" * 40)

    unpinned = cp.client.start_pipeline_execution(name="app-stage")["pipelineExecutionId"]
    assert cp.wait("app-stage", unpinned) == "Succeeded"
    ex = cp.client.get_pipeline_execution(pipelineName="app-stage", pipelineExecutionId=unpinned)["pipelineExecution"]
    assert ex["artifactRevisions"][0]["revisionId"] == "b" * 40  # the head


def test_a_client_request_token_starts_one_execution(cp):
    cp.make("app-stage")
    first = cp.client.start_pipeline_execution(name="app-stage", clientRequestToken="promote-web-42")
    again = cp.client.start_pipeline_execution(name="app-stage", clientRequestToken="promote-web-42")
    assert first["pipelineExecutionId"] == again["pipelineExecutionId"]
    assert len(cp.client.list_pipeline_executions(pipelineName="app-stage")["pipelineExecutionSummaries"]) == 1
    with pytest.raises(ClientError) as bad:
        cp.client.start_pipeline_execution(name="app-stage", clientRequestToken="promote:web#42")
    assert _error(bad) == "ValidationException"


def test_list_is_newest_first_and_pages(cp):
    cp.make("app-stage")
    ids = []
    for n in range(3):
        ids.append(cp.push("app-stage", f"{n}" * 40, f"change {n}"))
        cp.wait("app-stage", ids[-1])
    summaries = cp.client.list_pipeline_executions(pipelineName="app-stage")["pipelineExecutionSummaries"]
    assert [s["pipelineExecutionId"] for s in summaries] == ids[::-1]
    assert [s["status"] for s in summaries] == ["Succeeded"] * 3
    newest = summaries[0]
    assert newest["sourceRevisions"] == [{
        "actionName": "Source", "revisionId": "2" * 40, "revisionUrl": newest["sourceRevisions"][0]["revisionUrl"],
        "revisionSummary": '{"ProviderType":"GitHub","CommitMessage":"change 2"}'}]
    assert newest["trigger"]["triggerType"] == "Webhook" and newest["executionMode"] == "SUPERSEDED"
    assert newest["lastUpdateTime"] >= newest["startTime"]

    page = cp.client.list_pipeline_executions(pipelineName="app-stage", maxResults=2)
    assert [s["pipelineExecutionId"] for s in page["pipelineExecutionSummaries"]] == ids[:0:-1]
    rest = cp.client.list_pipeline_executions(pipelineName="app-stage", maxResults=2, nextToken=page["nextToken"])
    assert [s["pipelineExecutionId"] for s in rest["pipelineExecutionSummaries"]] == ids[:1]
    assert "nextToken" not in rest
    paged = [s["pipelineExecutionId"] for p in cp.client.get_paginator("list_pipeline_executions").paginate(
        pipelineName="app-stage", PaginationConfig={"PageSize": 1}) for s in p["pipelineExecutionSummaries"]]
    assert paged == ids[::-1]
    with pytest.raises(ClientError) as bad:
        cp.client.list_pipeline_executions(pipelineName="app-stage", nextToken="nonsense")
    assert _error(bad) == "InvalidNextTokenException"


def test_unknown_pipelines_executions_and_source_actions_are_refused(cp):
    cp.make("app-stage")
    calls = [lambda: cp.client.start_pipeline_execution(name="nope"),
             lambda: cp.client.get_pipeline_execution(pipelineName="nope", pipelineExecutionId=str(uuid.uuid4())),
             lambda: cp.client.list_pipeline_executions(pipelineName="nope"),
             lambda: cp.client.get_pipeline_state(name="nope")]
    for call in calls:
        with pytest.raises(ClientError) as missing:
            call()
        assert _error(missing) == "PipelineNotFoundException"
    with pytest.raises(ClientError) as missing:
        cp.client.get_pipeline_execution(pipelineName="app-stage", pipelineExecutionId=str(uuid.uuid4()))
    assert _error(missing) == "PipelineExecutionNotFoundException"
    for revision in ({"actionName": "Build", "revisionType": "COMMIT_ID", "revisionValue": "a" * 40},
                     {"actionName": "Elsewhere", "revisionType": "COMMIT_ID", "revisionValue": "a" * 40},
                     {"actionName": "Source", "revisionType": "IMAGE_DIGEST", "revisionValue": "sha256:00"}):
        with pytest.raises(ClientError) as invalid:
            cp.client.start_pipeline_execution(name="app-stage", sourceRevisions=[revision])
        assert _error(invalid) == "ValidationException", revision
    assert cp.client.list_pipeline_executions(pipelineName="app-stage")["pipelineExecutionSummaries"] == []


# ---- events ----

def test_every_transition_reaches_a_rule_target_in_order(cp):
    cp.make("app-stage")
    sqs = boto3.client("sqs", endpoint_url=cp.url, region_name=REGION)
    events = boto3.client("events", endpoint_url=cp.url, region_name=REGION)
    queue = sqs.create_queue(QueueName="pipeline-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="pipeline-events", State="ENABLED", EventPattern=json.dumps(
        {"source": ["aws.codepipeline"], "detail": {"pipeline": ["app-stage"]}}))
    events.put_targets(Rule="pipeline-events", Targets=[{"Id": "q", "Arn": arn, "InputTransformer": {
        "InputPathsMap": {}, "InputTemplate": delivery.INPUT_TEMPLATE}}])  # the whole event, as the world routes

    execution_id = cp.push("app-stage", "c" * 40)
    assert cp.wait("app-stage", execution_id) == "Succeeded"
    received: list[dict[str, Any]] = []

    def drain() -> bool:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return len(received) >= 14

    assert _eventually(drain)
    assert _shape(received) == [
        ("Pipeline", None, None, "STARTED"),
        ("Stage", "Source", None, "STARTED"), ("Action", "Source", "Source", "STARTED"),
        ("Action", "Source", "Source", "SUCCEEDED"), ("Stage", "Source", None, "SUCCEEDED"),
        ("Stage", "Build", None, "STARTED"), ("Action", "Build", "Build", "STARTED"),
        ("Action", "Build", "Build", "SUCCEEDED"), ("Stage", "Build", None, "SUCCEEDED"),
        ("Stage", "Deploy", None, "STARTED"), ("Action", "Deploy", "Deploy", "STARTED"),
        ("Action", "Deploy", "Deploy", "SUCCEEDED"), ("Stage", "Deploy", None, "SUCCEEDED"),
        ("Pipeline", None, None, "SUCCEEDED")]
    pipeline_arn = cp.client.get_pipeline(name="app-stage")["metadata"]["pipelineArn"]
    for event in received:
        assert event["source"] == "aws.codepipeline" and event["resources"] == [pipeline_arn]
        assert event["account"] == cp.account and event["region"] == REGION
        detail = event["detail"]
        assert detail["pipeline"] == "app-stage" and detail["execution-id"] == execution_id
        assert detail["version"] == 1.0 and detail["pipeline-execution-attempt"] == 1.0
        assert detail["execution-trigger"]["trigger-type"] == "Webhook"
    build = next(e["detail"] for e in received if e["detail"].get("action") == "Build")
    assert build["type"] == {"owner": "AWS", "provider": "CodeBuild", "category": "Build", "version": "1"}
    assert build["region"] == REGION and build["input-artifacts"][0]["name"] == "SourceArtifact"
    source_done = received[3]["detail"]
    assert source_done["execution-result"]["external-execution-id"] == "c" * 40
    assert [e["id"] for e in received] == [e["id"] for e in codepipeline.events(cp.account, REGION, "app-stage")]

    # what the intake's typed model accepts (chalicelib.intake.events)
    from chalicelib.intake.events import CodePipelineEvent

    for event in received:
        CodePipelineEvent.model_validate(event)


# ---- approvals ----

def test_approval_waits_for_its_token_and_then_continues(cp):
    cp.make("app-prod", approval=True)
    execution_id = cp.push("app-prod", "d" * 40)
    waiting, token = cp.approval("app-prod")
    assert waiting == execution_id
    codepipeline.wait_idle(timeout=10)
    state = cp.client.get_pipeline_state(name="app-prod")
    assert _stage(state, "Prod")["latestExecution"] == {"pipelineExecutionId": execution_id, "status": "InProgress",
                                                        "type": "STANDARD"}
    assert _action(state, "Prod", "ApproveProd")["latestExecution"]["token"] == token
    assert "latestExecution" not in _stage(state, "Deploy")
    assert cp.client.get_pipeline_execution(pipelineName="app-prod", pipelineExecutionId=execution_id)[
        "pipelineExecution"]["status"] == "InProgress"

    def answer(token: str, status: str = "Approved", stage: str = "Prod", action: str = "ApproveProd") -> Any:
        return cp.client.put_approval_result(pipelineName="app-prod", stageName=stage, actionName=action,
                                             token=token, result={"summary": "ship it", "status": status})

    refusals = [(lambda: answer(str(uuid.uuid4())), "InvalidApprovalTokenException"),
                (lambda: answer("not-a-token"), "ValidationException"),
                (lambda: answer(token, action="Build"), "ActionNotFoundException"),
                (lambda: answer(token, stage="Build", action="Build"), "ActionNotFoundException"),
                (lambda: answer(token, stage="Nowhere"), "StageNotFoundException")]
    for call, code in refusals:
        with pytest.raises(ClientError) as refused:
            call()
        assert _error(refused) == code

    approved = answer(token)
    assert isinstance(approved["approvedAt"], datetime)
    assert cp.wait("app-prod", execution_id) == "Succeeded"
    with pytest.raises(ClientError) as again:
        answer(token, "Rejected")
    assert _error(again) == "ApprovalAlreadyCompletedException"
    done = _action(cp.client.get_pipeline_state(name="app-prod"), "Prod", "ApproveProd")["latestExecution"]
    assert done["status"] == "Succeeded" and done["summary"] == "ship it" and "token" not in done
    assert done["lastUpdatedBy"]


def test_a_rejection_fails_the_execution(cp):
    cp.make("app-prod", approval=True)
    execution_id = cp.push("app-prod", "e" * 40)
    _, token = cp.approval("app-prod")
    cp.client.put_approval_result(pipelineName="app-prod", stageName="Prod", actionName="ApproveProd", token=token,
                                  result={"summary": "not during the sale", "status": "Rejected"})
    assert cp.wait("app-prod", execution_id) == "Failed"
    ex = cp.client.get_pipeline_execution(pipelineName="app-prod", pipelineExecutionId=execution_id)
    assert ex["pipelineExecution"]["statusSummary"] == "not during the sale"
    state = cp.client.get_pipeline_state(name="app-prod")
    assert _stage(state, "Prod")["latestExecution"]["status"] == "Failed"
    assert "latestExecution" not in _stage(state, "Deploy")
    assert _shape(codepipeline.events(cp.account, REGION, "app-prod"))[-4:] == [
        ("Action", "Prod", "ApproveProd", "STARTED"), ("Action", "Prod", "ApproveProd", "FAILED"),
        ("Stage", "Prod", None, "FAILED"), ("Pipeline", None, None, "FAILED")]
    with pytest.raises(ClientError) as again:
        cp.client.put_approval_result(pipelineName="app-prod", stageName="Prod", actionName="ApproveProd",
                                      token=token, result={"summary": "changed my mind", "status": "Approved"})
    assert _error(again) == "ApprovalAlreadyCompletedException"


def test_a_newer_execution_supersedes_one_waiting_at_the_approval(cp):
    cp.make("app-prod", approval=True)
    older = cp.push("app-prod", "1" * 40)
    _, old_token = cp.approval("app-prod")
    newer = cp.push("app-prod", "2" * 40)
    assert cp.wait("app-prod", older) == "Superseded"
    waiting, token = cp.approval("app-prod")
    assert waiting == newer and token != old_token
    with pytest.raises(ClientError) as stale:
        cp.client.put_approval_result(pipelineName="app-prod", stageName="Prod", actionName="ApproveProd",
                                      token=old_token, result={"summary": "ok", "status": "Approved"})
    assert _error(stale) == "InvalidApprovalTokenException"
    assert _stage(cp.client.get_pipeline_state(name="app-prod"), "Prod")["latestExecution"][
        "pipelineExecutionId"] == newer
    shapes = [(e["detail"]["execution-id"], *_shape([e])[0])
              for e in codepipeline.events(cp.account, REGION, "app-prod")]
    assert (older, "Action", "Prod", "ApproveProd", "ABANDONED") in shapes
    assert (older, "Pipeline", None, None, "SUPERSEDED") in shapes
    cp.client.put_approval_result(pipelineName="app-prod", stageName="Prod", actionName="ApproveProd", token=token,
                                  result={"summary": "ok", "status": "Approved"})
    assert cp.wait("app-prod", newer) == "Succeeded"


def test_executions_wait_at_a_busy_stage_and_the_newest_waiting_one_wins(cp):
    cp.make("app-prod", approval=True, gate_deploy=True)  # Prod: ApproveProd, then Release
    holder = cp.push("app-prod", "1" * 40)
    _, token = cp.approval("app-prod")
    codepipeline.set_step_seconds(60)  # the holder's Release, started by the approval, keeps Prod busy
    cp.client.put_approval_result(pipelineName="app-prod", stageName="Prod", actionName="ApproveProd", token=token,
                                  result={"summary": "ok", "status": "Approved"})
    codepipeline.set_step_seconds(STEP)

    def inbound() -> list[str]:
        stage = _stage(cp.client.get_pipeline_state(name="app-prod"), "Prod")
        return [e["pipelineExecutionId"] for e in stage.get("inboundExecutions", [])]

    second = cp.push("app-prod", "2" * 40)
    assert _eventually(lambda: inbound() == [second])
    third = cp.push("app-prod", "3" * 40)
    assert cp.wait("app-prod", second) == "Superseded"
    assert _eventually(lambda: inbound() == [third])
    assert cp.client.get_pipeline_execution(pipelineName="app-prod", pipelineExecutionId=holder)[
        "pipelineExecution"]["status"] == "InProgress"

    # stop and wait: the holder's Release keeps running; a second plain stop is a duplicate; abandon ends it
    cp.client.stop_pipeline_execution(pipelineName="app-prod", pipelineExecutionId=holder, reason="bad build")
    assert cp.wait("app-prod", holder, {"Stopping"}) == "Stopping"
    with pytest.raises(ClientError) as duplicate:
        cp.client.stop_pipeline_execution(pipelineName="app-prod", pipelineExecutionId=holder)
    assert _error(duplicate) == "DuplicatedStopRequestException"
    cp.client.stop_pipeline_execution(pipelineName="app-prod", pipelineExecutionId=holder, abandon=True)
    assert cp.wait("app-prod", holder) == "Stopped"
    stopped = next(s for s in cp.client.list_pipeline_executions(pipelineName="app-prod")["pipelineExecutionSummaries"]
                   if s["pipelineExecutionId"] == holder)
    assert stopped["stopTrigger"] == {"reason": "bad build"}
    with pytest.raises(ClientError) as over:
        cp.client.stop_pipeline_execution(pipelineName="app-prod", pipelineExecutionId=holder)
    assert _error(over) == "PipelineExecutionNotStoppableException"

    waiting, _ = cp.approval("app-prod")  # the stage is free: the waiting execution enters it
    assert waiting == third


# ---- failures ----

def test_fail_next_fails_one_execution_at_that_stage(cp):
    cp.make("app-stage")
    codepipeline.fail_next(cp.account, REGION, "app-stage", "Build", summary="compilation failed")
    failed = cp.push("app-stage", "f" * 40)
    assert cp.wait("app-stage", failed) == "Failed"
    state = cp.client.get_pipeline_state(name="app-stage")
    build = _action(state, "Build", "Build")["latestExecution"]
    assert build["status"] == "Failed" and build["errorDetails"]["message"] == "compilation failed"
    assert _stage(state, "Build")["latestExecution"]["status"] == "Failed"
    assert "latestExecution" not in _stage(state, "Deploy")
    assert _shape(codepipeline.events(cp.account, REGION, "app-stage"))[-3:] == [
        ("Action", "Build", "Build", "FAILED"), ("Stage", "Build", None, "FAILED"),
        ("Pipeline", None, None, "FAILED")]

    fine = cp.push("app-stage", "0" * 40)
    assert cp.wait("app-stage", fine) == "Succeeded"
    with pytest.raises(ValueError):
        codepipeline.fail_next(cp.account, REGION, "app-stage", "Nowhere")


# ---- reset and install ----

def test_moto_reset_clears_executions(cp):
    cp.make("app-stage")
    old = cp.push("app-stage", "9" * 40)
    cp.wait("app-stage", old)
    cp.client.start_pipeline_execution(name="app-stage")
    codepipeline.install()  # idempotent: the handlers stay ours
    from moto.codepipeline.responses import CodePipelineResponse

    assert CodePipelineResponse.start_pipeline_execution is codepipeline.api.start_pipeline_execution

    requests.post(f"{cp.url}/moto-api/reset", timeout=30).raise_for_status()
    assert codepipeline.events(cp.account, REGION, "app-stage") == []
    codepipeline.wait_idle(timeout=1)
    iam = boto3.client("iam", endpoint_url=cp.url, region_name=REGION)
    role = iam.create_role(RoleName="codepipeline", AssumeRolePolicyDocument=estate.TRUST_CODEPIPELINE)["Role"]["Arn"]
    cp.client.create_pipeline(pipeline=_declaration("app-stage", role))
    assert cp.client.list_pipeline_executions(pipelineName="app-stage")["pipelineExecutionSummaries"] == []
    with pytest.raises(ClientError) as gone:
        cp.client.get_pipeline_execution(pipelineName="app-stage", pipelineExecutionId=old)
    assert _error(gone) == "PipelineExecutionNotFoundException"


# ---- the demo estate ----

def test_estate_pipelines_share_the_repository_and_api_prod_asks_for_approval(cp):
    accounts = load_accounts()
    clients, sims = {}, {}
    for name in ("stage", "prod"):
        account = accounts[name]
        session = session_for(assume(cp.url, account.id, account.region), account.region)
        iam = session.client("iam", endpoint_url=cp.url)
        role = iam.create_role(RoleName="codepipeline",
                               AssumeRolePolicyDocument=estate.TRUST_CODEPIPELINE)["Role"]["Arn"]
        clients[name] = session.client("codepipeline", endpoint_url=cp.url)
        sims[name] = estate.Simulator(session, account, cp.url)
        for app in ("web", "api"):
            pipeline = f"{app}-{account.environment}"
            clients[name].create_pipeline(pipeline=estate._pipeline(
                account, app, pipeline, role, ecs=app == "web", approval=estate._approval(account, app, pipeline)))

    def layout(client: Any, name: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
        return [(s["name"], [(a["name"], a["actionTypeId"]["category"], a["actionTypeId"]["provider"])
                             for a in s["actions"]]) for s in client.get_pipeline(name=name)["pipeline"]["stages"]]

    for name, pipeline in (("stage", "web-stage"), ("stage", "api-stage"), ("prod", "web-prod")):
        assert [stage for stage, _ in layout(clients[name], pipeline)] == ["Source", "Build", "Deploy"]
    assert layout(clients["prod"], "api-prod") == [("Source", [("Source", "Source", "CodeStarSourceConnection")]),
                                                   ("Build", [("Build", "Build", "CodeBuild")]),
                                                   ("Prod", [("ApproveProd", "Approval", "Manual")]),
                                                   ("Deploy", [("Deploy", "Deploy", "CodeDeploy")])]

    # a commit pushed to web-stage (acme/web) is known when prod pins it in web-prod: one git host for all
    stage, prod = accounts["stage"], accounts["prod"]
    built, commit_id = sims["stage"].push("web-stage", message="Faster checkout")
    assert codepipeline.wait_for(stage.id, stage.region, "web-stage", built) == "Succeeded"
    pinned = clients["prod"].start_pipeline_execution(name="web-prod", sourceRevisions=[
        {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": commit_id}])["pipelineExecutionId"]
    assert codepipeline.wait_for(prod.id, prod.region, "web-prod", pinned) == "Succeeded"
    [revision] = clients["prod"].get_pipeline_execution(pipelineName="web-prod", pipelineExecutionId=pinned)[
        "pipelineExecution"]["artifactRevisions"]
    assert revision["revisionId"] == commit_id
    assert json.loads(revision["revisionSummary"])["CommitMessage"] == "Faster checkout"

    # api-prod stops at its approval; its events go to prod's bus only
    waiting_for, _ = sims["prod"].push("api-prod", message="New endpoint")
    assert codepipeline.wait_for_approval(prod.id, prod.region, "api-prod", "Prod", "ApproveProd")[0] == waiting_for
    assert codepipeline.events(stage.id, stage.region, "api-prod") == []
