"""Promotion tasks run inside an emulated account's environment (``World.run_in``), with a clock of our choosing:

    python -m localworld.promotion_tasks tick --at 2026-11-23T10:20:00+00:00
    python -m localworld.promotion_tasks show --app web

``tick`` runs one reconcile tick at that instant (what ``app.promotion_tick`` runs every minute at the real time):
soaks and bakes end on a fast clock. ``show`` prints the app's promotions in this account. One JSON document each.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from localworld.tasks import logs_to_stderr


def _instant(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text}: give an offset, e.g. 2026-11-23T10:20:00+00:00")
    return at


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localworld.promotion_tasks")
    sub = parser.add_subparsers(dest="task", required=True)
    sub.add_parser("tick", help="one reconcile tick at a given instant").add_argument("--at", type=_instant,
                                                                                       required=True)
    sub.add_parser("show", help="an app's promotions here").add_argument("--app", required=True)
    args = parser.parse_args(argv)

    from chalicelib.policy import loader as policy
    from chalicelib.promotion import reconcile, store

    with logs_to_stderr():
        if args.task == "tick":
            print(json.dumps({"report": reconcile.run(now=args.at, policy=policy.current())}))
        else:
            print(json.dumps([p.model_dump(mode="json", exclude={"history"}) for p in store.of_app(args.app)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
