"""One Switchboard function, as Lambda runs it: the Chalice app of one account, in its own process, with that
account's stage environment and the credentials of the function's own role, fed by its rule's queue (see
delivery.py), ticked at its rate, or serving the API (the front door's ``api_handler``, with Bolt's lazy
listeners in the same process, under the same role).

    python -m localworld.instance --account prod --function on_alarm   (environment prepared by localworld.world)

The queue is drained with the local world's delivery role (``SWITCHBOARD_LOCAL_DELIVERY_CREDENTIALS``, taken out of
the environment before the app is imported): Lambda polls with its own identity, the handler runs with the
function's. Prints ``READY <account> <function>`` once subscribed, then one JSON line per invocation to stdout; an
invocation that failed on a refused AWS call says so (``denied``: the function and the action).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from typing import Any

from localworld import clock, delivery


class LambdaContext:
    """The parts of Lambda's context object that Chalice and Powertools read."""

    def __init__(self, function_name: str, timeout_s: int = 60):
        self.function_name = f"switchboard-{os.environ.get('SWITCHBOARD_ACCOUNT_NAME', 'local')}-{function_name}"
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def cw_event_handlers(app_module: Any) -> dict[str, tuple[Any, dict[str, Any]]]:
    """handler name -> (callable as Lambda would call it, its EventBridge pattern), read from the Chalice app."""
    from chalice.app import CloudWatchEventConfig

    found = {}
    for source in app_module.app.event_sources:
        if isinstance(source, CloudWatchEventConfig):
            found[source.name] = (getattr(app_module, source.name), source.event_pattern)
    return found


def schedules(app_module: Any) -> dict[str, tuple[Any, float]]:
    """handler name -> (callable, period in seconds) for every ``@app.schedule`` with a rate expression."""
    from chalice.app import ScheduledEventConfig

    units = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
    found = {}
    for source in app_module.app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            text = expression if isinstance(expression, str) else expression.to_string()
            if text.startswith("rate(") and text.endswith(")"):
                count, unit = text[5:-1].split()
                found[source.name] = (getattr(app_module, source.name), int(count) * units[unit])
            else:
                print(f"SKIPPED schedule {source.name}: {text} (the local world runs rate() schedules only)")
    return found


def scheduled_event(name: str) -> dict[str, Any]:
    """What an EventBridge schedule rule delivers (source aws.events, detail-type Scheduled Event)."""
    from datetime import UTC, datetime

    region = os.environ.get("AWS_REGION", "eu-west-1")
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "local", "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [f"arn:aws:events:{region}:local:rule/switchboard-{name}"], "detail": {}}


class InjectedFault(RuntimeError):
    """The local world's stand-in for a Lambda that crashes or times out (``World.fault``)."""


def _faulted(name: str) -> bool:
    """A file named after the handler in SWITCHBOARD_LOCAL_FAULTS makes its invocations fail (local world only)."""
    folder = os.environ.get("SWITCHBOARD_LOCAL_FAULTS")
    return bool(folder) and os.path.exists(os.path.join(folder, name))


_DENIED = re.compile(r"is not authorized to perform: (?P<action>\S+)(?: on resource: (?P<resource>\S+))?")


