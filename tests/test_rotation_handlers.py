"""Rotation outcomes from CloudTrail (RotationSucceeded / RotationFailed / RotationAbandoned) through the intake:
the secret found in each spelling, audited, announced, the rotation function's reason quoted, alerts opened once
alert routing has landed; other Secrets Manager calls only recorded."""

from __future__ import annotations

import pytest

from chalicelib import capabilities
from chalicelib.capabilities import Capability
from chalicelib.intake.pipeline import Kind, handle
from chalicelib.rotation.handlers import secret_id_of
from chalicelib.state import audit
from localworld.rotation_service import service_event
from tests.events import context, sample
from tests.test_rotation_kit import capture_bus, secrets_world, slack_workspace, texts, use_policy

ARN = "arn:aws:secretsmanager:eu-west-1:333344445555:secret:web/db-password-AbCdEf"


@pytest.mark.parametrize(("detail", "resources", "expected"), [
    ({"additionalEventData": {"SecretId": ARN}}, [], ARN),
    ({"additionalEventData": {"aRN": ARN}}, [], ARN),  # events before February 2024
    ({"additionalEventData": {}, "requestParameters": {"secretId": "web/api-key"}}, [], "web/api-key"),
    ({"responseElements": {"aRN": ARN}}, [], ARN),
    ({"responseElements": {"arn": ARN}}, [], ARN),
    ({"resources": [{"ARN": ARN, "type": "AWS::SecretsManager::Secret"}]}, [], ARN),
    ({}, [ARN], ARN),
    ({"additionalEventData": {"SecretId": ""}}, ["arn:aws:kms:eu-west-1:1:key/k"], None),
])
def test_where_the_secret_is_named(detail, resources, expected):
    assert secret_id_of(detail, resources) == expected


@pytest.fixture
def prod(aws, monkeypatch, tmp_path):
    monkeypatch.setitem(capabilities.LANDED, Capability.ROTATION, "chalicelib.rotation.handlers")
    use_policy(monkeypatch, tmp_path, "prod", {"channel": "#prod-secrets",
                                               "secrets": {"web/db-password": {"channel": "#team-web"}}})
    return capture_bus()


def announced(take) -> list[dict]:
    return [e["detail"]["payload"] for e in take() if e["detail"]["flow"] == "announce"]


@pytest.mark.parametrize("legacy", [False, True])
def test_a_success_is_audited_and_announced_in_the_secrets_channel(prod, legacy):
    event = {"version": "0", "id": f"ev-{legacy}", **service_event(ARN, "Succeeded", "333344445555", "eu-west-1",
                                                                   legacy=legacy)}
    outcome = handle(Kind.SECRETS, event, context())
    assert outcome["outcome"] == "processed"
    result = outcome["results"][0]
    assert (result["capability"], result["outcome"]) == ("rotation", "succeeded")
    [entry] = audit.for_target("secret/web/db-password")
    assert (entry.action, entry.outcome, entry.correlation_id) == ("rotation.RotationSucceeded", "succeeded",
                                                                   f"ev-{legacy}")
    [message] = announced(prod)
    assert message["channel"] == "#team-web"
    assert message["text"] == ":white_check_mark: Rotation of `web/db-password` in prod succeeded"


def test_the_recorded_sample_is_handled(prod):
    outcome = handle(Kind.SECRETS, sample("secrets-rotation-succeeded-prod.json"), context())
    assert outcome["results"][0]["outcome"] == "succeeded"
    assert audit.for_target("secret/web/db-password")[0].action == "rotation.RotationSucceeded"


