"""Lambda's asynchronous-invocation failure record, as plain data (pure).

    {"version": "1.0", "timestamp": "...Z",
     "requestContext": {"requestId", "functionArn", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
     "requestPayload": <the event>, "responseContext": {...},
     "responsePayload": {"errorMessage", "errorType", ...}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class NotADeadLetter(ValueError):
    """The message is not Lambda's failure record (so it cannot be redriven); the reason says why."""


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    function_arn: str
    condition: str
    attempts: int
    error: str
    payload: Any
    at: str

    @property
    def function(self) -> str:
        """The function's name (the ARN without a version or alias)."""
        parts = self.function_arn.split(":")
        return parts[6] if len(parts) > 6 else self.function_arn

    @property
    def summary(self) -> str:
        """What the payload was, in a few words (an EventBridge event: its source, type and id)."""
        p = self.payload
        if isinstance(p, dict) and "detail-type" in p:
            return f"{p.get('source')} / {p.get('detail-type')} ({p.get('id')})"
        if isinstance(p, dict) and "Step" in p and "SecretId" in p:
            return f"rotation {p['Step']} of {p['SecretId']}"
        return type(p).__name__


def parse(message_id: str, body: str) -> DeadLetter:
    try:
        record = json.loads(body)
    except ValueError:
        raise NotADeadLetter("the body is not JSON") from None
    context = record.get("requestContext") if isinstance(record, dict) else None
    if not isinstance(context, dict) or not isinstance(context.get("functionArn"), str) \
            or "requestPayload" not in record:
        raise NotADeadLetter("not a Lambda failure record (no requestContext.functionArn and requestPayload)")
    response = record.get("responsePayload")
    if isinstance(response, dict):
        error = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', '')}".strip()
    else:
        error = str((record.get("responseContext") or {}).get("functionError") or "unknown")
    return DeadLetter(message_id=message_id, function_arn=context["functionArn"],
                      condition=str(context.get("condition", "?")),
                      attempts=int(context.get("approximateInvokeCount") or 0), error=error[:500],
                      payload=record["requestPayload"], at=str(record.get("timestamp", "")))
