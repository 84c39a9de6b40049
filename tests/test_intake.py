"""Intake end to end against moto: ledger (once-only), audit, rejection, peer authorisation, dispatch."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from chalicelib import capabilities
from chalicelib.capabilities import Capability, Result
from chalicelib.intake.pipeline import CapabilitiesFailed, Kind, handle
from chalicelib.state import audit
from chalicelib.state.models import AuditEntry
from tests.events import PROD, SHARED, STAGE, context, peer, sample


def entries(correlation_id: str) -> list[AuditEntry]:
    return audit.for_correlation(correlation_id)


@pytest.fixture
def promotion_not_landed(monkeypatch):
    """Promotion replaced by a handler that only audits what it received: the intake is what is under test."""
    def received(event, ctx):
        audit.record(action=f"intake.{ctx.kind}", target=event.target, outcome=audit.Outcome.RECEIVED,
                     correlation_id=ctx.event_id, capability="promotion",
                     reason="the promotion capability has not landed yet",
                     detail={"source": event.source, "detail-type": event.detail_type})
        return Result(audit.Outcome.RECEIVED, "the promotion capability has not landed yet")

    monkeypatch.setitem(capabilities._registry, Capability.PROMOTION, received)


def test_event_is_parsed_audited_and_routed(aws, promotion_not_landed):
    event = sample("codepipeline-web-stage-succeeded.json")
    outcome = handle(Kind.CODEPIPELINE, event, context())
    assert outcome["outcome"] == "processed" and outcome["duplicate"] is False
    assert outcome["results"] == [{"capability": "promotion", "outcome": "received",
                                   "reason": "the promotion capability has not landed yet", "actions": []}]
    [entry] = entries(event["id"])
    assert (entry.target, entry.outcome, entry.actor, entry.capability, entry.account) == (
        "pipeline/web-stage", "received", "system", "promotion", "prod")
    assert entry.detail == {"source": "aws.codepipeline",
                            "detail-type": "CodePipeline Pipeline Execution State Change"}


def test_same_event_delivered_twice_is_processed_once(aws):
    event = sample("alarm-web-5xx-prod.json")
    first = handle(Kind.ALARM, event, context())
    second = handle(Kind.ALARM, dict(event), context())
    assert first["duplicate"] is False and second["duplicate"] is True
    assert second["outcome"] == first["outcome"] == "processed"
    assert len(entries(event["id"])) == 1


def test_same_event_id_is_processed_once_per_handler_kind(aws, promotion_not_landed):
    event = sample("alarm-web-5xx-prod.json")
    handle(Kind.ALARM, event, context())
    other = sample("codepipeline-web-stage-succeeded.json", id=event["id"])
    assert handle(Kind.CODEPIPELINE, other, context())["duplicate"] is False
    assert {e.capability for e in entries(event["id"])} == {"alerts", "promotion"}


@pytest.mark.parametrize(("kind", "mutate", "reason"), [
    (Kind.CODEPIPELINE, lambda e: e["detail"].pop("execution-id"), "detail.execution-id: Field required"),
    (Kind.CODEPIPELINE, lambda e: e["detail"].update(version=1.5), "detail.version"),
    (Kind.ALARM, lambda e: e["detail"]["state"].update(value="PANIC"), "detail.state.value"),
    (Kind.ALARM, lambda e: e.pop("source"), "source: Field required"),
    (Kind.ECS, lambda e: e["detail"].update(eventType="LOUD"), "detail.eventType"),
])
def test_malformed_events_are_rejected_with_reason_and_audited(aws, kind, mutate, reason):
    name = {Kind.CODEPIPELINE: "codepipeline-web-stage-succeeded.json", Kind.ALARM: "alarm-web-5xx-prod.json",
            Kind.ECS: "ecs-deployment-web-prod-completed.json"}[kind]
    event = sample(name)
    mutate(event)
    outcome = handle(kind, event, context())  # returns; raising would make Lambda retry a hopeless event
    assert outcome["outcome"] == "rejected" and reason in outcome["reason"]
    [entry] = entries(event["id"])
    assert entry.outcome == "rejected" and reason in entry.reason and entry.capability == "intake"
    # a redelivery of the same malformed event is not audited again
    assert handle(kind, event, context())["duplicate"] is True
    assert len(entries(event["id"])) == 1


def test_non_object_event_is_rejected_under_a_content_hash(aws):
    outcome = handle(Kind.ALARM, ["not", "an", "event"], context())
    assert outcome["outcome"] == "rejected" and outcome["event_id"].startswith("sha256:")
    assert "not a JSON object" in outcome["reason"]


def test_capability_failure_is_audited_raised_and_retried(aws, monkeypatch):
    calls = []

    def flaky(event, ctx):
        calls.append(ctx.event_id)
        if len(calls) == 1:
            raise RuntimeError("throttled")
        return Result(audit.Outcome.SUCCEEDED, actions=["did the thing"])

    monkeypatch.setitem(capabilities._registry, Capability.SCALING, flaky)
    event = sample("autoscaling-api-launch-stage.json")
    with pytest.raises(CapabilitiesFailed, match="failed in scaling"):
        handle(Kind.AUTOSCALING, event, context())
    [failed] = entries(event["id"])
    assert failed.outcome == "failed" and failed.reason == "RuntimeError: throttled"
    retried = handle(Kind.AUTOSCALING, event, context())  # Lambda's retry runs the failed capability again
    assert retried["duplicate"] is False and retried["retried"] == ["scaling"]
    assert retried["results"][0] == {"capability": "scaling", "outcome": "succeeded", "reason": None,
                                     "actions": ["did the thing"]}
    assert len(calls) == 2
    assert handle(Kind.AUTOSCALING, event, context())["duplicate"] is True and len(calls) == 2


def test_each_capability_fails_alone_and_only_the_failed_one_is_retried(aws, monkeypatch):
    """An alarm goes to alerts, scaling and promotion: scaling failing neither stops promotion nor makes
    alerts run twice when Lambda retries the event."""
    calls: list[str] = []

    def ok(name):
        def handler(event, ctx):
            calls.append(name)
            return Result(audit.Outcome.SUCCEEDED, actions=[name])
        return handler

    def scaling(event, ctx):
        calls.append("scaling")
        if calls.count("scaling") < 3:
            raise RuntimeError("throttled")
        return Result(audit.Outcome.SUCCEEDED, actions=["scaled"])

    monkeypatch.setitem(capabilities._registry, Capability.ALERTS, ok("alerts"))
    monkeypatch.setitem(capabilities._registry, Capability.SCALING, scaling)
    monkeypatch.setitem(capabilities._registry, Capability.PROMOTION, ok("promotion"))
    event = sample("alarm-web-5xx-prod.json")
    with pytest.raises(CapabilitiesFailed):
        handle(Kind.ALARM, event, context())
    assert calls == ["alerts", "scaling", "promotion"]  # promotion still saw the event
    with pytest.raises(CapabilitiesFailed, match="failed in scaling"):
        handle(Kind.ALARM, event, context())  # first retry: scaling alone, fails again
    assert calls == ["alerts", "scaling", "promotion", "scaling"]
    done = handle(Kind.ALARM, event, context())  # second retry: scaling alone, succeeds
    assert calls == ["alerts", "scaling", "promotion", "scaling", "scaling"]
    assert [r["capability"] for r in done["results"]] == ["alerts", "promotion", "scaling"]
    assert handle(Kind.ALARM, event, context())["duplicate"] is True  # a late copy: nothing runs
    assert calls.count("alerts") == 1 and calls.count("scaling") == 3
    assert [e.outcome for e in entries(event["id"]) if e.capability == "scaling"] == ["failed", "failed"]


def test_concurrent_delivery_in_progress_is_left_for_retry(aws, monkeypatch):
    event = sample("secrets-rotation-succeeded-prod.json")

    def reentrant(ev, ctx):
        # While this delivery is in progress, a parallel one arrives.
        with pytest.raises(IdempotencyAlreadyInProgressError):
            handle(Kind.SECRETS, event, context())
        return Result(audit.Outcome.SUCCEEDED)

    monkeypatch.setitem(capabilities._registry, Capability.ROTATION, reentrant)
    assert handle(Kind.SECRETS, event, context())["results"][0]["outcome"] == "succeeded"


@pytest.mark.parametrize(("event", "capability"), [
    (peer("release-candidate"), "promotion"),
    (peer("command", account=SHARED, from_account="shared-services"), "frontdoor"),
    (peer("reply", account=PROD, from_account="prod"), "frontdoor"),  # an instance addressing itself
])
def test_admitted_peer_flows_route_to_their_capability(aws, event, capability):
    outcome = handle(Kind.PEER, event, context())
    assert outcome["outcome"] == "processed", outcome["reason"]
    assert outcome["results"][0]["capability"] == capability


@pytest.mark.parametrize(("event", "reason"), [
    (peer("release-candidate", account="999999999999"), "account 999999999999 is not a peer in this policy"),
    (peer("release-candidate", from_account="shared-services"),
     "from_account 'shared-services' does not match peer 'stage'"),
    (peer("release-candidate", account=SHARED, from_account="shared-services"),
     "peer 'shared-services' may not send 'release-candidate' here"),
    (peer("command"), "peer 'stage' may not send 'command' here"),
    (peer("release-candidate", to_account=STAGE), "addressed to account 222233334444, not this one"),
    (peer("reply", account=PROD, from_account="stage"), "from_account 'stage' does not match the sending account"),
])
def test_peer_events_outside_policy_are_rejected(aws, event, reason):
    outcome = handle(Kind.PEER, event, context())
    assert outcome["outcome"] == "rejected" and outcome["reason"] == reason
    assert entries(event["id"])[0].reason == reason


def test_schedules_route_by_name(aws):
    base = {"version": "0", "source": "aws.scheduler", "account": PROD, "time": "2026-11-21T07:00:00Z",
            "region": "eu-west-1", "detail-type": "Scheduled Event", "detail": "{}"}
    ok = handle(Kind.SCHEDULE, {**base, "id": "s1", "resources": [
        "arn:aws:scheduler:eu-west-1:333344445555:schedule/default/switchboard-scaling-night"]}, context())
    assert ok["results"][0]["capability"] == "scaling"
    bad = handle(Kind.SCHEDULE, {**base, "id": "s2", "resources": [
        "arn:aws:scheduler:eu-west-1:333344445555:schedule/default/nightly-backup"]}, context())
    assert bad["outcome"] == "rejected" and "does not name a capability" in bad["reason"]


@pytest.fixture
def log_lines():
    """What the Powertools Logger writes, as parsed JSON lines."""
    import io
    import json

    from chalicelib.observability import logger

    buffer = io.StringIO()
    old = logger.registered_handler.setStream(buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    logger.registered_handler.setStream(old)


def test_rejection_is_logged_as_structured_error(aws, log_lines):
    event = sample("alarm-web-5xx-prod.json")
    event["detail"]["state"]["value"] = "PANIC"
    handle(Kind.ALARM, event, context())
    logs = log_lines()
    [error] = [line for line in logs if line["level"] == "ERROR"]
    assert error["message"] == "event rejected" and error["correlation_id"] == event["id"]
    assert "detail.state.value" in error["reason"] and error["kind"] == "alarm"
