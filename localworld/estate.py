"""A demo estate laid out like the Gruntwork Reference Architecture, created through moto's real APIs, and
the events such an estate would emit.

moto does not emit EventBridge events for alarm state changes, so ``Simulator`` changes what moto can change
(``set_alarm_state``) and then puts on the account's bus the event AWS would have emitted, built from what moto
describes. Pipelines really run (``localworld.codepipeline``): ``Simulator.push`` lands a commit and the
pipeline's execution emits CodePipeline's own events; ``Simulator.pipeline`` still puts one hand-made event.

Each app's pipeline is Source (a CodeStar connection to ``acme/<app>``, shared by the app's pipelines in every
account) → Build (CodeBuild) → Deploy (ECS for an app with ECS services, else CodeDeploy). A pipeline that
promotion answers by approval (``deploy: {mode: approval, stage, action}`` in the account's policy, and
``api-prod`` in any case) has that stage with a Manual approval action just before Deploy.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

from localworld import codepipeline
from localworld.accounts import Account

TRUST_CODEPIPELINE = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})


def _client(session: boto3.Session, service: str, endpoint_url: str) -> Any:
    return session.client(service, endpoint_url=endpoint_url)


def seed(session: boto3.Session, account: Account, endpoint_url: str) -> list[str]:
    """Create the account's share of the estate; returns a line per resource created."""
    made: list[str] = []
    policy = account.policy
    env = account.environment
    ecs = _client(session, "ecs", endpoint_url)
    asg = _client(session, "autoscaling", endpoint_url)
    ec2 = _client(session, "ec2", endpoint_url)
    cw = _client(session, "cloudwatch", endpoint_url)
    cp = _client(session, "codepipeline", endpoint_url)
    iam = _client(session, "iam", endpoint_url)
    sm = _client(session, "secretsmanager", endpoint_url)

    role_arn = iam.create_role(RoleName="codepipeline", AssumeRolePolicyDocument=TRUST_CODEPIPELINE)["Role"]["Arn"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    template_made = False
    for app_name, app in sorted(policy.apps.items()):
        for ref in app.ecs_services.get(env, ()):
            if ref.account != account.name:
                continue
            ecs.create_cluster(clusterName=ref.cluster)
            ecs.register_task_definition(family=f"{app_name}-{env}", containerDefinitions=[
                {"name": app_name, "image": f"registry.local/{app_name}:stable", "memory": 512}])
            ecs.create_service(cluster=ref.cluster, serviceName=ref.service, desiredCount=2,
                               taskDefinition=f"{app_name}-{env}")
            made.append(f"ecs service {ref.cluster}/{ref.service} (desired 2)")
        for ref in app.asgs.get(env, ()):
            if ref.account != account.name:
                continue
            if not template_made:
                ec2.create_launch_template(LaunchTemplateName="app", LaunchTemplateData={
                    "ImageId": "ami-12c6146b", "InstanceType": "t3.small"})
                template_made = True
            asg.create_auto_scaling_group(AutoScalingGroupName=ref.name, MinSize=1, MaxSize=6, DesiredCapacity=2,
                                          LaunchTemplate={"LaunchTemplateName": "app"},
                                          VPCZoneIdentifier=",".join(subnets))
            made.append(f"auto scaling group {ref.name} (1..6, desired 2)")
        pipe = app.pipelines.get(env)
        if pipe and pipe.account == account.name:
            approval = _approval(account, app_name, pipe.name)
            cp.create_pipeline(pipeline=_pipeline(account, app_name, pipe.name, role_arn,
                                                  ecs=bool(app.ecs_services.get(env)), approval=approval))
            made.append(f"pipeline {pipe.name}" + (f" (approval {approval[0]}/{approval[1]})" if approval else ""))
        for prefix in app.alarm_prefixes:
            for suffix, metric in (("5xx", "HTTPCode_Target_5XX_Count"), ("latency", "TargetResponseTime")):
                name = f"{prefix}{suffix}"
                cw.put_metric_alarm(AlarmName=name, Namespace="AWS/ApplicationELB", MetricName=metric,
                                    Dimensions=[{"Name": "LoadBalancer", "Value": f"app/{app_name}-{env}/0123"}],
                                    Statistic="Sum", Period=60, EvaluationPeriods=3, Threshold=10,
                                    ComparisonOperator="GreaterThanThreshold",
                                    Tags=[{"Key": "severity", "Value": "page" if env == "prod" else "ticket"}])
                made.append(f"alarm {name}")
        if app.pipelines.get(env, None) and app.pipelines[env].account == account.name:
            sm.create_secret(Name=f"{app_name}/db-password", SecretString=json.dumps(
                {"engine": "postgres", "host": f"{app_name}-{env}.db.local", "username": app_name,
                 "password": uuid.uuid4().hex}))
            made.append(f"secret {app_name}/db-password")
    return made


# Pipelines whose promotion is answered at a Manual approval even when the policy does not say so.
DEMO_APPROVALS = {"api-prod": ("Prod", "ApproveProd")}


def _approval(account: Account, app: str, pipeline: str) -> tuple[str, str] | None:
    """(stage, action) of the pipeline's Manual approval, if promotion answers one there."""
    deploy = account.policy.promotion.settings(app).deploy
    if deploy.mode == "approval" and deploy.stage and deploy.action:
        return deploy.stage, deploy.action
    return DEMO_APPROVALS.get(pipeline)


def _pipeline(account: Account, app: str, name: str, role_arn: str, *, ecs: bool,
              approval: tuple[str, str] | None = None) -> dict[str, Any]:
    env = account.environment
    connection = (f"arn:aws:codestar-connections:{account.region}:{account.id}:connection/"
                  f"{uuid.uuid5(uuid.NAMESPACE_URL, f'github.com/acme/{account.id}')}")
    if ecs:
        deploy = {"actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "ECS", "version": "1"},
                  "configuration": {"ClusterName": env, "ServiceName": app, "FileName": "imagedefinitions.json"}}
    else:
        deploy = {"actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CodeDeploy", "version": "1"},
                  "configuration": {"ApplicationName": app, "DeploymentGroupName": f"{app}-{env}"}}
    stages: list[dict[str, Any]] = [
        {"name": "Source", "actions": [{
            "name": "Source", "runOrder": 1,
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection",
                             "version": "1"},
            "outputArtifacts": [{"name": "SourceArtifact"}],
            "configuration": {"ConnectionArn": connection, "FullRepositoryId": f"acme/{app}", "BranchName": "main",
                              "OutputArtifactFormat": "CODE_ZIP"}}]},
        {"name": "Build", "actions": [{
            "name": "Build", "runOrder": 1,
            "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
            "inputArtifacts": [{"name": "SourceArtifact"}], "outputArtifacts": [{"name": "BuildArtifact"}],
            "configuration": {"ProjectName": f"{name}-build"}}]},
    ]
    if approval:
        stage, action = approval
        stages.append({"name": stage, "actions": [{
            "name": action, "runOrder": 1,
            "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
            "configuration": {"CustomData": f"Promote {app} to {env}?"}}]})
    stages.append({"name": "Deploy", "actions": [{
        "name": "Deploy", "runOrder": 1, "inputArtifacts": [{"name": "BuildArtifact"}], **deploy}]})
    return {"name": name, "roleArn": role_arn, "pipelineType": "V2", "executionMode": "SUPERSEDED",
            "artifactStore": {"type": "S3", "location": f"codepipeline-{account.region}-{account.id}"},
            "stages": stages}


