"""End to end through the local world: an event on an emulated account's bus reaches the right handler in
the right account's instance process, and its outcome lands in that account's DynamoDB."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from infra import iam_policy
from localworld import demo, iam
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


# The demo plays in a process of its own, as `make run` plays it: in this one, the threads and caches the suite's
# earlier tests leave behind slowed the story's waits enough to fail them now and then.
_PLAY = """
import json, sys
from pathlib import Path
from localworld import clock, demo
from localworld.world import World
clock.install(clock.booted())  # a machine booted a moment ago, as every test runs on
with World(workdir=Path(sys.argv[1])) as world:
    steps = demo.run(world, say=lambda line: None)
    print("DEMO " + json.dumps({"failed": [[s.title, s.detail] for s in steps if not s.ok], "steps": len(steps),
                               "denials": [d.line() for d in world.denials()], "timeline": demo.timeline(world)}))
"""


def test_demo_story_passes(tmp_path):
    done = subprocess.run([sys.executable, "-c", _PLAY, str(tmp_path)], capture_output=True, text=True,
                          timeout=1200, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-4000:]
    [line] = [x for x in done.stdout.splitlines() if x.startswith("DEMO ")]
    result = json.loads(line.removeprefix("DEMO "))
    assert result["failed"] == []  # each failed step with what the world showed
    assert result["denials"] == []  # every function had what its story needed
    assert result["steps"] == 43
    lines = result["timeline"]
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
    # answered here, and by each account on api's promotion path it is forwarded to, in whatever order they come
    here = _reply_titled(world, url, "Status (shared-services)")
    assert "pipeline `api-prod`" in json.dumps(here["blocks"])
    entries = [e for e in world.audit("shared-services") if e["action"] == "frontdoor.status"]
    assert any(e["actor"] == "U0ALICE001" and e["target"] == "app/api" for e in entries)


def _reply_titled(world, url: str, title: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in world.wait_responses(url, timeout=0.5) if r.get("text") == title]
        if found or time.monotonic() > deadline:
            break
    assert len(found) == 1, (title, world.wait_responses(url, timeout=0))
    return found[0]


def test_the_instance_runs_rate_schedules_at_their_period():
    import app
    from localworld.instance import scheduled_event, schedules

    found = schedules(app)
    assert {name: period for name, (_, period) in found.items()} == {"alerts_flush": 60, "slack_outbox": 300,
                                                                     "slack_cards": 60, "scaling_tick": 60,
                                                                     "promotion_tick": 60}
    event = scheduled_event("slack_outbox")
    assert (event["source"], event["detail-type"], event["detail"]) == ("aws.events", "Scheduled Event", {})


def test_a_card_slack_pushed_back_on_waits_and_the_card_drain_sends_it_on_its_schedule(world):
    """stage's api-5xx card reaches the front door (a versioned announce) when Slack answers 429: no Lambda sleeps it
    out, the card waits in the card queue, and the front door's slack_cards process, ticking every minute as
    Lambda's schedule would, posts it. (Stage: no other test here opens an incident there, so the card is new.)"""
    before = len(world.invocations("shared-services"))
    assert world.slack.messages("#stage-alerts") == []
    method = "chat.postMessage"
    world.slack.fail_next(method, 429, retry_after=1)
    world.simulator("stage").alarm("api-5xx", "ALARM", "Threshold Crossed (local world: a card Slack pushes back on)")
    # stage's alerts_flush (every minute; group_wait 30 s) announces it; the card drain runs a minute at worst later
    deadline = time.monotonic() + 240
    card, drained, runs = [], [], []
    while not (card and drained) and time.monotonic() < deadline:  # (the run reports after Slack shows the card)
        card = [m for m in world.slack.messages("#stage-alerts") if "api-5xx" in json.dumps(m.blocks)]
        runs = world.invocations("shared-services")[before:]
        drained = [i for i in runs if i["handler"] == "slack_cards" and i["status"] == "ok" and i["result"].get("sent")]
        time.sleep(0.5)
    assert card, "the card never reached Slack"
    refused = [c for c in world.slack.calls if c.method == method and c.status == 429]
    assert refused, "the stand-in's 429 was not met"
    queued = [i for i in runs if i["handler"] == "on_peer" and "queued" in json.dumps(i["result"])]
    assert queued and drained, [(i["handler"], i["result"]) for i in runs]


# ---- IAM: every function under its own role, access control on ----

def test_every_function_has_the_role_chalice_package_makes_with_its_generated_policy(world):
    for account in world.accounts:
        generated = iam_policy.policies_for(account)
        roles = {f: r for f, r in world.roles[account].items() if f != iam.DELIVERY_ROLE}
        assert set(roles) == set(generated)
        client = world.client(account, "iam")
        for function, role in roles.items():
            assert role.name.startswith(f"switchboard-app-{iam.cfn_logical_id(function)}Role-")  # the bus admits them
            [name] = client.list_role_policies(RoleName=role.name)["PolicyNames"]
            got = client.get_role_policy(RoleName=role.name, PolicyName=name)["PolicyDocument"]
            assert (json.loads(got) if isinstance(got, str) else got) == generated[function]
    running = {tuple(key.split("/")) for key in world._procs}
    assert ("prod", "on_alarm") in running and ("shared-services", "api_handler") in running
    assert ("stage", "api_handler") not in running and ("prod", "rotate_secret") not in running


