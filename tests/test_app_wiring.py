"""app.py is a table of contents: every event kind has a handler whose rule pattern matches its events."""

from __future__ import annotations

import json

import pytest
from chalice.app import CloudWatchEventConfig
from moto.events.models import EventPattern

import app
from chalicelib.kinds import Kind
from tests.events import PROD, SHARED, STAGE, peer, sample


def patterns() -> dict[str, dict]:
    return {s.name: s.event_pattern for s in app.app.event_sources if isinstance(s, CloudWatchEventConfig)}


def matches(pattern: dict, event: dict) -> bool:
    # moto's EventBridge pattern engine: the same one that routes events in the local world.
    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def test_every_kind_has_exactly_one_handler():
    handlers = set(patterns()) | {f.name for f in app.app.pure_lambda_functions}
    # rotate_secret is invoked by Secrets Manager itself (the rotation protocol), not through the intake
    assert handlers - {"rotate_secret"} == {f"on_{kind}" for kind in Kind}


@pytest.mark.parametrize(("handler", "sample_name"), [
    ("on_codepipeline", "codepipeline-web-stage-succeeded.json"),
    ("on_alarm", "alarm-web-5xx-prod.json"),
    ("on_alarm", "alarm-contributor-api-latency-prod.json"),
    ("on_ecs", "ecs-deployment-web-prod-completed.json"),
    ("on_autoscaling", "autoscaling-api-launch-stage.json"),
    ("on_secrets", "secrets-rotation-succeeded-prod.json"),
    ("on_peer", "peer-release-candidate-stage-to-prod.json"),
])
def test_each_sample_matches_only_its_handler(handler, sample_name):
    event = sample(sample_name)
    assert [name for name, p in patterns().items() if matches(p, event)] == [handler]


def test_alarm_configuration_changes_are_not_subscribed():
    event = sample("alarm-web-5xx-prod.json", **{"detail-type": "CloudWatch Alarm Configuration Change"})
    assert not any(matches(p, event) for p in patterns().values())


@pytest.mark.parametrize(("event", "admitted"), [
    (peer("release-candidate", account=STAGE), True),
    (peer("command", account=SHARED, from_account="shared-services"), True),
    (peer("reply", account=PROD, from_account="prod"), True),
    (peer("release-candidate", account="999999999999"), False),  # not a peer: the rule does not match
    (peer("release-candidate", account=STAGE, to_account=STAGE), False),  # addressed elsewhere
])
def test_peer_rule_matches_on_account_and_address(event, admitted):
    assert matches(patterns()["on_peer"], event) is admitted


def test_handlers_pass_the_raw_event_and_context_to_intake(monkeypatch):
    seen = []
    monkeypatch.setattr(app.pipeline, "handle", lambda kind, raw, ctx: seen.append((kind, raw, ctx)) or "done")
    event = sample("ecs-deployment-web-prod-completed.json")
    assert app.on_ecs(event, "ctx") == "done"
    assert app.on_schedule({"id": "x"}, "ctx") == "done"
    assert seen == [(Kind.ECS, event, "ctx"), (Kind.SCHEDULE, {"id": "x"}, "ctx")]


@pytest.mark.parametrize(("handler", "payload", "reason"), [
    ("on_codepipeline", {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{\"approval\": {}}"}}]},
     "not an EventBridge event (it looks like an SNS/SQS notification: Records): no version, id"),
    ("on_alarm", {"detailType": "CodeCommit Repository State Change", "source": "aws.codecommit",
                  "notificationRuleArn": "arn:aws:codestar-notifications:x"}, "not an EventBridge event: no version"),
    ("on_peer", ["not", "an", "object"], "event is not a JSON object (got list)"),
    ("on_ecs", {}, "not an EventBridge event: no version, id, detail-type"),
])
def test_any_payload_a_handler_is_given_is_answered_with_a_one_line_reason(aws, handler, payload, reason):
    """Lambda may be invoked with anything (an SNS approval message, a CodeStar notification, a console test):
    each is rejected with its reason and audited, never a KeyError inside Chalice's event wrapper."""
    from chalicelib.state import audit
    from tests.events import context

    outcome = getattr(app, handler)(payload, context())
    assert outcome["outcome"] == "rejected" and outcome["reason"].startswith(reason), outcome["reason"]
    assert "\n" not in outcome["reason"] and "pydantic" not in outcome["reason"]
    [entry] = audit.for_correlation(outcome["event_id"])
    assert (entry.outcome, entry.reason) == ("rejected", outcome["reason"])
