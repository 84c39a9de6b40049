"""Receivers against loopback stand-ins: PagerDuty Events v2 (trigger, acknowledge, resolve; dedup key = the
incident id), a signed webhook, SNS (moto, read back through an SQS subscription), failures audited and retried
with backoff, secrets from Secrets Manager."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib.alerts.receivers import http
from chalicelib.alerts.receivers.notification import ReceiverError
from chalicelib.state import audit
from tests.alerts_fixtures import AlertsWorld, blocks_text, receivers_standin_fixture, world_fixture  # noqa: F401
from tests.alerts_kit import T0, alarm

ALL = """
receivers:
  everything:
    slack: {channel: "#prod-alerts"}
    pagerduty: {secret: switchboard/pagerduty/web, severity: {ticket: info}}
    sns: {topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts"}
    webhook: {secret: switchboard/webhook/status}
route:
  receiver: everything
  group_by: [alarm]
  group_wait: 0s
  group_interval: 1m
"""


@pytest.fixture
def everything(world: AlertsWorld):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts-sub")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    boto3.client("secretsmanager").create_secret(Name="switchboard/webhook/status", SecretString=json.dumps(
        {"url": world.receivers.hook_url("status"), "token": "hook-token"}))
    world.receivers.require_token("status", "hook-token")
    world.policy(ALL.replace("123456789012", topic.split(":")[4]))

    def published() -> list[dict]:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in got]

    world.published = published
    return world


def test_every_integration_hears_firing_then_resolved(everything):
    world = everything
    world.send(alarm("web-5xx", at=T0, tags={"severity": "ticket"}))
    assert world.flush(seconds=1) == {"notified": 1}
    inc_id = world.open()[0].id
    [trigger] = world.receivers.pagerduty()
    assert (trigger["event_action"], trigger["dedup_key"], trigger["routing_key"]) == ("trigger", inc_id,
                                                                                       "R0UT1NGKEY0F32CHARACTERSEXACTLY0")
    assert trigger["payload"]["severity"] == "info"  # the policy's severity map
    assert trigger["payload"]["summary"].startswith("[prod] web-5xx: Threshold Crossed")
    [hook] = world.receivers.received("/hooks/status")
    assert hook.status == 200 and hook.body["status"] == "firing" and hook.body["incident"]["id"] == inc_id
    assert hook.body["alerts"][0]["labels"]["alarm"] == "web-5xx"
    [message] = world.published()
    assert message["status"] == "firing" and message["groupLabels"] == {"alarm": "web-5xx"}
    assert "FIRING" in blocks_text(world.messages("#prod-alerts")[0])

    world.send(alarm("web-5xx", "OK", previous="ALARM", at=world.clock.at))
    world.flush(minutes=1)
    assert [e["event_action"] for e in world.receivers.pagerduty()] == ["trigger", "resolve"]
    assert world.receivers.incident(inc_id) == "resolved"
    assert [h.body["status"] for h in world.receivers.received("/hooks/status")] == ["firing", "resolved"]
    assert [m["status"] for m in world.published()] == ["resolved"]
    assert [e.outcome for e in audit.for_target(f"incident/{inc_id}")] == ["succeeded", "succeeded"]


def test_a_bad_webhook_signature_is_a_failure_that_is_retried_with_backoff(everything):
    world = everything
    world.receivers.require_token("status", "another-token")
    world.send(alarm("web-5xx", at=T0))
    assert world.flush(seconds=1) == {"failed": 1}
    [entry] = audit.for_target(f"incident/{world.open()[0].id}")
    assert entry.outcome == "failed" and "webhook 127.0.0.1 answered HTTP 401" in entry.reason
    assert "slack announced in #prod-alerts" in entry.reason  # the others were still told
    assert world.flush(seconds=30) == {}  # backing off: 1 minute
    world.receivers.require_token("status", "hook-token")
    assert world.flush(seconds=31) == {"notified": 1}
    [card] = world.messages("#prod-alerts")
    assert card.updated == 1  # told again, in place: no second message


def test_5xx_and_429_are_retried_then_succeed(everything):
    world = everything
    world.receivers.fail_next("/v2/enqueue", 503)
    world.receivers.fail_next("/v2/enqueue", 429)
    world.send(alarm("web-5xx", at=T0))
    assert world.flush(seconds=1) == {"notified": 1}
    statuses = [r.status for r in world.receivers.received("/v2/enqueue")]
    assert statuses == [503, 429, 202]


def test_pagerduty_rejecting_the_event_is_not_retried_in_the_same_flush(everything, monkeypatch):
    world = everything
    boto3.client("secretsmanager").put_secret_value(SecretId="switchboard/pagerduty/web", SecretString=json.dumps(
        {"routing_key": "too-short", "url": world.receivers.pagerduty_url}))
    world.send(alarm("web-5xx", at=T0))
    assert world.flush(seconds=1) == {"failed": 1}
    [rejected] = world.receivers.received("/v2/enqueue")
    assert rejected.status == 400
    [entry] = audit.for_target(f"incident/{world.open()[0].id}")
    assert "'routing_key' is invalid" in entry.reason and "too-short" not in entry.reason


def test_a_missing_secret_fails_without_leaking_anything(world: AlertsWorld):
    world.policy(ALL.replace("    webhook: {secret: switchboard/webhook/status}\n", "").replace(
        "    sns: {topic_arn: \"arn:aws:sns:eu-west-1:123456789012:alerts\"}\n", "").replace(
        "switchboard/pagerduty/web", "switchboard/pagerduty/nope"))
    world.send(alarm("web-5xx", at=T0))
    assert world.flush(seconds=1) == {"failed": 1}
    [entry] = audit.for_target(f"incident/{world.open()[0].id}")
    assert "cannot read secret switchboard/pagerduty/nope" in entry.reason


@pytest.mark.parametrize(("url", "ok"), [
    ("https://events.pagerduty.com/v2/enqueue", True), ("http://127.0.0.1:9/x", True),
    ("http://events.pagerduty.com/v2/enqueue", False), ("file:///etc/passwd", False), ("http://10.0.0.1/", False),
])
def test_only_https_or_loopback_is_ever_called(url, ok):
    if ok:
        http.check_url(url)
    else:
        with pytest.raises(ReceiverError, match="refusing"):
            http.check_url(url)


@pytest.mark.parametrize(("integration", "url", "why"), [
    ("webhook", "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
     "webhook refusing to send to 127.0.0.1: the URL names the Lambda runtime API (127.0.0.1)"),
    ("webhook", "file:///etc/passwd", "webhook refusing to send to ?: the URL is not https"),
    ("pagerduty", "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
     "pagerduty refusing to send to 169.254.169.254: the URL names the instance metadata service (169.254.169.254)"),
])
def test_a_url_in_a_secret_is_refused_at_run_time_and_audited(everything, integration, url, why):
    world = everything
    if integration == "webhook":
        secret, value = "switchboard/webhook/status", {"url": url, "token": "hook-token"}
    else:
        secret, value = "switchboard/pagerduty/web", {"routing_key": "R0UT1NGKEY0F32CHARACTERSEXACTLY0", "url": url}
    boto3.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(value))
    world.send(alarm("web-5xx", at=T0))
    assert world.flush(seconds=1) == {"failed": 1}
    [entry] = audit.for_target(f"incident/{world.open()[0].id}")
    assert entry.outcome == "failed" and why in entry.reason
    assert "slack announced in #prod-alerts" in entry.reason  # the others were still told


def test_a_webhook_redirect_is_a_failure_not_followed(everything):
    world = everything
    world.receivers.fail_next("/hooks/status", 302)
    world.send(alarm("web-5xx", at=T0))
    assert world.flush(seconds=1) == {"failed": 1}
    assert [r.status for r in world.receivers.received("/hooks/status")] == [302]  # asked once: not retried
    [entry] = audit.for_target(f"incident/{world.open()[0].id}")
    assert "webhook 127.0.0.1 answered HTTP 302 (a redirect, not followed)" in entry.reason