def test_a_failure_quotes_the_reason_the_rotation_function_recorded(aws, prod, monkeypatch, tmp_path):
    # the branch for an estate without alert routing (also when an earlier test imported alerts and it registered)
    monkeypatch.delitem(capabilities.LANDED, Capability.ALERTS)
    monkeypatch.setattr(capabilities, "_registry", {k: v for k, v in capabilities._registry.items()
                                                    if k is not Capability.ALERTS})
    world = secrets_world(aws.url)
    arn = world.create("web/api-key", {"key": "k0", "endpoint": "a"}, kind="api-key")
    pending = world.start(arn)
    world.sm.put_secret_value(SecretId=arn, ClientRequestToken=pending, VersionStages=["AWSPENDING"],
                              SecretString='{"key": "x", "endpoint": "b"}')
    assert world.drive(arn, pending).failed_step == "setSecret"
    event = {"version": "0", "id": "ev-failed", **service_event(arn, "Failed", "333344445555", "eu-west-1")}
    result = handle(Kind.SECRETS, event, context())["results"][0]
    assert result["outcome"] == "failed"
    assert result["reason"] == ("setSecret: the pending value of web/api-key changes endpoint, not only 'key'")
    assert "alert routing has not landed: announced only" in result["actions"]
    [message] = announced(prod)
    assert message["channel"] == "#prod-secrets"
    assert message["text"].startswith(":x: Rotation of `web/api-key` in prod failed: setSecret: the pending value")


def test_an_abandoned_rotation_counts_as_a_failure(prod):
    event = {"version": "0", "id": "ev-ab", **service_event(ARN, "Abandoned", "333344445555", "eu-west-1")}
    result = handle(Kind.SECRETS, event, context())["results"][0]
    assert result["outcome"] == "failed" and result["reason"] is None
    [message] = announced(prod)
    assert message["text"] == ":x: Rotation of `web/db-password` in prod was abandoned"


def test_other_secrets_manager_calls_are_only_recorded(prod):
    event = {"version": "0", "id": "ev-api", "source": "aws.secretsmanager",
             "detail-type": "AWS API Call via CloudTrail", "account": "333344445555", "region": "eu-west-1",
             "time": "2026-11-20T03:00:00Z", "resources": [],
             "detail": {"eventSource": "secretsmanager.amazonaws.com", "eventName": "RotateSecret",
                        "requestParameters": {"secretId": "web/api-key"}, "responseElements": {"aRN": ARN}}}
    result = handle(Kind.SECRETS, event, context())["results"][0]
    assert (result["outcome"], result["reason"]) == ("received", "RotateSecret: not a rotation outcome")
    assert audit.for_target("secret/web/api-key")[0].outcome == "received"
    assert announced(prod) == []


def test_a_rotation_event_that_names_no_secret_is_rejected(prod):
    event = {"version": "0", "id": "ev-none", **service_event(ARN, "Failed", "333344445555", "eu-west-1")}
    event["detail"]["additionalEventData"] = {}
    result = handle(Kind.SECRETS, event, context())["results"][0]
    assert (result["outcome"], result["reason"]) == ("rejected", "a RotationFailed event that names no secret")


def test_in_the_front_door_account_the_message_goes_straight_to_slack(aws, slack, monkeypatch, tmp_path):
    slack_workspace(monkeypatch, slack)
    monkeypatch.setitem(capabilities.LANDED, Capability.ROTATION, "chalicelib.rotation.handlers")
    use_policy(monkeypatch, tmp_path, "shared-services")
    event = {"version": "0", "id": "ev-shared", **service_event(ARN, "Succeeded", "111122223333", "eu-west-1")}
    handle(Kind.SECRETS, event, context())
    assert texts(slack, "#platform") == [":white_check_mark: Rotation of `web/db-password` in shared succeeded []"]


def test_a_failure_opens_an_alert_once_alert_routing_has_landed(prod, monkeypatch):
    event = {"version": "0", "id": "ev-alert", **service_event(ARN, "Failed", "333344445555", "eu-west-1")}
    result = handle(Kind.SECRETS, event, context())["results"][0]
    opened = [a for a in result["actions"] if a.startswith("alert ALARM:")]
    assert opened and "(web-oncall)" in opened[0], result["actions"]  # routed by app=web to the team's receiver
    event = {"version": "0", "id": "ev-ok", **service_event(ARN, "Succeeded", "333344445555", "eu-west-1")}
    result = handle(Kind.SECRETS, event, context())["results"][0]
    assert any(a.startswith("alert OK:") for a in result["actions"]), result["actions"]
