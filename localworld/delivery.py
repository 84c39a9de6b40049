"""EventBridge delivery in the local world, through moto's own rules and pattern matching.

On AWS, Chalice creates one rule per ``on_cw_event`` handler with a Lambda target. Here each handler's rule
(the same pattern, read from the Chalice app) targets an SQS queue with the input template
``<aws.events.event.json>``; the instance drains the queue into the handler. A message that failed three times
(the first try and Lambda's two async retries) goes to ``switchboard-dead-letters`` as the record Lambda's
``OnFailure`` destination writes (``dead_letter``), so `switchboard dead-letters` reads the same shape as on AWS.

One gap is emulated: moto re-stamps ``account`` and ``id`` when a rule forwards an event to another
account's bus (AWS keeps the sender's), which would defeat the receiving rule's ``account`` match. So the
peer-link rules' targets are redirected to a local outbox queue, and ``Relay`` delivers each event, as
sent, to every rule in the peer account whose pattern matches it. Matching uses moto's own pattern engine
(``moto.events.models.EventPattern``, the code moto's rules route with) in-process, because moto 5.2.5's
``TestEventPattern`` API handler is a stub that returns nothing.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import boto3

INPUT_TEMPLATE = "<aws.events.event.json>"
DLQ_NAME = "switchboard-dead-letters"
RETRY_VISIBILITY_SECONDS = 2  # how soon a failed invocation is retried locally
MAX_RECEIVES = 3  # first try + Lambda's two async retries


def matches(pattern: str, event: dict[str, Any]) -> bool:
    """Does an EventBridge pattern (JSON) match the event? Asks moto's own pattern engine."""
    from moto.events.models import EventPattern

    return EventPattern.load(pattern).matches_event(event)


def queue_name(handler: str) -> str:
    return f"switchboard-local-{handler}".replace("_", "-")


def rule_name(handler: str) -> str:
    return f"switchboard-{handler}".replace("_", "-")


def subscribe(session: boto3.Session, endpoint_url: str, handler: str, pattern: dict[str, Any]) -> str:
    """Create the handler's rule and queue; returns the queue URL."""
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    events = session.client("events", endpoint_url=endpoint_url)
    url = sqs.create_queue(QueueName=queue_name(handler), Attributes={
        "VisibilityTimeout": str(RETRY_VISIBILITY_SECONDS)})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule_name(handler), EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule_name(handler), Targets=[
        {"Id": "local-queue", "Arn": arn, "InputTransformer": {"InputPathsMap": {}, "InputTemplate": INPUT_TEMPLATE}}])
    return url


def dead_letter(sqs: Any, function_arn: str, event: Any, error: str, attempts: int, sender: Any = None) -> None:
    """What Lambda's asynchronous ``OnFailure`` destination puts on the queue when it gives up on an event.
    ``sender``: the SQS client that sends it (Lambda sends with the function's role; ``sqs`` finds the queue)."""
    from datetime import UTC, datetime

    error_type, _, message = error.partition(": ")
    record = {"version": "1.0", "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
              "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{function_arn}:$LATEST",
                                 "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
              "requestPayload": event,
              "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
              "responsePayload": {"errorType": error_type, "errorMessage": message}}
    url = sqs.get_queue_url(QueueName=DLQ_NAME)["QueueUrl"]
    (sender or sqs).send_message(QueueUrl=url, MessageBody=json.dumps(record))


def outbox_name(peer_id: str) -> str:
    return f"switchboard-local-outbox-{peer_id}"


def redirect_peer_links(session: boto3.Session, endpoint_url: str, peer_ids: list[str]) -> dict[str, str]:
    """Point each peer-link rule (from infra/peer-link.yaml) at a local outbox; returns peer id -> queue URL."""
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    events = session.client("events", endpoint_url=endpoint_url)
    outboxes = {}
    for peer_id in peer_ids:
        rule = f"switchboard-to-{peer_id}"
        url = sqs.create_queue(QueueName=outbox_name(peer_id))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        old = [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]]
        if old:
            events.remove_targets(Rule=rule, Ids=old)
        events.put_targets(Rule=rule, Targets=[{"Id": "local-outbox", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {}, "InputTemplate": INPUT_TEMPLATE}}])
        outboxes[peer_id] = url
    return outboxes


class Relay:
    """Cross-account delivery that keeps the sender's ``account`` and ``id``, as EventBridge does."""

    def __init__(self, endpoint_url: str):
        self.endpoint_url = endpoint_url
        self._routes: list[tuple[Any, str, boto3.Session]] = []  # (sender sqs, outbox url, peer session)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.delivered: list[dict[str, Any]] = []

    def add(self, sender: boto3.Session, outbox_url: str, peer: boto3.Session) -> None:
        self._routes.append((sender.client("sqs", endpoint_url=self.endpoint_url), outbox_url, peer))

    def start(self) -> Relay:
        for route in self._routes:
            thread = threading.Thread(target=self._pump, args=route, daemon=True, name="relay")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _pump(self, sqs: Any, outbox_url: str, peer: boto3.Session) -> None:
        events = peer.client("events", endpoint_url=self.endpoint_url)
        peer_sqs = peer.client("sqs", endpoint_url=self.endpoint_url)
        while not self._stop.is_set():
            messages = sqs.receive_message(QueueUrl=outbox_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", [])
            for message in messages:
                self.deliver(events, peer_sqs, json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=outbox_url, ReceiptHandle=message["ReceiptHandle"])

    def deliver(self, events: Any, sqs: Any, event: dict[str, Any]) -> list[str]:
        matched = []
        for rule in events.list_rules()["Rules"]:
            if "EventPattern" not in rule or rule.get("State") != "ENABLED":
                continue
            if not matches(rule["EventPattern"], event):
                continue
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                if target["Arn"].split(":")[2] == "sqs":
                    url = sqs.get_queue_url(QueueName=target["Arn"].rsplit(":", 1)[-1])["QueueUrl"]
                    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
                    matched.append(rule["Name"])
        self.delivered.append({"event_id": event.get("id"), "rules": matched})
        return matched
