"""The dead-letter queue: list what is in it, redrive it (adapters; injected invoker for the local world)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib import aws
from chalicelib.deadletters.records import DeadLetter, NotADeadLetter, parse
from chalicelib.state import audit
from chalicelib.state.audit import Outcome

QUEUE = "switchboard-dead-letters"
HOLD_SECONDS = 30  # how long a listed or redriven message is hidden from another reader meanwhile

# (function ARN, payload) -> None: invoke the function asynchronously
Invoker = Callable[[str, Any], None]
_invoker: dict[str, Invoker | None] = {"fn": None}


def use_invoker(invoker: Invoker | None) -> None:
    """The local world has no Lambda: it hands the payload to the function's own queue instead."""
    _invoker["fn"] = invoker


def _invoke(function_arn: str, payload: Any) -> None:
    if _invoker["fn"] is not None:
        _invoker["fn"](function_arn, payload)
        return
    aws.client("lambda").invoke(FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(payload))


@dataclass(frozen=True)
class Listed:
    letters: list[DeadLetter]
    unreadable: list[tuple[str, str]]  # (message id, why)


def _url() -> str:
    return aws.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]


def _receive(url: str, limit: int) -> list[dict[str, Any]]:
    sqs, got = aws.client("sqs"), []
    while len(got) < limit:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, limit - len(got)),
                                    VisibilityTimeout=HOLD_SECONDS, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            break
        got.extend(batch)
    return got


def _release(url: str, messages: list[dict[str, Any]]) -> None:
    sqs = aws.client("sqs")
    for message in messages:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def _read(messages: list[dict[str, Any]]) -> tuple[list[tuple[DeadLetter, dict[str, Any]]], list[tuple[str, str]]]:
    letters, unreadable = [], []
    for message in messages:
        try:
            letters.append((parse(message["MessageId"], message["Body"]), message))
        except NotADeadLetter as exc:
            unreadable.append((message["MessageId"], str(exc)))
    return letters, unreadable


def depth() -> int:
    attrs = aws.client("sqs").get_queue_attributes(
        QueueUrl=_url(), AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attrs["Attributes"].values())


def list_letters(limit: int = 50) -> Listed:
    """Read up to ``limit`` dead letters without removing them (they are visible again right after)."""
    url = _url()
    messages = _receive(url, limit)
    try:
        letters, unreadable = _read(messages)
    finally:
        _release(url, messages)
    return Listed([letter for letter, _ in letters], unreadable)


def redrive(message_ids: set[str] | None, *, actor: str, correlation_id: str, limit: int = 50) -> list[dict[str, str]]:
    """Invoke each chosen dead letter's function again with its payload (``None``: all of them), then delete it.

    The function's own ledger keeps this exactly-once (an event that did succeed meanwhile is a duplicate). A
    message that is not Lambda's record is left where it is and reported."""
    url = _url()
    messages = _receive(url, limit)
    letters, unreadable = _read(messages)
    sqs, done, keep = aws.client("sqs"), [], []
    for letter, message in letters:
        if message_ids is not None and letter.message_id not in message_ids:
            keep.append(message)
            continue
        target = f"function/{letter.function}"
        try:
            _invoke(letter.function_arn, letter.payload)
        except Exception as exc:  # noqa: BLE001 - reported and audited; the letter stays in the queue
            keep.append(message)
            reason = f"{type(exc).__name__}: {exc}"
            audit.record(action="deadletters.redrive", target=target, outcome=Outcome.FAILED, actor=actor,
                         correlation_id=correlation_id, capability="deadletters", reason=reason,
                         detail={"message_id": letter.message_id, "payload": letter.summary})
            done.append({"id": letter.message_id, "function": letter.function, "outcome": "failed", "reason": reason})
            continue
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        audit.record(action="deadletters.redrive", target=target, outcome=Outcome.SUCCEEDED, actor=actor,
                     correlation_id=correlation_id, capability="deadletters",
                     reason=f"{letter.condition} after {letter.attempts} attempts: {letter.error}"[:300],
                     detail={"message_id": letter.message_id, "payload": letter.summary})
        done.append({"id": letter.message_id, "function": letter.function, "outcome": "redriven",
                     "reason": letter.summary})
    _release(url, keep + [m for m in messages if m["MessageId"] in {i for i, _ in unreadable}])
    done += [{"id": i, "function": "-", "outcome": "left", "reason": why} for i, why in unreadable
             if message_ids is None or i in message_ids]
    return done
