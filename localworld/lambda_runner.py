"""Lazy listeners without Lambda: what Bolt's ``ChaliceLazyListenerRunner`` asks of a Lambda client.

On AWS, Bolt acknowledges a Slack request and then invokes the same function asynchronously
(``InvocationType="Event"``) with a copy of the request marked lazy-only; that invocation runs the lazy
listener. There is no Lambda in the local world (and Bolt's own ``LocalLambdaClient`` runs it synchronously,
before the ack is sent), so this client hands the payload to the Chalice app itself, in a thread, as Lambda would.
``asynchronous=False`` queues the invocations instead; ``drain()`` runs them: deterministic, for tests.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from localworld.instance import LambdaContext


class LocalLambdaClient:
    def __init__(self, chalice_app: Any, *, asynchronous: bool = True,
                 report: Callable[[dict[str, Any]], None] | None = None):
        self.app = chalice_app
        self.report = report  # told of every failed lazy invocation (the instance prints it as a failed invocation)
        self.asynchronous = asynchronous
        self.pending: deque[tuple[str, dict[str, Any]]] = deque()
        self.invocations: list[str] = []
        self.errors: list[str] = []
        self._threads: list[threading.Thread] = []

    def invoke(self, FunctionName: str, InvocationType: str = "Event", Payload: str = "{}") -> dict[str, Any]:  # noqa: N803 - boto3's names
        if InvocationType != "Event":
            raise ValueError(f"only asynchronous invocations are emulated, not {InvocationType}")
        event = json.loads(Payload)
        self.invocations.append(FunctionName)
        if self.asynchronous:
            thread = threading.Thread(target=self._run, args=(FunctionName, event), daemon=True)
            self._threads.append(thread)
            thread.start()
        else:
            self.pending.append((FunctionName, event))
        return {"StatusCode": 202}

    def _run(self, function_name: str, event: dict[str, Any]) -> None:
        try:
            response = self.app(event, LambdaContext(function_name))
            if isinstance(response, dict) and response.get("statusCode", 200) >= 400:
                self.errors.append(f"{function_name}: HTTP {response['statusCode']}: {response.get('body')}")
        except Exception as exc:  # noqa: BLE001 - report, as Lambda would log it
            self.errors.append(f"{function_name}: {type(exc).__name__}: {exc}")
            if self.report is not None:
                from localworld.instance import denial

                failed = {"handler": "api_handler", "status": "error", "lazy": True, "event_id": None,
                          "result": {"error": f"{type(exc).__name__}: {exc}"}}
                denied = denial("api_handler", exc)
                self.report({**failed, **({"denied": denied} if denied else {})})

    def drain(self) -> int:
        """Run every queued invocation (and any they queue); returns how many ran."""
        ran = 0
        while self.pending:
            self._run(*self.pending.popleft())
            ran += 1
        return ran

    def join(self, timeout: float = 10.0) -> None:
        for thread in list(self._threads):
            thread.join(timeout)
