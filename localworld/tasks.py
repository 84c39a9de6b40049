"""One-off tasks run inside an emulated account's environment (``World.run_in``), the way a capability would
call chalicelib there: ``python -m localworld.tasks request-approval --title … --summary … --env prod …``.
Prints a JSON line with what it did."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def logs_to_stderr() -> Iterator[None]:
    """Switchboard's log lines go to stderr while a task runs: its stdout is its answer (one JSON document).
    The previous stream is put back afterwards (a task run in-process, e.g. by a test, leaves no trace)."""
    from chalicelib.observability import logger

    before = logger.registered_handler.setStream(sys.stderr)
    try:
        yield
    finally:
        logger.registered_handler.setStream(before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localworld.tasks")
    sub = parser.add_subparsers(dest="task", required=True)
    ask = sub.add_parser("request-approval", help="post an approval card, as the promotion capability will")
    ask.add_argument("--capability", default="promotion")
    ask.add_argument("--title", required=True)
    ask.add_argument("--summary", required=True)
    ask.add_argument("--env", required=True)
    ask.add_argument("--requester", required=True, help="Slack user id")
    ask.add_argument("--author", default=None, help="commit author identity")
    ask.add_argument("--channel", required=True)
    args = parser.parse_args(argv)

    from chalicelib.decisions import service as decisions

    item = decisions.request(capability=args.capability, title=args.title, summary=args.summary,
                             environment=args.env, requester=args.requester, author=args.author,
                             channel=args.channel, correlation_id=f"localworld:{args.title}")
    print(json.dumps({"id": item.id, "channel": item.channel, "ts": item.ts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
