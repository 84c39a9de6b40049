"""Scaling tasks run inside an emulated account's environment (``World.run_in``), with a clock of our choosing:

    python -m localworld.scaling_tasks tick --at 2026-11-23T20:00:00+01:00
    python -m localworld.scaling_tasks clock --from 2026-11-23T19:50:00+01:00 --to 2026-11-24T07:10:00+01:00 --every 10m

``tick`` runs one scaling tick at that instant (what the Chalice schedule runs every minute, at the real time).
``clock`` is a fast clock: a tick at every step from ``--from`` to ``--to``; it reports each tick that fired a
schedule or restored something, with the count of every target of this account after it. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from typing import Any

from chalicelib.frontdoor.grammar import parse_duration
from localworld.tasks import logs_to_stderr


def _instant(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text}: give an offset, e.g. 2026-11-23T20:00:00+01:00")
    return at


def _counts() -> dict[str, int | None]:
    from chalicelib.policy import loader as policy
    from chalicelib.scaling import executor
    from chalicelib.scaling.exceptions import ScalingError

    current = policy.current()
    counts: dict[str, int | None] = {}
    for name, target in sorted(current.scaling.local(current).items()):
        try:
            counts[name] = executor.describe_target(target).count
        except ScalingError:
            counts[name] = None
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localworld.scaling_tasks")
    sub = parser.add_subparsers(dest="task", required=True)
    one = sub.add_parser("tick", help="one scaling tick at a given instant")
    one.add_argument("--at", type=_instant, required=True)
    fast = sub.add_parser("clock", help="ticks at every step between two instants")
    fast.add_argument("--from", dest="start", type=_instant, required=True)
    fast.add_argument("--to", dest="end", type=_instant, required=True)
    fast.add_argument("--every", type=parse_duration, default=timedelta(minutes=1))
    args = parser.parse_args(argv)

    with logs_to_stderr():
        print(json.dumps(_run(args)))
    return 0


def _run(args: argparse.Namespace) -> dict[str, Any]:
    from chalicelib.scaling import ticks

    if args.task == "tick":
        return {**ticks.run(args.at), "counts": _counts()}
    reports: list[dict[str, Any]] = []
    now, steps = args.start, 0
    while now <= args.end:
        report = ticks.run(now)
        steps += 1
        if report["fired"] or report["restored"]:
            reports.append({**report, "local": now.isoformat(), "counts": _counts()})
        now += args.every
    return {"ticks": steps, "acted": reports, "counts": _counts()}


if __name__ == "__main__":
    sys.exit(main())
