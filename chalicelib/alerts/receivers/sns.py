"""SNS: one JSON message per notification (the webhook's shape), with the status as a message attribute so
subscribers can filter."""

from __future__ import annotations

import json
import re

from chalicelib import aws
from chalicelib.alerts.policy import SnsTarget
from chalicelib.alerts.receivers import webhook
from chalicelib.alerts.receivers.notification import Notification
from chalicelib.alerts.receivers.slack import title
from chalicelib.alerts.text import clip

_SUBJECT = re.compile(r"[^\x20-\x7e]")  # SNS subjects: printable ASCII, no newlines, at most 100 characters


def send(config: SnsTarget, n: Notification) -> str:
    message = webhook.payload(n)
    subject = clip(_SUBJECT.sub("?", f"[{n.status.upper()}] {title(n.incident)} ({n.incident.environment})"), 100)
    extra = {}
    if config.topic_arn.endswith(".fifo"):
        extra = {"MessageGroupId": n.incident.key, "MessageDeduplicationId": f"{n.incident.id}.{n.seq}.{n.action}"}
    region = config.topic_arn.split(":")[3]
    answer = aws.client("sns", region=region).publish(
        TopicArn=config.topic_arn, Subject=subject, Message=json.dumps(message, default=str),
        MessageAttributes={"status": {"DataType": "String", "StringValue": n.status},
                           "action": {"DataType": "String", "StringValue": n.action}}, **extra)
    return f"published {answer['MessageId']}"
