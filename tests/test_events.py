"""Typed event models: the quirks of real events are accepted, malformed ones are not."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.intake.events import (
    AlarmEvent,
    AutoScalingEvent,
    CodePipelineEvent,
    EcsEvent,
    PeerEvent,
    ScheduleEvent,
    SecretsEvent,
)
from tests.events import sample


def test_codepipeline_float_version_and_attempt_become_ints():
    event = CodePipelineEvent.model_validate(sample("codepipeline-web-stage-succeeded.json"))
    assert event.detail.version == 3 and isinstance(event.detail.version, int)
    assert event.detail.pipeline_execution_attempt == 1
    assert event.target == "pipeline/web-stage"


def test_codepipeline_fractional_version_is_rejected():
    raw = sample("codepipeline-web-stage-succeeded.json")
    raw["detail"]["version"] = 1.5
    with pytest.raises(ValidationError, match="fractional part"):
        CodePipelineEvent.model_validate(raw)


def test_ecs_deployment_event_has_no_cluster_arn_and_targets_the_service():
    event = EcsEvent.model_validate(sample("ecs-deployment-web-prod-completed.json"))
    assert event.detail.clusterArn is None
    assert event.target == "service/prod/web"


def test_alarm_contributor_event_has_no_previous_state():
    event = AlarmEvent.model_validate(sample("alarm-contributor-api-latency-prod.json"))
    assert event.detail.previousState is None
    assert event.detail.alarmContributor["id"] == "6d442278dba546f6"


def test_alarm_state_change_keeps_reason_data_as_a_string():
    event = AlarmEvent.model_validate(sample("alarm-web-5xx-prod.json"))
    assert event.detail.state.value == "ALARM" and event.detail.previousState.value == "OK"
    assert event.detail.state.reasonData.startswith("{")


def test_alarm_configuration_change_is_not_an_alarm_event():
    raw = sample("alarm-web-5xx-prod.json")
    raw["detail-type"] = "CloudWatch Alarm Configuration Change"
    with pytest.raises(ValidationError):
        AlarmEvent.model_validate(raw)


def test_autoscaling_and_secrets_targets():
    assert AutoScalingEvent.model_validate(sample("autoscaling-api-launch-stage.json")).target == "autoScalingGroup/api"
    secret = SecretsEvent.model_validate(sample("secrets-rotation-succeeded-prod.json"))
    assert secret.target.startswith("secret/arn:aws:secretsmanager:") and secret.detail.eventName == "RotationSucceeded"


def test_scheduler_detail_string_is_accepted():
    raw = {"version": "0", "id": "a", "source": "aws.scheduler", "account": "333344445555",
           "time": "2026-11-21T07:00:00Z", "region": "eu-west-1", "detail-type": "Scheduled Event",
           "resources": ["arn:aws:scheduler:eu-west-1:333344445555:schedule/default/switchboard-scaling-morning"],
           "detail": "{}"}
    event = ScheduleEvent.model_validate(raw)
    assert event.detail == {} and event.schedule_name == "switchboard-scaling-morning"


def test_peer_detail_refuses_unknown_fields_and_flows():
    raw = sample("peer-release-candidate-stage-to-prod.json")
    raw["detail"]["sudo"] = True
    with pytest.raises(ValidationError, match="sudo"):
        PeerEvent.model_validate(raw)
    raw = sample("peer-release-candidate-stage-to-prod.json")
    raw["detail"]["flow"] = "anything"
    with pytest.raises(ValidationError):
        PeerEvent.model_validate(raw)


@pytest.mark.parametrize(("detail", "secret"), [
    ({"requestParameters": {"secretId": "a"}}, "a"),
    ({"additionalEventData": {"SecretId": "b"}}, "b"),
    ({"additionalEventData": {"aRN": "arn:aws:secretsmanager:x:c"}}, "arn:aws:secretsmanager:x:c"),
    ({"responseElements": {"arn": "d"}}, "d"),
    ({}, None),
])
def test_secret_id_in_every_cloudtrail_variant(detail, secret):
    raw = sample("secrets-rotation-succeeded-prod.json")
    raw["detail"] = {"eventSource": "secretsmanager.amazonaws.com", "eventName": "RotationSucceeded", **detail}
    assert SecretsEvent.model_validate(raw).detail.secret_id() == secret