def denial(name: str, error: BaseException) -> dict[str, Any] | None:
    """The function and the action of an AWS call IAM refused (AccessDenied), if that is what ``error`` is or wraps
    (PynamoDB wraps botocore's error in its own)."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        found = _DENIED.search(str(current))
        if found:
            return {"function": name, "action": found["action"], "resource": found["resource"],
                    "message": str(current)[:500]}
        current = current.__cause__ or current.__context__
    return None


def invoke(handler: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    denied = None
    try:
        if _faulted(name):
            raise InjectedFault(f"{name} crashed (a fault injected by the local world)")
        result = handler(event, LambdaContext(name))
        status = "ok"
    except Exception as exc:  # noqa: BLE001 - a failed invocation is reported and retried, like Lambda
        result, status = {"error": f"{type(exc).__name__}: {exc}"}, "error"
        denied = denial(name, exc)
    report = {"handler": name, "status": status, "ms": round((time.perf_counter() - started) * 1000, 1),
              "event_id": event.get("id"), "result": result, "event": event}
    if denied:
        report["denied"] = denied
    return report


def delivery_session() -> Any:
    """The local world's Lambda service identity (drains the queue, deploys the rule), taken out of the environment
    so that nothing the handler runs can use it."""
    import boto3

    creds = json.loads(os.environ.pop("SWITCHBOARD_LOCAL_DELIVERY_CREDENTIALS", "null") or "null")
    if not creds:
        return boto3.Session()
    return boto3.Session(aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                         aws_session_token=creds["AWS_SESSION_TOKEN"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--account", required=True)
    parser.add_argument("--function", required=True, help="the Chalice function this process is (its role's)")
    args = parser.parse_args(argv)
    if os.environ.get("SWITCHBOARD_ACCOUNT_NAME") != args.account:
        print(f"environment is for {os.environ.get('SWITCHBOARD_ACCOUNT_NAME')!r}, not {args.account!r}",
              file=sys.stderr)
        return 2

    boot_clock()

    import boto3

    endpoint = os.environ["AWS_ENDPOINT_URL"]
    service = delivery_session()
    app_module = importlib.import_module("app")
    handlers = cw_event_handlers(app_module)
    ticking = schedules(app_module)
    name = args.function
    serves_http = name == "api_handler" and _is_front_door(args.account)
    if name not in handlers and name not in ticking and not serves_http:
        print(f"{name} has no work in the local world of {args.account} (EventBridge handlers: "
              f"{', '.join(sorted(handlers))}; rate schedules: {', '.join(sorted(ticking))}; api_handler in the "
              "front door)", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # Ctrl-C on `switchboard up` reaches the whole group
        signal.signal(signum, lambda *_: stop.set())
    out_lock = threading.Lock()

    def report(line: dict[str, Any]) -> None:
        with out_lock:
            print("INVOKED " + json.dumps({"account": args.account, **line}, default=str), flush=True)

    def drain(url: str) -> None:
        sqs = service.client("sqs", endpoint_url=endpoint)
        own_sqs = boto3.Session().client("sqs", endpoint_url=endpoint)  # the function's role: OnFailure
        handler = handlers[name][0]
        while not stop.is_set():
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                               AttributeNames=["ApproximateReceiveCount"]).get("Messages", []):
                event = json.loads(message["Body"])
                done = invoke(handler, name, event)
                attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                gives_up = done["status"] != "ok" and attempts >= delivery.MAX_RECEIVES  # Lambda's OnFailure
                if gives_up:
                    done["dead_lettered"] = True
                report(done)  # first: whoever sees the dead letter has seen every try
                if gives_up:
                    delivery.dead_letter(sqs, LambdaContext(name).invoked_function_arn, event,
                                         done["result"]["error"], attempts, sender=own_sqs)
                if done["status"] == "ok" or gives_up:  # else: visible again, retried
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def tick(handler: Any, period: float) -> None:
        while not stop.wait(period):
            report(invoke(handler, name, scheduled_event(name)))

    threads = []
    if name in handlers:
        url = delivery.subscribe(service, endpoint, name, handlers[name][1])
        threads.append(threading.Thread(target=drain, args=(url,), daemon=True))
    if name in ticking:
        threads.append(threading.Thread(target=tick, args=ticking[name], daemon=True))
    for thread in threads:
        thread.start()
    server = serve_http(app_module, args.account, report) if serves_http else None
    if server is not None:
        print(f"HTTP {args.account} http://127.0.0.1:{server.port}", flush=True)
    print(f"READY {args.account} {name}", flush=True)
    while not stop.is_set():
        stop.wait(0.5)
    if server is not None:
        server.shutdown()
    for thread in threads:
        thread.join(timeout=3)
    return 0


def boot_clock() -> None:
    """With ``SWITCHBOARD_FRESH_BOOT_CLOCK=1`` (localworld.world sets it), this instance is a freshly booted
    microVM: its ``time.monotonic()`` starts near 0 (before app.py and chalicelib are imported)."""
    if os.environ.get(clock.ENV) == "1":
        clock.install(clock.booted())


def _is_front_door(account: str) -> bool:
    from chalicelib.policy import loader as policy

    return policy.current().slack.front_door == account


def nodelay() -> None:
    """Chalice's local server writes headers and body in two sends with Nagle's algorithm on, so on a kept-alive
    connection the body waits for the client's delayed ACK (20-45 ms, measured by bench/slack_ack.py).
    API Gateway has no such delay; neither should the local world."""
    from chalice.local import ChaliceRequestHandler

    ChaliceRequestHandler.disable_nagle_algorithm = True


def serve_http(app_module: Any, account: str, report: Any = None) -> Any:
    """Serve the app's routes (Slack's request URLs) on a free loopback port, as API Gateway would.

    Bolt's lazy listeners get the local world's runner: the same function invoked again, in a thread.
    """
    from chalice.config import Config
    from chalice.local import create_local_server

    from chalicelib.frontdoor import http
    from localworld.emulator import free_port
    from localworld.lambda_runner import LocalLambdaClient

    http.use_lambda_client(LocalLambdaClient(app_module.app, report=report))
    nodelay()
    config = Config.create(chalice_stage=account, app_name="switchboard", function_name=f"switchboard-{account}",
                           lambda_timeout=60, lambda_memory_size=512)
    server = create_local_server(app_module.app, config, "127.0.0.1", free_port())
    server.port = server.server.server_address[1]
    threading.Thread(target=server.server.serve_forever, daemon=True, name="http").start()
    return server


if __name__ == "__main__":
    raise SystemExit(main())
