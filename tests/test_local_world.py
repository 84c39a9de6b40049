"""End to end through the local world: an event on an emulated account's bus reaches the right handler in
the right account's instance process, and its outcome lands in that account's DynamoDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localworld import demo
from localworld.replay import load, replay_one
from localworld.world import World

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "events"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with World(workdir=tmp_path_factory.mktemp("world")) as running:
        yield running


def test_pipeline_event_on_the_stage_bus_is_audited_in_stage_only(world):
    event_id, _ = world.simulator("stage").pipeline("api-stage", "STARTED")
    [run] = world.wait_invocations("stage", event_id)
    assert run["handler"] == "on_codepipeline" and run["result"]["outcome"] == "processed"
    assert run["result"]["results"] == [{"capability": "promotion", "outcome": "received",
                                         "reason": "api-stage STARTED: nothing to do", "actions": []}]
    assert not world.invocations("prod", event_id)
    assert not [e for e in world.audit("prod") if e["correlation_id"] == event_id]


def test_demo_story_passes(world):
    steps = demo.run(world, say=lambda line: None)
    assert [s.title for s in steps if not s.ok] == []
    assert len(steps) == 43
    lines = demo.timeline(world)
    assert any("stage" in line and "app/web" in line and "promotion.to_handed_off" in line for line in lines)
    assert any("prod" in line and "app/web" in line and "promotion.to_rolled_back" in line for line in lines)
    assert any("prod" in line and "alarm/web-5xx" in line and "alerts" in line for line in lines)


def test_replay_handles_every_sample(world):
    reports = [replay_one(world, name, event, None) for name, event, error in load([str(SAMPLES)])
               if "malformed" not in name and error is None]
    by_file = {Path(r["file"]).name: r for r in reports}
    assert set(by_file) == {p.name for p in SAMPLES.glob("*.json")}
    for name, report in by_file.items():
        assert report["outcome"] == "processed", (name, report)
    assert by_file["alarm-web-5xx-prod.json"]["handlers"] == ["on_alarm"]
    assert by_file["alarm-web-5xx-prod.json"]["delivered_to"] == "prod"
    assert by_file["peer-release-candidate-stage-to-prod.json"]["delivered_to"] == "prod"
    assert by_file["peer-release-candidate-stage-to-prod.json"]["results"][0]["capability"] == "promotion"


def test_replay_rejects_malformed_events_with_a_reason(world):
    items = load([str(SAMPLES / "malformed")])
    reports = {Path(name).name: (replay_one(world, name, event, None) if error is None else
                                 {"outcome": "rejected", "reason": error})
               for name, event, error in items}
    assert {name: r["outcome"] for name, r in reports.items()} == {
        "alarm-unknown-state.json": "rejected",
        "codepipeline-missing-execution-id.json": "rejected",
        "missing-source.json": "rejected",
        "peer-flow-not-admitted.json": "rejected",
        "truncated-json.json": "rejected",
    }
    assert "detail.state.value" in reports["alarm-unknown-state.json"]["reason"]
    assert "detail.execution-id: Field required" in reports["codepipeline-missing-execution-id.json"]["reason"]
    assert reports["missing-source.json"]["reason"].startswith("missing source")
    assert reports["peer-flow-not-admitted.json"]["reason"] == (
        "peer 'shared-services' may not send 'release-candidate' here")
    assert reports["truncated-json.json"]["reason"].startswith("not JSON")


def test_an_event_no_rule_matches_is_reported_unrouted(world):
    report = replay_one(world, "x.json", {"source": "aws.s3", "detail-type": "Object Created",
                                          "detail": {"bucket": {"name": "b"}}}, "stage")
    assert report["outcome"] == "unrouted" and "no Switchboard rule in stage matches aws.s3" in report["reason"]


def test_a_failing_invocation_is_retried_then_dead_lettered(world):
    """With the ledger table gone every invocation fails; like Lambda's async retries, the event is tried
    three times and then lands in the dead-letter queue, unprocessed and unaudited."""
    ddb = world.client("stage", "dynamodb")
    sqs = world.client("stage", "sqs")
    dlq = sqs.get_queue_url(QueueName="switchboard-dead-letters")["QueueUrl"]
    ddb.update_table(TableName="switchboard-ledger", DeletionProtectionEnabled=False)
    ddb.delete_table(TableName="switchboard-ledger")
    try:
        event_id, _ = world.simulator("stage").pipeline("web-stage", "FAILED")
        dead = []
        for _ in range(30):  # bounded: 3 receives x 2 s visibility, polled with 1 s long polls
            dead = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", [])
            dead = [m for m in dead if event_id in m["Body"]]
            if dead:
                break
        assert dead, "the failing event never reached the dead-letter queue"
        # the instance reports the third try just after writing the dead letter: wait for its report
        from localworld.story import until

        errors = until(lambda: [i for i in world.invocations("stage", event_id) if i["status"] == "error"],
                       lambda found: len(found) >= 3, timeout=10)
        assert len(errors) == 3 and "ResourceNotFound" in errors[0]["result"]["error"]
        record = json.loads(dead[0]["Body"])  # what Lambda's OnFailure destination writes
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["requestPayload"]["id"] == event_id
        assert not [e for e in world.audit("stage") if e["correlation_id"] == event_id]
    finally:
        ddb.create_table(TableName="switchboard-ledger", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])


def test_slack_command_through_the_front_door_process(world):
    """A signed /ops command over HTTP to the front-door instance; the lazy listener answers on the response_url."""
    assert list(world.http) == ["shared-services"]
    status, ack, seconds, url = world.user("alice").command("status api")
    assert status == 200 and ack["response_type"] == "ephemeral"
    [reply] = world.wait_responses(url)
    assert reply["text"] == "Status (shared-services)" and "pipeline `api-prod`" in json.dumps(reply["blocks"])
    entries = [e for e in world.audit("shared-services") if e["action"] == "frontdoor.status"]
    assert any(e["actor"] == "U0ALICE001" and e["target"] == "app/api" for e in entries)


def test_the_instance_runs_rate_schedules_at_their_period():
    import app
    from localworld.instance import scheduled_event, schedules

    found = schedules(app)
    assert {name: period for name, (_, period) in found.items()} == {"alerts_flush": 60, "slack_outbox": 300,
                                                                     "scaling_tick": 60, "promotion_tick": 60}
    event = scheduled_event("slack_outbox")
    assert (event["source"], event["detail-type"], event["detail"]) == ("aws.events", "Scheduled Event", {})
