"""Typed models of every event Switchboard reacts to (Powertools Parser's EventBridgeModel + typed detail).

Quirks of the real events, handled here so no capability has to:
- CodePipeline's ``version`` and ``pipeline-execution-attempt`` arrive as floats (``1.0``): accepted as ints,
  but ``1.5`` is rejected.
- ECS deployment events carry no ``clusterArn``: the service ARN is in ``resources``.
- EventBridge Scheduler sends ``detail`` as the string ``"{}"`` (Powertools' model turns it into ``{}``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.kinds import Kind
from chalicelib.policy.schema import AccountId, Flow, Name


class Detail(BaseModel):
    # Services add fields over time; unknown fields are kept, not rejected.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# ---- CodePipeline ----

class PipelineDetail(Detail):
    pipeline: str = Field(min_length=1)
    execution_id: str = Field(alias="execution-id", min_length=1)
    state: Literal["STARTED", "SUCCEEDED", "RESUMED", "FAILED", "CANCELED", "SUPERSEDED", "STOPPED", "ABANDONED",
                   "STOPPING"]
    version: int
    pipeline_execution_attempt: int | None = Field(None, alias="pipeline-execution-attempt")
    stage: str | None = None
    action: str | None = None


class CodePipelineEvent(EventBridgeModel):
    source: Literal["aws.codepipeline"]
    detail_type: Literal["CodePipeline Pipeline Execution State Change", "CodePipeline Stage Execution State Change",
                         "CodePipeline Action Execution State Change"] = Field(alias="detail-type")
    detail: PipelineDetail

    @property
    def target(self) -> str:
        return f"pipeline/{self.detail.pipeline}"


# ---- CloudWatch alarms ----

class AlarmState(Detail):
    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str | None = None
    reasonData: str | None = None  # noqa: N815 - a JSON string, parsed by the alerts capability
    timestamp: datetime | None = None


class AlarmDetail(Detail):
    alarmName: str = Field(min_length=1)  # noqa: N815
    state: AlarmState
    previousState: AlarmState | None = None  # noqa: N815 - absent on contributor events
    configuration: dict[str, Any] = Field(default_factory=dict)
    alarmContributor: dict[str, Any] | None = None  # noqa: N815


class AlarmEvent(EventBridgeModel):
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change", "CloudWatch Alarm Contributor State Change"] = Field(
        alias="detail-type")
    detail: AlarmDetail

    @property
    def target(self) -> str:
        return f"alarm/{self.detail.alarmName}"


# ---- ECS ----

class EcsDetail(Detail):
    eventType: Literal["INFO", "WARN", "ERROR"]  # noqa: N815
    eventName: str = Field(min_length=1)  # noqa: N815
    clusterArn: str | None = None  # noqa: N815 - absent on deployment events
    deploymentId: str | None = None  # noqa: N815
    reason: str | None = None


class EcsEvent(EventBridgeModel):
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Deployment State Change", "ECS Service Action"] = Field(alias="detail-type")
    detail: EcsDetail

    @property
    def target(self) -> str:
        service = next((r for r in self.resources if ":service/" in r), None)
        return service.split(":", 5)[-1] if service else (self.detail.clusterArn or "ecs")


# ---- Auto Scaling ----

class AutoScalingDetail(Detail):
    AutoScalingGroupName: str = Field(min_length=1)
    StatusCode: str | None = None
    ActivityId: str | None = None
    EC2InstanceId: str | None = None
    Cause: str | None = None


class AutoScalingEvent(EventBridgeModel):
    source: Literal["aws.autoscaling"]
    detail_type: Literal["EC2 Instance Launch Successful", "EC2 Instance Launch Unsuccessful",
                         "EC2 Instance Terminate Successful", "EC2 Instance Terminate Unsuccessful"] = Field(
        alias="detail-type")
    detail: AutoScalingDetail

    @property
    def target(self) -> str:
        return f"autoScalingGroup/{self.detail.AutoScalingGroupName}"


# ---- Secrets Manager (via CloudTrail) ----

class SecretsDetail(Detail):
    eventSource: Literal["secretsmanager.amazonaws.com"]  # noqa: N815
    eventName: str = Field(min_length=1)  # noqa: N815
    requestParameters: dict[str, Any] | None = None  # noqa: N815
    responseElements: dict[str, Any] | None = None  # noqa: N815
    additionalEventData: dict[str, Any] | None = None  # noqa: N815
    errorCode: str | None = None  # noqa: N815

    def secret_id(self) -> str | None:
        # API calls name it in requestParameters; service events in additionalEventData (older ones spell the
        # ARN key "aRN"); some responses carry it in responseElements.
        for holder, key in ((self.requestParameters, "secretId"), (self.additionalEventData, "SecretId"),
                            (self.additionalEventData, "aRN"), (self.additionalEventData, "arn"),
                            (self.responseElements, "arn"), (self.responseElements, "aRN")):
            if holder and isinstance(holder.get(key), str):
                return holder[key]
        return None


class SecretsEvent(EventBridgeModel):
    source: Literal["aws.secretsmanager"]
    detail_type: Literal["AWS API Call via CloudTrail", "AWS Service Event via CloudTrail"] = Field(
        alias="detail-type")
    detail: SecretsDetail

    @property
    def target(self) -> str:
        return f"secret/{self.detail.secret_id() or (self.resources[0] if self.resources else '?')}"


# ---- Peer Switchboard instances ----

class PeerDetail(Detail):
    model_config = ConfigDict(extra="forbid")
    to_account: AccountId
    from_account: Name
    flow: Flow
    payload: dict[str, Any] = Field(default_factory=dict)
    # the sender's signed envelope (chalicelib/peering): checked by the intake against the raw detail
    envelope: dict[str, Any] | None = None


class PeerEvent(EventBridgeModel):
    source: Literal["switchboard"]
    detail: PeerDetail

    @property
    def target(self) -> str:
        return f"peer/{self.detail.from_account}"


# ---- Schedules (EventBridge rules and EventBridge Scheduler) ----

class ScheduleEvent(EventBridgeModel):
    source: Literal["aws.events", "aws.scheduler"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    detail: dict[str, Any]

    @property
    def schedule_name(self) -> str:
        return self.resources[0].rsplit("/", 1)[-1] if self.resources else ""

    @property
    def target(self) -> str:
        return f"schedule/{self.schedule_name or '?'}"


MODELS: dict[Kind, type[EventBridgeModel]] = {
    Kind.CODEPIPELINE: CodePipelineEvent,
    Kind.ALARM: AlarmEvent,
    Kind.ECS: EcsEvent,
    Kind.AUTOSCALING: AutoScalingEvent,
    Kind.SECRETS: SecretsEvent,
    Kind.PEER: PeerEvent,
    Kind.SCHEDULE: ScheduleEvent,
}