class Simulator:
    """Puts on an account's default bus what the estate would emit."""

    def __init__(self, session: boto3.Session, account: Account, endpoint_url: str):
        self.account = account
        self.events = _client(session, "events", endpoint_url)
        self.cloudwatch = _client(session, "cloudwatch", endpoint_url)
        self.codepipeline = _client(session, "codepipeline", endpoint_url)
        self.kms = _client(session, "kms", endpoint_url)

    def put(self, source: str, detail_type: str, detail: Any, resources: list[str] | None = None,
            time: datetime | None = None) -> str:
        entry = {"Source": source, "DetailType": detail_type,
                 "Detail": detail if isinstance(detail, str) else json.dumps(detail),
                 "Resources": resources or [], "Time": time or datetime.now(UTC)}
        answer = self.events.put_events(Entries=[entry])["Entries"][0]
        if "EventId" not in answer:
            raise ValueError(f"the bus refused the event: {answer.get('ErrorCode')}: {answer.get('ErrorMessage')}")
        return answer["EventId"]

    def alarm(self, name: str, state: str, reason: str) -> str:
        before = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        reason_data = json.dumps({"version": "1.0", "queryDate": datetime.now(UTC).isoformat(),
                                  "recentDatapoints": [42.0], "threshold": before["Threshold"]})
        self.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason,
                                        StateReasonData=reason_data)
        after = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        metric = {"id": "m1", "metricStat": {"metric": {
            "namespace": after["Namespace"], "name": after["MetricName"],
            "dimensions": {d["Name"]: d["Value"] for d in after.get("Dimensions", [])}},
            "period": after["Period"], "stat": after["Statistic"]}, "returnData": True}
        detail = {
            "alarmName": name,
            "state": {"value": after["StateValue"], "reason": after["StateReason"], "reasonData": reason_data,
                      "timestamp": _iso(after["StateUpdatedTimestamp"])},
            "previousState": {"value": before["StateValue"], "reason": before.get("StateReason", ""),
                              "timestamp": _iso(before["StateUpdatedTimestamp"])},
            "configuration": {"metrics": [metric], "description": after.get("AlarmDescription", "")},
        }
        return self.put("aws.cloudwatch", "CloudWatch Alarm State Change", detail, [after["AlarmArn"]])

    def pipeline(self, name: str, state: str, execution_id: str | None = None) -> tuple[str, str]:
        meta = self.codepipeline.get_pipeline(name=name)
        execution_id = execution_id or str(uuid.uuid4())
        detail = {"pipeline": name, "execution-id": execution_id, "state": state,
                  "version": float(meta["pipeline"]["version"]), "pipeline-execution-attempt": 1.0,
                  "execution-trigger": {"trigger-type": "StartPipelineExecution", "trigger-detail": "local"}}
        return self.put("aws.codepipeline", "CodePipeline Pipeline Execution State Change", detail,
                        [meta["metadata"]["pipelineArn"]]), execution_id

    def push(self, pipeline: str, *, message: str, author: str = "dev@acme.example", commit_id: str | None = None,
             created: datetime | None = None) -> tuple[str, str]:
        """A commit lands on the pipeline's repository and the pipeline runs (``localworld.codepipeline``, in
        this process's moto). Returns (execution id, commit id)."""
        commit_id = commit_id or secrets.token_hex(20)
        execution_id = codepipeline.push(self.account.id, self.account.region, pipeline, commit_id=commit_id,
                                         message=message, author=author, created=created)
        return execution_id, commit_id

    def to_peer(self, peer_id: str, flow: str, payload: dict[str, Any], *, signed: bool = True) -> str:
        """Put a Switchboard event for a peer as this account's Switchboard does (sealed with its signing key);
        ``signed=False`` is what any other principal of the account could put: no envelope."""
        detail = {"to_account": peer_id, "from_account": self.account.name, "flow": flow, "payload": payload}
        return self.put("switchboard", f"Switchboard {flow}", self.seal(detail) if signed else detail)

    def seal(self, detail: dict[str, Any]) -> dict[str, Any]:
        """Sign a peer event's detail with this account's `alias/switchboard-signing` key (kms:Sign), as
        chalicelib/peering/send.py does."""
        from chalicelib.peering import envelope

        def sign(digest: bytes) -> tuple[bytes, str]:
            answer = self.kms.sign(KeyId="alias/switchboard-signing", Message=digest, MessageType="RAW",
                                   SigningAlgorithm=envelope.ALGORITHM)
            return answer["Signature"], answer["KeyId"]

        return envelope.seal(sender=self.account.id, from_account=detail["from_account"],
                             recipient=detail["to_account"], flow=detail["flow"], payload=detail.get("payload", {}),
                             now=datetime.now(UTC), sign=sign)


def _iso(value: Any) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000" if isinstance(
        value, datetime) else str(value)
