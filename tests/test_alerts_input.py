"""Hostile and odd input: names and descriptions that try to ping or disguise themselves, reasonData that is not
JSON, contributor events (one alert per contributor), tags from the event or looked up (and cached), events with
missing parts rejected with a reason, CloudWatch's own mute rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest

from chalicelib.alerts import model
from chalicelib.alerts.policy import section
from chalicelib.alerts.text import safe, visible
from chalicelib.state import audit
from tests.alerts_fixtures import AlertsWorld, blocks_text, receivers_standin_fixture, world_fixture  # noqa: F401
from tests.alerts_kit import BASE as KIT_BASE
from tests.alerts_kit import PROD, T0, alarm, contributor, parse, typed, use_alerts_schema


@pytest.mark.parametrize("hostile", [
    "web-<!channel>", "web-<!here|here> <@U0ADMIN001>", "web-<https://evil.example|click me>",
    "web-&lt;!channel&gt;", "web-`rm`*bold*_it_",
])
def test_mentions_and_links_in_alarm_names_never_ping(world: AlertsWorld, hostile):
    world.send(alarm(hostile, at=T0, description=f"see {hostile}", reason=f"because {hostile}"))
    world.flush(minutes=1)
    [card] = world.messages("#team-web")
    shown = blocks_text(card)
    for raw in ("<!channel>", "<!here", "<@U0ADMIN001>", "<https://"):
        assert raw not in shown
    if "<" in hostile:
        assert "&lt;" in shown and "\u2039" in shown  # escaped in mrkdwn, look-alikes in the plain_text header


def test_direction_overrides_and_zero_width_characters_are_shown_not_obeyed(world: AlertsWorld):
    name = "web-\u202egnp.exe\u200b-5xx\u2028x"
    world.send(alarm(name, at=T0))
    world.flush(minutes=1)
    [card] = world.messages("#team-web")
    shown = blocks_text(card)
    for invisible in ("\u202e", "\u200b", "\u2028"):
        assert invisible not in shown
    assert "[U+202E]" in shown and "[U+200B]" in shown and "[U+2028]" in shown


def test_a_right_to_left_override_in_an_alarm_is_neutralised_on_the_card_and_in_the_audit_log(world: AlertsWorld):
    name, reason = "web-\u202egnp.exe-5xx", "Threshold crossed \u202e1 > 0\u202c\u200b"
    world.send(alarm(name, at=T0, reason=reason))
    world.flush(minutes=1)
    [card] = world.messages("#team-web")
    shown = blocks_text(card)
    assert "web-[U+202E]gnp.exe-5xx" in shown and "crossed [U+202E]1 &gt; 0[U+202C][U+200B]" in shown
    entries = [audit.as_dict(e) for e in audit.for_day(datetime.now(UTC).strftime("%Y-%m-%d"))]  # written now
    [ingested] = [e for e in entries if e["action"] == "alerts.alarm"]
    assert ingested["target"] == "alarm/web-[U+202E]gnp.exe-5xx"
    assert ingested["detail"]["labels"]["alarm"] == "web-[U+202E]gnp.exe-5xx"
    assert [e.action for e in audit.for_target(f"alarm/{name}")] == ["alerts.alarm"]  # found by the raw name too
    stored = json.dumps(entries, default=str, ensure_ascii=False)
    assert not any(ch in stored for ch in "\u202e\u202c\u200b")


def test_text_helpers():
    assert visible("a\u202eb\tc\x00") == "a[U+202E]b c[U+0000]"
    assert safe("<!channel> & co") == "&lt;!channel&gt; &amp; co"
    assert safe("x" * 50, 20).endswith("… (truncated)") and len(safe("x" * 50, 20)) == 20


@pytest.mark.parametrize("reason_data", [
    "not json", "[1, 2]", "{\"recentDatapoints\": \"oops\"}", "[" * 100_000, None, "{}", "1e999999",
    json.dumps({"recentDatapoints": [1, "x", None, True, 2.5], "threshold": "ten", "triggeringAlarms": "x"}),
])
def test_reason_data_is_parsed_safely(reason_data):
    parsed = model.parse_reason_data(reason_data)
    assert isinstance(parsed, dict)
    assert all(isinstance(p, int | float) and not isinstance(p, bool) for p in parsed.get("recentDatapoints", []))
    assert "threshold" not in parsed or isinstance(parsed["threshold"], int | float)


def test_labels_from_the_event(monkeypatch):
    use_alerts_schema(monkeypatch, land=False)
    policy = parse('default_severity: ticket\nreceivers: {a: {slack: {channel: "#a"}}}\nroute: {receiver: a}')
    event = alarm("api-db-connections", at=T0, namespace="AWS/RDS", metric="DatabaseConnections",
                  dimensions={"DBInstanceIdentifier": "api-db", "Role": "WRITER"},
                  tags={"team": "payments", "aws:cloudformation:stack-name": "api"})
    [found] = model.from_event(typed(event), policy, section(policy))
    assert found.labels == {
        "account": "prod", "account_id": PROD, "environment": "prod", "region": "eu-west-1",
        "alarm": "api-db-connections", "namespace": "AWS/RDS", "metric": "DatabaseConnections",
        "dim_DBInstanceIdentifier": "api-db", "dim_Role": "WRITER", "tag_team": "payments",
        "tag_aws_cloudformation_stack_name": "api",
        "app": "api",  # the longest alarm prefix wins ("api-db-" over "api-"), both are api's
        "severity": "ticket",  # no severity tag: the policy default
    }
    assert found.reason_data == {"version": "1.0", "recentDatapoints": [41.0, 52.0], "threshold": 10.0}
    assert found.routing_labels("ALARM")["state"] == "ALARM" and "state" not in found.labels


def test_math_expressions_and_composite_alarms(monkeypatch):
    use_alerts_schema(monkeypatch, land=False)
    policy = parse('receivers: {a: {slack: {channel: "#a"}}}\nroute: {receiver: a}')
    event = alarm("web-error-rate", at=T0, tags={})
    event["detail"]["configuration"]["metrics"].append({"id": "e1", "expression": "m1/m2*100", "returnData": True})
    event["detail"]["configuration"]["metrics"][0]["returnData"] = False
    [found] = model.from_event(typed(event), policy, section(policy))
    assert found.expression == "m1/m2*100"
    composite = alarm("web-composite", at=T0, tags={}, dimensions={})
    composite["detail"]["configuration"] = {"alarmRule": "ALARM(web-5xx) AND ALARM(web-latency)"}
    composite["detail"]["state"]["reasonData"] = json.dumps({"triggeringAlarms": [
        {"arn": "arn:aws:cloudwatch:eu-west-1:333344445555:alarm:web-5xx", "state": {"value": "ALARM"}}]})
    [found] = model.from_event(typed(composite), policy, section(policy))
    assert found.alarm_rule.startswith("ALARM(web-5xx)") and found.triggering_alarms[0].endswith(":web-5xx")
    assert "namespace" not in found.labels


def test_tags_are_looked_up_when_the_event_has_none_and_cached(world: AlertsWorld):
    cw = boto3.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="web-5xx", Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=10,
                        ComparisonOperator="GreaterThanThreshold", Tags=[{"Key": "severity", "Value": "page"},
                                                                          {"Key": "team", "Value": "web"}])
    arn = cw.describe_alarms(AlarmNames=["web-5xx"])["MetricAlarms"][0]["AlarmArn"]
    calls = []
    from chalicelib import aws

    client = aws.client("cloudwatch")
    client.meta.events.register("before-call.cloudwatch.ListTagsForResource", lambda **kw: calls.append(1))
    for minute in range(3):
        event = alarm("web-5xx", at=T0.replace(minute=minute), account=arn.split(":")[4])
        world.send(event)
    assert len(calls) == 1  # cached
    [entry] = audit.for_target("alarm/web-5xx")[:1]
    assert entry.detail["labels"]["severity"] == "page" and entry.detail["labels"]["tag_team"] == "web"


def test_a_tag_lookup_that_fails_is_never_taken_for_no_tags(world: AlertsWorld):
    """A page must not go out as a ticket because ListTagsForResource was throttled: the alerts capability fails
    alone (scaling and promotion still saw the alarm), Lambda retries the event, and the retry reads the tags."""
    from botocore.exceptions import ClientError

    from chalicelib import aws
    from chalicelib.intake.pipeline import CapabilitiesFailed

    cw = boto3.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="web-5xx", Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=10,
                        ComparisonOperator="GreaterThanThreshold", Tags=[{"Key": "severity", "Value": "page"}])
    arn = cw.describe_alarms(AlarmNames=["web-5xx"])["MetricAlarms"][0]["AlarmArn"]
    failing = [True]

    def throttle(**kwargs):
        if failing[0]:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "ListTagsForResource")

    aws.client("cloudwatch").meta.events.register("before-call.cloudwatch.ListTagsForResource", throttle)
    event = alarm("web-5xx", at=T0, account=arn.split(":")[4])
    with pytest.raises(CapabilitiesFailed, match="failed in alerts"):
        world.send(event)
    [failed] = [e for e in audit.for_target("alarm/web-5xx") if e.capability == "alerts"]
    assert failed.outcome == "failed" and "could not be read" in failed.reason
    failing[0] = False
    retried = world.send(event)  # Lambda's retry
    assert retried["retried"] == ["alerts"]
    [entry] = [e for e in audit.for_target("alarm/web-5xx") if e.capability == "alerts" and e.outcome != "failed"]
    assert entry.detail["labels"]["severity"] == "page"


def test_alarm_tags_in_the_event_are_used_without_a_lookup(world: AlertsWorld):
    from chalicelib import aws

    calls = []
    aws.client("cloudwatch").meta.events.register("before-call.cloudwatch.ListTagsForResource",
                                                  lambda **kw: calls.append(1))
    world.send(alarm("web-5xx", at=T0, tags={"severity": "critical"}))
    assert calls == []
    [entry] = audit.for_target("alarm/web-5xx")
    assert entry.detail["labels"]["severity"] == "critical"


def test_contributor_events_are_one_alert_per_contributor(world: AlertsWorld):
    attrs = {"a": {"AvailabilityZone": "eu-west-1a"}, "b": {"AvailabilityZone": "eu-west-1b"}}
    world.send(contributor("web-latency", "c-a", at=T0, attributes=attrs["a"], tags={}))
    world.send(contributor("web-latency", "c-b", at=T0, attributes=attrs["b"], tags={}))
    world.flush(minutes=1)
    [card] = world.messages("#team-web")
    [inc] = world.open()
    assert len(inc.alerts) == 2
    assert {a.labels["contributor"] for a in inc.alerts.values()} == {"c-a", "c-b"}
    assert {a.labels["dim_AvailabilityZone"] for a in inc.alerts.values()} == {"eu-west-1a", "eu-west-1b"}
    # one contributor recovers (no previousState on contributor events): only it resolves
    world.send(contributor("web-latency", "c-a", "OK", at=world.clock.at, attributes=attrs["a"], tags={}))
    [inc] = world.open()
    assert sorted(a.state for a in inc.alerts.values()) == ["ALARM", "OK"]
    world.send(contributor("web-latency", "c-b", "OK", at=world.clock.at, attributes=attrs["b"], tags={}))
    world.flush(minutes=5)
    assert world.open() == [] and "RESOLVED" in blocks_text(world.messages("#team-web")[0])


def test_a_contributor_event_without_a_contributor_id_is_rejected_with_a_reason(world: AlertsWorld):
    event = contributor("web-latency", "", at=T0)
    outcome = world.send(event)
    result = world.result(outcome)
    assert result["outcome"] == "rejected"
    assert result["reason"] == "contributor state change without alarmContributor.id"
    [entry] = audit.for_target("alarm/web-latency")
    assert entry.outcome == "rejected"


def test_events_missing_what_every_alarm_has_are_rejected_by_the_intake(world: AlertsWorld):
    event = alarm("web-5xx", at=T0)
    del event["detail"]["state"]
    outcome = world.send(event)
    assert outcome["outcome"] == "rejected" and "detail.state" in outcome["reason"]
    assert world.open() == []


def test_cloudwatch_mute_rules_mute_the_alert_while_their_window_lasts(world: AlertsWorld):
    mute = {"mutedByArn": "arn:aws:cloudwatch:eu-west-1:333344445555:alarm-mute-rule:deploys",
            "muteWindowStart": "2026-11-20T13:00:00.000+0000", "muteWindowEnd": "2026-11-20T14:30:00.000+0000"}
    world.send(alarm("web-5xx", at=T0, muteDetail=mute))
    world.flush(minutes=1)
    assert world.messages("#team-web") == []
    world.flush(minutes=30)  # 14:31: the window is over
    [card] = world.messages("#team-web")
    assert "FIRING" in blocks_text(card)


def test_kit_base_policy_is_the_one_with_a_remote_front_door():
    assert "front_door: shared-services" in KIT_BASE
