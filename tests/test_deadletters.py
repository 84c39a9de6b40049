"""Dead letters: Lambda's failure records are read, listed and redriven exactly as they are; nothing is lost."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib.deadletters import queue, records
from chalicelib.state import audit

ARN = "arn:aws:lambda:eu-west-1:333344445555:function:switchboard-app-OnAlarm-1X2Y"
EVENT = {"version": "0", "id": "evt-1", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
         "account": "333344445555", "time": "2026-12-06T10:00:00Z", "region": "eu-west-1", "resources": [],
         "detail": {"alarmName": "web-5xx"}}


def record(payload=EVENT, arn=ARN, condition="RetriesExhausted", error=("ThrottlingException", "Rate exceeded")):
    return json.dumps({"version": "1.0", "timestamp": "2026-12-06T10:03:00.000Z",
                       "requestContext": {"requestId": "r1", "functionArn": f"{arn}:$LATEST", "condition": condition,
                                          "approximateInvokeCount": 3},
                       "requestPayload": payload,
                       "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
                       "responsePayload": {"errorType": error[0], "errorMessage": error[1]}})


@pytest.mark.parametrize(("body", "expected"), [
    (record(), ("switchboard-app-OnAlarm-1X2Y", "RetriesExhausted", 3, "ThrottlingException: Rate exceeded",
                "aws.cloudwatch / CloudWatch Alarm State Change (evt-1)")),
    (record({"SecretId": "web/db", "Step": "setSecret", "ClientRequestToken": "t"}, condition="EventAgeExceeded"),
     ("switchboard-app-OnAlarm-1X2Y", "EventAgeExceeded", 3, "ThrottlingException: Rate exceeded",
      "rotation setSecret of web/db")),
])
def test_a_failure_record_is_read(body, expected):
    d = records.parse("m1", body)
    assert (d.function, d.condition, d.attempts, d.error, d.summary) == expected


@pytest.mark.parametrize(("body", "reason"), [
    ("not json", "the body is not JSON"),
    (json.dumps(EVENT), "not a Lambda failure record"),
    (json.dumps({"requestContext": {"functionArn": ARN}}), "not a Lambda failure record"),
])
def test_anything_else_is_not_a_dead_letter(body, reason):
    with pytest.raises(records.NotADeadLetter, match=reason):
        records.parse("m1", body)


@pytest.fixture
def dlq(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=queue.QUEUE)["QueueUrl"]
    yield lambda body: sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]
    queue.use_invoker(None)


def test_listing_reads_without_removing(dlq):
    first, odd = dlq(record()), dlq("a raw event that is not Lambda's record")
    for _ in range(2):  # a second listing sees the same: listing hides nothing
        listed = queue.list_letters()
        assert [d.message_id for d in listed.letters] == [first]
        assert listed.unreadable == [(odd, "the body is not JSON")]
    assert queue.depth() == 2


def test_redrive_invokes_the_same_function_with_the_same_payload_then_deletes_and_audits(dlq):
    calls = []
    queue.use_invoker(lambda arn, payload: calls.append((arn, payload)))
    wanted, other = dlq(record()), dlq(record(arn=ARN.replace("OnAlarm", "OnPeer")))
    done = queue.redrive({wanted}, actor="U0ADMIN001", correlation_id="slack:1")
    assert done == [{"id": wanted, "function": "switchboard-app-OnAlarm-1X2Y", "outcome": "redriven",
                     "reason": "aws.cloudwatch / CloudWatch Alarm State Change (evt-1)"}]
    assert calls == [(f"{ARN}:$LATEST", EVENT)]
    assert [d.message_id for d in queue.list_letters().letters] == [other]  # only the chosen one went
    [entry] = audit.for_target("function/switchboard-app-OnAlarm-1X2Y")
    assert (entry.action, entry.outcome, entry.actor) == ("deadletters.redrive", "succeeded", "U0ADMIN001")


def test_a_redrive_that_fails_leaves_the_letter_and_says_why(dlq):
    """The function is gone (deleted, renamed by a redeploy): Lambda answers ResourceNotFoundException."""
    from botocore.exceptions import ClientError

    def gone(arn, payload):
        raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": f"Function not found: {arn}"}},
                          "Invoke")

    queue.use_invoker(gone)
    letter = dlq(record())
    [done] = queue.redrive(None, actor="system", correlation_id="c")
    assert done["outcome"] == "failed" and "ResourceNotFoundException" in done["reason"]
    assert [d.message_id for d in queue.list_letters().letters] == [letter]
    [entry] = audit.for_target("function/switchboard-app-OnAlarm-1X2Y")
    assert entry.outcome == "failed"


def test_ops_deadletters_and_redrive_run_in_the_account_that_holds_them(dlq, slack, monkeypatch):
    """The front door forwards `/ops deadletters in prod` and `/ops redrive all in prod`; prod re-checks the role
    with its own policy, lists and redrives its own dead letters, and answers on the response_url."""
    from chalicelib.intake.pipeline import Kind, handle
    from tests.events import SHARED, context, peer
    from tests.frontdoor_kit import as_account

    monkeypatch.setenv("SWITCHBOARD_SLACK_API_URL", slack.api_url)
    as_account(monkeypatch, "prod")
    calls = []
    queue.use_invoker(lambda arn, payload: calls.append(payload["id"]))
    letter = dlq(record())

    def ops(text: str, user: str = "U0ADMIN001") -> str:
        url = slack.response_url(text.replace(" ", "-") + "-" + user)
        asked = {"text": text, "user": user, "groups": [], "response_url": url,
                 "channel": "C0OPS", "request_id": f"slack:{text}"}
        outcome = handle(Kind.PEER, peer("command", account=SHARED, from_account="shared-services", payload=asked),
                         context())
        assert outcome["outcome"] == "processed", outcome
        return json.dumps(slack.responses(url))

    listed = ops("deadletters in prod")
    assert letter[:36] in listed and "switchboard-app-OnAlarm-1X2Y" in listed and "RetriesExhausted after 3" in listed
    assert "redrive &lt;id&gt;|all in prod" in listed
    denied = ops("redrive all in prod", user="U0NOBODY01")
    assert "Denied in prod" in denied and calls == []
    done = ops("redrive all in prod")
    assert "redriven" in done and calls == ["evt-1"] and queue.depth() == 0
    assert "none: nothing waits" in ops("deadletters in prod")
