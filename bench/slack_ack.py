"""Warm Slack ack latency: a signed slash command through the real app against a bare Chalice route, on loopback.

Everything runs in this one process, on 127.0.0.1 only: moto's server (Secrets Manager, DynamoDB), the Slack
stand-in (it records any call made before an ack: there is none), and two Chalice apps served by chalice's local
server exactly as ``localworld/instance.py:serve_http`` serves the front door:

    app   ``app.app`` (Switchboard) at POST /slack/commands: Bolt's ``ChaliceSlackRequestHandler``
    bare  ``Chalice(app_name="bare")`` with the same route and content type, returning ``{}`` (200)

Each variant has its own ``requests.Session`` (keep-alive, as Slack's infrastructure keeps connections). Every
request gets a fresh body (fresh trigger_id and response_url) and fresh v0 signature headers, prepared before the
clock starts; the timed region (``time.perf_counter_ns``) is send + receive of the HTTP response, i.e. the ack.
The first request to the app is cold (it builds the Bolt app, fetches the secret; no Slack call) and is
reported on its own; then ``--warmup`` requests per variant are discarded, then ``--requests`` per variant are
timed, interleaved request by request (A B, B A, A B, ...) so machine noise hits both alike.

The lazy listener is handed to the local world's runner with ``asynchronous=False``: the hand-off (Bolt builds the
lazy payload, ``lambda_client.invoke``) is timed, the lazy work itself is only queued (it is not part of the ack)
and the queue is cleared periodically. On AWS that invoke is a call to the Lambda API (``InvocationType=Event``)
made before the ack is answered, as Bolt's ``ChaliceLazyListenerRunner`` does; its round-trip is not part of
these figures. The servers' access log (one stderr line per request, written before the
response) goes to os.devnull while measuring.

chalice's local server writes the status line + headers and the body in two ``send()`` calls; with Nagle's
algorithm on, most responses on a kept-alive loopback connection wait for the client's delayed ACK (20-45 ms,
both variants alike), which hides the app's own cost. API Gateway has no such delay, so the local world turns
Nagle off (``localworld.instance.nodelay``) and the goals apply to that pass. ``--with-nagle`` adds an
informational pass with Nagle on, to show the artefact.

Usage:
    python bench/slack_ack.py [--requests N] [--warmup N] [--with-nagle] [--enforce]

Exits 0 whatever the numbers, unless ``--enforce`` is given: then 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RATIO_GOAL = 1.5  # p99 app / p99 bare
WARM_P99_GOAL_MS = 100.0
SLACK_DEADLINE_MS = 3000.0
ACCOUNT = "shared-services"
REGION = "eu-west-1"
COMMAND_TEXT = "status web"
PATH = "/slack/commands"
CLEAR_PENDING_EVERY = 50

ACK_PATH = (
    "chalice local server (HTTP/1.1) -> LocalGateway -> app route -> frontdoor.http.handle",
    "slack.credentials() (Powertools Parameters cache hit; placeholder and rotation-window checks)",
    "the door: v0 HMAC-SHA256 signature (current/previous secret) + 5-minute window, pinned workspace, response_url",
    "our command, acked without Bolt's dispatch (http._ack_at_once): Bolt's request (body parse), Bolt's Ack",
    "ack listener: the pure grammar parse of 'status web' -> ephemeral '... on it'",
    "hand-off: Bolt's ChaliceLazyListenerRunner builds the lazy payload, lambda_client.invoke (queued, not run; "
    "on AWS one Lambda Invoke call, not measured here)",
    "Bolt response -> chalice Response -> HTTP response",
)

# Set before ``app`` (and PynamoDB's models, which read the endpoint at import) is imported.
BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "SWITCHBOARD_ACCOUNT_NAME": ACCOUNT,
    "SWITCHBOARD_POLICY_FILE": f"policies/{ACCOUNT}.yaml",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
# Would change what is measured (a profile's credentials, Bolt's own CLI-mode lambda client, ...).
ENV_REMOVED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CHALICE_CLI_MODE", "POWERTOOLS_DEV", "POWERTOOLS_DEBUG")


@dataclass
class Variant:
    name: str
    label: str
    url: str
    session: Any
    samples_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)  # the server thread's CPU per timed request

    def port(self) -> int:
        return int(self.url.split(":")[2].split("/")[0])

    def connections(self) -> int:
        """TCP connections this variant's session has opened (1 if the server kept the connection alive)."""
        pools = self.session.get_adapter(self.url).poolmanager.pools
        return sum(pools[key].num_connections for key in pools.keys())


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (statistics.quantiles, inclusive)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def prepare_environment(moto_url: str, slack_api_url: str) -> None:
    for name in ENV_REMOVED:
        os.environ.pop(name, None)
    os.environ.update(BASE_ENV)
    os.environ["AWS_ENDPOINT_URL"] = moto_url
    os.environ["SWITCHBOARD_SLACK_API_URL"] = slack_api_url
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def provision(moto_url: str) -> None:
    import boto3

    from chalicelib.state.models import AuditEntry, StateItem
    from localworld.slack_user import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET

    boto3.client("secretsmanager", endpoint_url=moto_url, region_name=REGION).create_secret(
        Name="switchboard/slack",
        SecretString=json.dumps({"signing_secret": LOCAL_SIGNING_SECRET, "bot_token": LOCAL_BOT_TOKEN}))
    AuditEntry.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    StateItem.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    boto3.client("dynamodb", endpoint_url=moto_url, region_name=REGION).create_table(
        TableName="switchboard-ledger", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def bare_app() -> Any:
    from chalice import Chalice

    bare = Chalice(app_name="bare")

    @bare.route(PATH, methods=["POST"], content_types=["application/x-www-form-urlencoded"])
    def slack_commands() -> dict[str, Any]:
        return {}

    return bare


def serve(chalice_app: Any, name: str) -> tuple[Any, threading.Thread, str]:
    """Serve ``chalice_app`` on a free loopback port, as localworld/instance.py:serve_http does."""
    from chalice.config import Config
    from chalice.local import create_local_server

    from localworld.emulator import free_port

    config = Config.create(chalice_stage=ACCOUNT, app_name=name, function_name=f"{name}-{ACCOUNT}",
                           lambda_timeout=60, lambda_memory_size=512)
    server = create_local_server(chalice_app, config, "127.0.0.1", free_port())
    port = server.server.server_address[1]
    thread = threading.Thread(target=server.server.serve_forever, daemon=True, name=f"http-{name}")
    thread.start()
    return server, thread, f"http://127.0.0.1:{port}{PATH}"


SERVER_CPU: dict[int, list[int]] = {}  # server port -> the server thread's CPU time (ns) per request


@contextlib.contextmanager
def server_cpu_recorded() -> Any:
    """Record the CPU time the serving thread spends on each POST (``ChaliceRequestHandler.do_POST``: the body
    read, the app, the response written), by server port. Thread time is not what Slack waits for, but
    unlike wall time it hardly moves with the machine's load: it shows what the app itself costs."""
    from chalice.local import ChaliceRequestHandler

    original = ChaliceRequestHandler.do_POST

    def timed(self: Any) -> None:
        started = time.thread_time_ns()
        try:
            original(self)
        finally:
            SERVER_CPU.setdefault(self.server.server_address[1], []).append(time.thread_time_ns() - started)

    ChaliceRequestHandler.do_POST = timed
    try:
        yield
    finally:
        ChaliceRequestHandler.do_POST = original


def send_command(variant: Variant, standin: Any) -> tuple[int, Any]:
    """One signed slash command; returns (ns from send to the whole response read, response)."""
    import requests

    from localworld.slack_user import command_body, signed_headers

    body = command_body(COMMAND_TEXT, "dave", standin.response_url("bench"))
    prepared = variant.session.prepare_request(
        requests.Request("POST", variant.url, data=body.encode(), headers=signed_headers(body)))
    started = time.perf_counter_ns()
    response = variant.session.send(prepared, timeout=10)
    elapsed = time.perf_counter_ns() - started
    return elapsed, response


def check(variant: Variant, response: Any) -> None:
    ok = response.status_code == 200
    if ok and variant.name == "app":
        ok = response.json().get("text", "").endswith("on it")
    if not ok:
        raise RuntimeError(f"{variant.name}: unexpected ack {response.status_code}: {response.text[:300]}")


def ms(ns: float) -> float:
    return ns / 1e6


@dataclass
class Pass:
    title: str
    variants: list[Variant]
    handed_off: int
    connections: dict[str, int]


def measure(title: str, urls: list[tuple[str, str, str]], standin: Any, runner: Any, args: argparse.Namespace,
            cold: dict[str, Any] | None = None) -> Pass:
    """Warm-up then ``args.requests`` interleaved requests per variant, each variant on its own keep-alive session."""
    import requests

    variants = [Variant(name, label, url, requests.Session()) for name, label, url in urls]
    try:
        if cold is not None:  # the app's very first request: builds the Bolt app, fetches the secret
            app_variant, bare_variant = variants
            calls_before = len(standin.calls)
            elapsed, response = send_command(app_variant, standin)
            check(app_variant, response)
            cold["app_ms"] = ms(elapsed)
            cold["slack_calls"] = [c.method for c in standin.calls[calls_before:]]
            elapsed, response = send_command(bare_variant, standin)
            check(bare_variant, response)
            cold["bare_ms"] = ms(elapsed)
        for _ in range(args.warmup):  # discarded
            for variant in variants:
                check(variant, send_command(variant, standin)[1])
        runner.pending.clear()
        queued_before = len(runner.invocations)
        SERVER_CPU.clear()
        for i in range(args.requests):
            for variant in variants if i % 2 == 0 else variants[::-1]:
                elapsed, response = send_command(variant, standin)
                check(variant, response)
                variant.samples_ns.append(elapsed)
            if i % CLEAR_PENDING_EVERY == 0:
                runner.pending.clear()
        handed_off = len(runner.invocations) - queued_before
        for variant in variants:
            variant.cpu_ns = SERVER_CPU.get(variant.port(), [])
        runner.pending.clear()
        runner.invocations.clear()
        return Pass(title, variants, handed_off, {v.name: v.connections() for v in variants})
    finally:
        for variant in variants:
            variant.session.close()


def run(args: argparse.Namespace) -> int:
    from chalice.local import ChaliceRequestHandler

    from localworld.emulator import Emulator
    from localworld.instance import nodelay
    from localworld.slack_standin import SlackStandIn
    from localworld.slack_user import load_directory

    emulator = Emulator().start()
    standin = SlackStandIn().start()
    servers: list[tuple[Any, threading.Thread]] = []
    nagle = ChaliceRequestHandler.disable_nagle_algorithm
    cold: dict[str, Any] = {}
    passes = []
    try:
        load_directory(standin)
        prepare_environment(emulator.url, standin.api_url)
        provision(emulator.url)

        import app as app_module
        from chalicelib.frontdoor import http
        from localworld.lambda_runner import LocalLambdaClient

        runner = LocalLambdaClient(app_module.app, asynchronous=False)
        http.use_lambda_client(runner)
        urls = []
        for name, label, chalice_app in (("app", "Switchboard app.app", app_module.app),
                                         ("bare", "bare Chalice route -> {}", bare_app())):
            server, thread, url = serve(chalice_app, name)
            servers.append((server, thread))
            urls.append((name, label, url))

        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull), server_cpu_recorded():
            nodelay()  # applies to connections accepted from now on: as the local world serves the front door
            passes.append(measure("as the local world serves it (chalice local, TCP_NODELAY)", urls, standin, runner,
                                  args, cold))
            if args.with_nagle:
                ChaliceRequestHandler.disable_nagle_algorithm = False
                passes.append(measure("informational: same servers, Nagle on (chalice local's default)", urls,
                                      standin, runner, args))
    finally:
        ChaliceRequestHandler.disable_nagle_algorithm = nagle
        for server, thread in servers:
            server.shutdown()
            server.server.server_close()
            thread.join(timeout=5)
        standin.stop()
        emulator.stop()

    return report(args, passes, cold)


