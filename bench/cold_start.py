"""Cold-start benchmark: import-and-init time of ``app.py`` against a bare boto3 baseline.

Each variant runs as a fresh Python process (``sys.executable -c ...``). The child times only its own
import/init with ``time.perf_counter`` and prints the seconds, so interpreter start-up is excluded from
every variant alike. Variants alternate run by run (A B A B ...) so machine noise hits them equally, and the
median of ``--runs`` runs is reported. A discarded warm-up run of each variant comes first: it writes the
.pyc files (Lambda ships them; PYTHONDONTWRITEBYTECODE is removed from the child environment) and, with an
audit hook, reports any network activity during import (there must be none).

Variants:
    baseline  ``import boto3`` + ``boto3.client("dynamodb", region_name="eu-west-1")``
    app       ``import app`` (Chalice app, policy loaded and its core validated, as inside Lambda: the other
              sections are validated on first use, see chalicelib/policy/loader.py)
    tracer    (``--variant tracer``) app + ``Tracer(service="switchboard")`` from Powertools, enabled as on
              Lambda (LAMBDA_TASK_ROOT set, POWERTOOLS_TRACE_DISABLED unset), so it imports the X-Ray SDK
              and patches every supported library. Informational: ``--enforce`` checks only app/baseline.

Usage:
    python bench/cold_start.py [--runs N] [--variant tracer] [--enforce]

Exits 0 whatever the ratio, unless ``--enforce`` is given: then 1 if app/baseline is above the goal.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.5
TIMEOUT_SECONDS = 120

# Environment of every child (set in the child only). LAMBDA_TASK_ROOT makes the child behave as on Lambda: the
# Tracer patches (outside Lambda Powertools disables it) and the policy is validated lazily (not under the
# Chalice CLI, hence AWS_CHALICE_CLI_MODE removed below); nothing else in the app reads it.
CHILD_ENV = {
    "SWITCHBOARD_ACCOUNT_NAME": "prod",
    "SWITCHBOARD_POLICY_FILE": "policies/prod.yaml",
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "LAMBDA_TASK_ROOT": str(ROOT),
}
# Removed from the child environment: bytecode must be written and used; tracing must not be forced off;
# no stray profile/session/emulator settings may change what is measured.
CHILD_ENV_REMOVED = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPROFILEIMPORTTIME",
    "POWERTOOLS_TRACE_DISABLED",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SAM_LOCAL",
    "AWS_CHALICE_CLI_MODE",
)

_TIMED = """\
import time
_t0 = time.perf_counter()
{body}
_elapsed = time.perf_counter() - _t0
print()
print(repr(_elapsed))
"""

# Installed only in the warm-up run (an audit hook costs a call per audit event, so timed runs go without).
_NETWORK_GUARD = """\
import sys
def _switchboard_bench_hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
                 "socket.gethostbyname", "http.client.connect", "urllib.Request"):
        sys.stderr.write("NETWORK-AT-IMPORT %s %r\\n" % (event, args))
sys.addaudithook(_switchboard_bench_hook)
"""
_NETWORK_MARK = "NETWORK-AT-IMPORT "


@dataclass(frozen=True)
class Variant:
    name: str
    label: str
    body: str


BASELINE = Variant(
    "baseline", "import boto3 + dynamodb client",
    'import boto3\nboto3.client("dynamodb", region_name="eu-west-1")',
)
APP = Variant("app", "import app", "import app")
TRACER = Variant(
    "tracer", "import app + Powertools Tracer",
    'import app\nfrom aws_lambda_powertools import Tracer\nTracer(service="switchboard")',
)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in CHILD_ENV_REMOVED:
        env.pop(name, None)
    env.update(CHILD_ENV)
    return env


def run_once(variant: Variant, env: dict[str, str], *, guard: bool = False) -> tuple[float, list[str]]:
    """One fresh process; returns (seconds of import+init, network events seen if guarded)."""
    code = (_NETWORK_GUARD if guard else "") + _TIMED.format(body=variant.body)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=TIMEOUT_SECONDS, check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(f"{variant.name}: child exited {proc.returncode}\n{proc.stderr}")
        raise SystemExit(2)
    lines = proc.stdout.strip().splitlines()
    try:
        seconds = float(lines[-1])
    except (IndexError, ValueError):
        sys.stderr.write(f"{variant.name}: unexpected child output\n{proc.stdout}{proc.stderr}")
        raise SystemExit(2) from None
    network = [line.removeprefix(_NETWORK_MARK) for line in proc.stderr.splitlines()
               if line.startswith(_NETWORK_MARK)]
    return seconds, network


def measure(variants: list[Variant], runs: int) -> dict[str, list[float]]:
    env = child_env()
    for variant in variants:  # warm-up: writes .pyc, checks for network use, discarded
        _, network = run_once(variant, env, guard=True)
        for event in network:
            print(f"WARNING {variant.name} touched the network at import: {event}", file=sys.stderr)
    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(runs):
        for variant in variants:
            seconds, _ = run_once(variant, env)
            samples[variant.name].append(seconds)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per variant (default 15)")
    parser.add_argument("--variant", choices=["tracer"], help="also measure the app with Powertools Tracer")
    parser.add_argument("--enforce", action="store_true", help=f"exit 1 if app/baseline > {GOAL}x")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    variants = [BASELINE, APP] + ([TRACER] if args.variant == "tracer" else [])
    samples = measure(variants, args.runs)
    medians = {name: statistics.median(values) for name, values in samples.items()}

    print(f"python {sys.version.split()[0]}, {args.runs} alternating runs per variant, median import+init")
    width = max(len(v.label) for v in variants)
    for variant in variants:
        values = samples[variant.name]
        print(
            f"{variant.name:<8} {variant.label:<{width}}  {medians[variant.name] * 1000:8.1f} ms"
            f"  (min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})"
        )
    ratio = medians["app"] / medians["baseline"]
    print(f"ratio {ratio:.2f}x (goal <= {GOAL}x)")
    if "tracer" in medians:
        tracer_ratio = medians["tracer"] / medians["baseline"]
        extra_ms = (medians["tracer"] - medians["app"]) * 1000
        print(f"ratio tracer {tracer_ratio:.2f}x (tracer/baseline, +{extra_ms:.1f} ms over app)")

    if args.enforce and ratio > GOAL:
        print(f"FAIL: app/baseline {ratio:.2f}x is above the goal of {GOAL}x", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