def _as(world, account, function, service):
    creds = world.function_credentials[account][function]
    return boto3.Session(aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
                         aws_session_token=creds.session_token, region_name=world.accounts[account].region,
                         ).client(service, endpoint_url=world.emulator.url)


def test_a_function_may_not_do_what_its_policy_does_not_say(world):
    """on_ecs has no capacity rights; on_alarm (scaling's alarm rules) has them, for web only."""
    before = len(world.denials())
    with pytest.raises(ClientError) as refused:
        _as(world, "prod", "on_ecs", "ecs").update_service(cluster="prod", service="web", desiredCount=9)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "assumed-role/switchboard-app-OnEcsRole-" in str(refused.value)
    assert "is not authorized to perform: ecs:UpdateService on resource: arn:aws:ecs:" in str(refused.value)
    ecs = _as(world, "prod", "on_alarm", "ecs")
    assert ecs.describe_services(cluster="prod", services=["web"])["services"][0]["serviceName"] == "web"
    with pytest.raises(ClientError):
        ecs.describe_services(cluster="prod", services=["not-web"])
    assert [(d.function, d.action) for d in world.denials()[before:]] == [
        ("on_ecs", "ecs:UpdateService"), ("on_alarm", "ecs:DescribeServices")]


def test_a_statement_taken_away_fails_the_invocation_naming_the_function_and_the_action(world):
    """The generated policy of prod's on_ecs without its Ledger statement: the event fails, refused, with on_ecs and
    the ledger action named by the instance and by the world; with the statement back, Lambda's retry succeeds."""
    role = world.roles["prod"]["on_ecs"].name
    client = world.client("prod", "iam")
    [name] = client.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam_policy.policies_for("prod")["on_ecs"]
    without = {**document, "Statement": [s for s in document["Statement"] if s["Sid"] != "Ledger"]}
    before = len(world.denials())
    client.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(without))
    try:
        sample = json.loads((SAMPLES / "ecs-deployment-web-prod-completed.json").read_text())
        event_id = world.simulator("prod").put("aws.ecs", sample["detail-type"], sample["detail"],
                                               resources=sample["resources"])
        deadline = time.monotonic() + 20
        failed = []
        while not failed and time.monotonic() < deadline:
            failed = [i for i in world.invocations("prod", event_id) if i["status"] == "error"]
            time.sleep(0.1)
    finally:
        client.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    assert failed, "the invocation did not fail without the Ledger statement"
    denied = failed[0]["denied"]
    assert denied["function"] == "on_ecs" and denied["action"].startswith("dynamodb:")
    assert "switchboard-ledger" in denied["resource"]
    lines = [d.line() for d in world.denials()[before:]]
    assert lines and all(line.startswith("prod: on_ecs may not dynamodb:") for line in lines)
    assert world.wait_invocations("prod", event_id), "Lambda's retry, with the statement back, did not succeed"


def test_demo_without_a_statement_names_it_and_refuses_unknown_ones():
    policies = demo.without(["prod/on_alarm/AlarmTags"])
    assert "AlarmTags" not in [s["Sid"] for s in policies["prod"]["on_alarm"]["Statement"]]
    assert policies["prod"]["on_peer"] == iam_policy.policies_for("prod")["on_peer"]
    for bad, said in [("prod/on_alarm", "say ACCOUNT/FUNCTION/SID"), ("prod/on_nothing/Ledger", "no function"),
                      ("prod/on_alarm/Nope", "has no statement Nope")]:
        with pytest.raises(ValueError, match=said):
            demo.without([bad])


def test_iam_wildcards_and_role_names_as_aws_has_them():
    assert iam.iam_match("arn:aws:secretsmanager:eu-west-1:1:secret:switchboard/slack-??????",
                         "arn:aws:secretsmanager:eu-west-1:1:secret:switchboard/slack-AbC123")
    assert not iam.iam_match("arn:aws:secretsmanager:eu-west-1:1:secret:switchboard/slack-??????",
                             "arn:aws:secretsmanager:eu-west-1:1:secret:switchboard/slack-AbC1234")
    assert not iam.iam_match("arn:aws:sqs:eu-west-1:1:a.b", "arn:aws:sqs:eu-west-1:1:aXb")  # '.' is literal
    assert iam.iam_match("arn:aws:logs:*:log-group:/aws/lambda/switchboard-*", "arn:aws:logs:r:log-group:/aws/lambda/"
                         "switchboard-x:log-stream:y")
    name = iam.role_name("111122223333", "api_handler")
    prefix = "switchboard-app-ApiHandlerRole-"
    assert name.startswith(prefix) and len(name) == len(prefix) + 12
    assert name == iam.role_name("111122223333", "api_handler") != iam.role_name("222233334444", "api_handler")