def summarize(measured: Pass) -> dict[str, tuple[float, float]]:
    print(f"-- {measured.title}")
    kept = all(count == 1 for count in measured.connections.values())
    counts = ", ".join(f"{name} {count}" for name, count in measured.connections.items())
    print(f"   TCP connections opened: {counts} "
          f"({'keep-alive honoured' if kept else 'chalice local did NOT keep connections alive'}); "
          f"lazy hand-offs: {measured.handed_off} of {len(measured.variants[0].samples_ns)} (queued, not run)")
    stats = {}
    width = max(len(v.label) for v in measured.variants)
    for variant in measured.variants:
        values = [ms(ns) for ns in variant.samples_ns]
        p50, p99 = percentile(values, 50), percentile(values, 99)
        stats[variant.name] = (p50, p99)
        print(f"   {variant.name:<5} {variant.label:<{width}}  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
              f"  (min {min(values):.2f}, max {max(values):.2f})")
    (app_p50, app_p99), (bare_p50, bare_p99) = stats["app"], stats["bare"]
    print(f"   app - bare: p50 +{app_p50 - bare_p50:.2f} ms ({app_p50 / bare_p50:.2f}x), "
          f"p99 +{app_p99 - bare_p99:.2f} ms ({app_p99 / bare_p99:.2f}x)")
    cpu = {v.name: statistics.median(v.cpu_ns) / 1000 for v in measured.variants if v.cpu_ns}
    if len(cpu) == 2:
        print(f"   server thread CPU per request (median, informational): app {cpu['app']:.0f} us, "
              f"bare {cpu['bare']:.0f} us ({cpu['app'] / cpu['bare']:.2f}x, +{cpu['app'] - cpu['bare']:.0f} us)")
    return stats


