"""Cold Slack ack: a fresh process, from its start to the 200 of its first signed ``/ops`` request, against a bare
Chalice app's cold first request.

Each run starts a new Python process (``sys.executable -c ...``) and the parent times it with
``time.perf_counter`` from just before the spawn to the line the child writes right after its first response:
interpreter start-up, imports, the first request and the answer, as a Lambda cold start serves Slack's first
command (Lambda's own sandbox start-up is not in it, for either variant). The child calls the Chalice app the way
Lambda does, ``app(event, context)`` with an API Gateway proxy event, and checks the answer itself:

    app   ``import app`` as the front door (shared-services) and its first request: the policy, the door's
          checks, the Slack secret fetched from Secrets Manager (moto's server on 127.0.0.1, started here),
          the Bolt app built, the ack listener's answer ("... on it") with status 200
    bare  ``Chalice(app_name="bare")`` with the same route returning ``{}`` (200), called the same way

The lazy hand-off is the one thing stubbed: Bolt gives the work to a ``lambda:InvokeFunction`` (``Event``) of the
same function before it acks; the child's Lambda client records the call and answers 202 at once (on AWS it is
one call inside the region; there is no Lambda in moto's server to call). Every request is signed (v0) by the
parent just before the spawn, with a new trigger_id.

Runs alternate (A B, B A, ...) after one discarded warm-up run of each (it writes the .pyc files, as Lambda ships
them, and lists with an audit hook every connection the child opens before its answer: for the app, only Secrets
Manager's). The median of ``--runs`` runs is reported, with the ratio and the app's time against Slack's 3 s.

Usage:
    python bench/cold_ack.py [--runs N] [--enforce]

Exits 0 whatever the numbers, unless ``--enforce`` is given: then 1 if the app's median is not under Slack's
deadline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLACK_DEADLINE_MS = 3000.0
ACCOUNT = "shared-services"
REGION = "eu-west-1"
PATH = "/slack/commands"
TIMEOUT_SECONDS = 120
READY = "COLD-ACK"
CONNECT = "CONNECT "

CHILD_ENV = {
    "SWITCHBOARD_ACCOUNT_NAME": ACCOUNT,
    "SWITCHBOARD_POLICY_FILE": f"policies/{ACCOUNT}.yaml",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_LAMBDA_FUNCTION_NAME": f"switchboard-{ACCOUNT}-api_handler",
    "LAMBDA_TASK_ROOT": str(ROOT),  # as on Lambda: the policy's sections are validated on first use
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
CHILD_ENV_REMOVED = ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "AWS_PROFILE", "AWS_SESSION_TOKEN",
                     "AWS_CHALICE_CLI_MODE", "POWERTOOLS_DEV", "POWERTOOLS_DEBUG", "SWITCHBOARD_SLACK_API_URL")

# Installed in the warm-up run only: every connection the child opens before it answers.
_GUARD = """\
import sys
def _connects(event, args):
    if event == "socket.connect":
        sys.stderr.write("CONNECT %r\\n" % (args[1],))
sys.addaudithook(_connects)
"""

_CONTEXT = """\
class Context:
    function_name = "switchboard-shared-services-api_handler"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    aws_request_id = "cold-ack"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:" + function_name
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "cold"
    def get_remaining_time_in_millis(self):
        return 29000
"""

APP_CHILD = _CONTEXT + """\
import json, os, sys
event = json.loads(os.environ["COLD_ACK_EVENT"])
import app
from chalicelib.frontdoor import http

class LambdaClient:  # the lazy hand-off: recorded, answered as Lambda answers an Event invocation
    invoked = []
    def invoke(self, **kwargs):
        self.invoked.append(kwargs["FunctionName"])
        return {"StatusCode": 202}

http.use_lambda_client(LambdaClient())
response = app.app(event, Context())
ok = response["statusCode"] == 200 and json.loads(response["body"])["text"].endswith("on it")
said = "ok" if ok else "FAILED " + response["body"][:300]
sys.stdout.write("COLD-ACK %s %d\\n" % (said, len(LambdaClient.invoked)))
sys.stdout.flush()
"""

BARE_CHILD = _CONTEXT + """\
import json, os, sys
event = json.loads(os.environ["COLD_ACK_EVENT"])
from chalice import Chalice
bare = Chalice(app_name="bare")

