"""The Chalice app class app.py instantiates: Chalice, plus one thing Lambda needs to see.

Chalice turns an exception in a route into an HTTP 500 response, and Bolt logs and swallows an exception in a lazy
listener; either way the Lambda invocation *succeeds*, so an asynchronous invocation (Bolt's self-invocation that
runs a lazy listener) would never be retried nor reach the dead-letter queue. Code that has failed in a way that
must count calls ``fail(reason)``; after Chalice answers, ``App.__call__`` raises ``InvocationFailed``.

Imports nothing heavy: every function loads it at cold start.
"""

from __future__ import annotations

import threading
from typing import Any

from chalice import Chalice

_failed = threading.local()


class InvocationFailed(RuntimeError):
    """Raised to Lambda after Chalice answered, for a failure Chalice or Bolt had swallowed."""


def fail(reason: str) -> None:
    """Make the current invocation fail once Chalice has answered (Lambda then retries it, then dead-letters it)."""
    _failed.reason = reason


class App(Chalice):
    def __call__(self, event: Any, context: Any) -> Any:
        _failed.reason = None
        response = super().__call__(event, context)
        reason, _failed.reason = getattr(_failed, "reason", None), None
        if reason is not None:
            raise InvocationFailed(reason)
        return response