def report(args: argparse.Namespace, passes: list[Pass], cold: dict[str, Any]) -> int:
    print(f"python {sys.version.split()[0]}, {args.requests} timed requests per variant, interleaved (A B, B A, ...) "
          f"after {args.warmup} discarded warm-up each; loopback only")
    print("POWERTOOLS_LOG_LEVEL=WARNING (so logging cost does not dominate); server access log to os.devnull")
    print(f"request: POST {PATH} '/ops {COMMAND_TEXT}' as dave, v0-signed per request outside the timed region; "
          "timed: send -> full HTTP response read")
    print("ack path measured for 'app':")
    for step in ACK_PATH:
        print(f"  - {step}")
    print(f"cold: app first request {cold['app_ms']:.1f} ms (Bolt app built, secret fetched from moto, Slack calls: "
          f"{', '.join(cold['slack_calls']) or 'none'}); bare first request {cold['bare_ms']:.1f} ms")

    stats = [summarize(measured) for measured in passes]
    app_p99, bare_p99 = stats[0]["app"][1], stats[0]["bare"][1]
    ratio = app_p99 / bare_p99
    print(f"goals (on '{passes[0].title}'):")
    misses = []
    for label, ok, detail in (
        ("p99 ratio app/bare", ratio <= RATIO_GOAL, f"{ratio:.2f}x (goal <= {RATIO_GOAL}x)"),
        ("p99 vs Slack's 3000 ms deadline", app_p99 < SLACK_DEADLINE_MS,
         f"{app_p99:.2f} ms = {app_p99 / SLACK_DEADLINE_MS:.2%} of the deadline"),
        (f"p99 < {WARM_P99_GOAL_MS:.0f} ms warm", app_p99 < WARM_P99_GOAL_MS,
         f"{app_p99:.2f} ms (goal < {WARM_P99_GOAL_MS:.0f} ms)"),
    ):
        print(f"   {label}: {detail}  {'ok' if ok else 'MISSED'}")
        if not ok:
            misses.append(label)
    if len(stats) > 1:
        nagle_ratio = stats[1]["app"][1] / stats[1]["bare"][1]
        print(f"   (informational, Nagle-on pass: p99 ratio app/bare {nagle_ratio:.2f}x, "
              f"app p99 {stats[1]['app'][1]:.2f} ms; not enforced)")

    if args.enforce and misses:
        print(f"FAIL: goal(s) missed: {'; '.join(misses)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per variant (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="discarded warm-up requests per variant (default 20)")
    parser.add_argument("--with-nagle", action="store_true",
                        help="add an informational pass with Nagle's algorithm on (chalice local's default)")
    parser.add_argument("--enforce", action="store_true", help="exit 1 if a goal is missed")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