@bare.route("/slack/commands", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def slack_commands():
    return {}

response = bare(event, Context())
sys.stdout.write("COLD-ACK %s 0\\n" % ("ok" if response["statusCode"] == 200 else "FAILED"))
sys.stdout.flush()
"""

VARIANTS = {"app": ("import app + first signed /ops request", APP_CHILD),
            "bare": ("bare Chalice app + same request", BARE_CHILD)}


def api_gateway_event(body: str, headers: dict[str, str], n: int) -> dict:
    """What API Gateway (REST, proxy integration) hands the function for Slack's POST."""
    return {
        "resource": PATH, "path": PATH, "httpMethod": "POST", "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
        "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
        "requestContext": {"resourcePath": PATH, "httpMethod": "POST", "path": f"/api{PATH}", "stage": "api",
                           "requestId": f"cold-ack-{n}", "identity": {"sourceIp": "127.0.0.1"}},
        "body": body, "isBase64Encoded": False,
    }


def signed_event(n: int) -> dict:
    from localworld.slack_user import command_body, signed_headers

    body = command_body("status web", "dave", "https://hooks.slack.com/commands/T0/1/cold")
    headers = {**signed_headers(body), "Host": "api.example", "User-Agent": "Slackbot 1.0"}
    return api_gateway_event(body, headers, n)


def run_once(name: str, env: dict[str, str], n: int, *, guard: bool = False) -> tuple[float, list[str]]:
    """One fresh process; (ms from spawn to its answer, connections it opened before answering if guarded)."""
    code = (_GUARD if guard else "") + VARIANTS[name][1]
    child_env = {**env, "COLD_ACK_EVENT": json.dumps(signed_event(n))}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=child_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    while line and not line.startswith(READY):  # a log line before the answer
        line = proc.stdout.readline()
    elapsed = (time.perf_counter() - started) * 1000
    try:
        _, err = proc.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SystemExit(f"{name}: the child did not end") from None
    if not line.startswith(READY + " ok"):
        raise SystemExit(f"{name}: no 200 from the child: {line.strip()}\n{err[-3000:]}")
    if name == "app" and line.split()[-1] != "1":
        raise SystemExit(f"{name}: the lazy listener was not handed off: {line.strip()}")
    connects = [x.removeprefix(CONNECT) for x in err.splitlines() if x.startswith(CONNECT)]
    return elapsed, connects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per variant (default 15)")
    parser.add_argument("--enforce", action="store_true", help="exit 1 if the app misses Slack's 3 s")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    sys.path.insert(0, str(ROOT))

    import boto3

    from localworld.emulator import Emulator
    from localworld.slack_user import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET

    emulator = Emulator().start()
    try:
        boto3.client("secretsmanager", endpoint_url=emulator.url, region_name=REGION, aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_secret(
            Name="switchboard/slack",
            SecretString=json.dumps({"signing_secret": LOCAL_SIGNING_SECRET, "bot_token": LOCAL_BOT_TOKEN}))
        env = {k: v for k, v in os.environ.items() if k not in CHILD_ENV_REMOVED}
        env.update(CHILD_ENV, AWS_ENDPOINT_URL=emulator.url)
        n = 0
        connects = {}
        for name in VARIANTS:  # warm-up: .pyc written, connections listed; discarded
            n += 1
            connects[name] = run_once(name, env, n, guard=True)[1]
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for i in range(args.runs):
            for name in list(VARIANTS) if i % 2 == 0 else list(VARIANTS)[::-1]:
                n += 1
                samples[name].append(run_once(name, env, n)[0])
    finally:
        emulator.stop()

    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"python {sys.version.split()[0]}, {args.runs} alternating runs per variant (fresh process each), "
          "median ms from spawn to the first 200")
    width = max(len(label) for label, _ in VARIANTS.values())
    for name, (label, _) in VARIANTS.items():
        values = samples[name]
        print(f"{name:<5} {label:<{width}}  {medians[name]:7.1f} ms  (min {min(values):.1f}, max {max(values):.1f})")
    for name, found in connects.items():
        print(f"{name}: connections before the answer: {', '.join(found) or 'none'}"
              + (f" (Secrets Manager at {emulator.url})" if name == "app" else ""))
    ratio = medians["app"] / medians["bare"]
    print(f"ratio app/bare {ratio:.2f}x (+{medians['app'] - medians['bare']:.0f} ms); "
          f"app {medians['app']:.0f} ms = {medians['app'] / SLACK_DEADLINE_MS:.0%} of Slack's 3000 ms deadline "
          f"({'ok' if medians['app'] < SLACK_DEADLINE_MS else 'MISSED'})")
    return 1 if args.enforce and medians["app"] >= SLACK_DEADLINE_MS else 0


if __name__ == "__main__":
    raise SystemExit(main())
