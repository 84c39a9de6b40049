"""Envelope benchmark: what signing and verifying cost per peer event, side by side with the unsigned path.

Against the local world's moto server, in one run, alternating A B A B so the machine's drift hits both:

- send: today's path (``events:PutEvents`` of the detail) against the sealed path (SHA-256, ``kms:Sign``, then
  the same PutEvents);
- receive: ``intake.handle`` of a peer event (ledger, parse, authorise, the front door's handler) with the
  envelope checked (local ECDSA verify + the replay ledger's conditional put) against the same handler with the
  check taken out (here only, by patching the intake's ``_verify_envelope``: the path before envelopes).

Prints the median and p99 per event of each, the ratio, and the extra milliseconds per peer event. On AWS,
``kms:Sign`` is a network round trip (a few ms in-region) where here it is a loopback call to moto.

    python bench/envelope.py [--events 300]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()

    from localworld.emulator import Emulator, free_port

    moto = Emulator(free_port()).start()
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": moto.url, "SWITCHBOARD_ACCOUNT_NAME": "shared-services",
        "SWITCHBOARD_POLICY_FILE": "policies/shared-services.yaml", "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_NAMESPACE": "Switchboard", "SWITCHBOARD_SIGNING_KEY": "alias/switchboard-signing-prod"})
    try:
        return run(args.events)
    finally:
        moto.stop()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(n: int) -> int:
    import logging

    from chalicelib import aws
    from chalicelib.intake import pipeline
    from chalicelib.intake.pipeline import Kind, handle
    from chalicelib.peering import envelope, signer
    from chalicelib.policy import loader as policy
    from localworld.instance import LambdaContext
    from tests.harness import create_signing_keys, create_tables

    logging.getLogger().setLevel(logging.WARNING)
    create_tables()
    create_signing_keys()
    prod, shared = "333344445555", "111122223333"
    events = aws.client("events")
    context = LambdaContext("bench")

    def detail(i: int) -> dict:
        return {"to_account": shared, "from_account": "prod", "flow": "reply", "payload": {"n": i, "text": "x" * 200}}

    def put(d: dict) -> None:
        events.put_events(Entries=[{"Source": "switchboard", "DetailType": "Switchboard reply",
                                    "Detail": json.dumps(d)}])

    def send_plain(i: int) -> dict:
        d = detail(i)
        put(d)
        return d

    def send_sealed(i: int) -> dict:
        d = detail(i)
        d = envelope.seal(sender=prod, from_account="prod", recipient=shared, flow="reply", payload=d["payload"],
                          now=datetime.now(UTC), sign=signer.sign)
        put(d)
        return d

    def event(d: dict) -> dict:
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Switchboard reply", "source": "switchboard",
                "account": prod, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "eu-west-1",
                "resources": [], "detail": d}

    real_verify = pipeline._verify_envelope
    policy.current()
    timings: dict[str, list[float]] = {"send plain": [], "send sealed": [], "receive unchecked": [],
                                       "receive checked": []}
    for i in range(-20, n):  # the first 20 warm up (clients, imports, key parse)
        t0 = time.perf_counter()
        plain = send_plain(i)
        t1 = time.perf_counter()
        sealed = send_sealed(i)
        t2 = time.perf_counter()
        pipeline._verify_envelope = lambda *a, **k: None
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the EMF metric lines
                outcome_plain = handle(Kind.PEER, event(plain), context)
        finally:
            pipeline._verify_envelope = real_verify
        t3 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            outcome_sealed = handle(Kind.PEER, event(sealed), context)
        t4 = time.perf_counter()
        if outcome_plain["outcome"] != "processed" or outcome_sealed["outcome"] != "processed":
            print("unexpected outcome:", outcome_plain.get("reason"), outcome_sealed.get("reason"), file=sys.stderr)
            return 1
        if i >= 0:
            timings["send plain"].append(t1 - t0)
            timings["send sealed"].append(t2 - t1)
            timings["receive unchecked"].append(t3 - t2)
            timings["receive checked"].append(t4 - t3)

    print(f"peer events: {n} (after 20 warm-up), moto on loopback")
    print(f"{'path':<20} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in timings.items():
        print(f"{name:<20} {statistics.median(values) * 1000:8.2f} {pct(values, 0.99) * 1000:8.2f}")
    for what, base, new in (("send", "send plain", "send sealed"), ("receive", "receive unchecked", "receive checked")):
        ratios = [b / a for a, b in zip(timings[base], timings[new], strict=True)]
        extra = statistics.median(timings[new]) - statistics.median(timings[base])
        print(f"{what}: sealed/plain median ratio {statistics.median(ratios):.2f}x, "
              f"extra {extra * 1000:.2f} ms per peer event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
