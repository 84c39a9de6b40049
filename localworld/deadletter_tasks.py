"""Dead-letter tasks run inside an emulated account's environment (``World.run_in`` or `switchboard dead-letters`):

    python -m localworld.deadletter_tasks list
    python -m localworld.deadletter_tasks redrive (--all | MESSAGE_ID...)

They call chalicelib/deadletters as `/ops deadletters` does. The local world has no Lambda: a redriven payload is
handed to the function's own queue (what its rule delivers to), which is what `lambda:InvokeFunction` with
``InvocationType=Event`` does on AWS. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from localworld.tasks import logs_to_stderr


def local_invoker(function_arn: str, payload: Any) -> None:
    """``arn:…:function:switchboard-<account>-<handler>[:$LATEST]`` -> the handler's queue in this account."""
    from chalicelib import aws
    from chalicelib.settings import get_settings
    from localworld import delivery

    function = function_arn.split(":")[6]
    prefix = f"switchboard-{get_settings().account_name}-"
    if not function.startswith(prefix):
        raise ValueError(f"{function} is not a function of this account's Switchboard")
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=delivery.queue_name(function[len(prefix):]))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(payload))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localworld.deadletter_tasks")
    sub = parser.add_subparsers(dest="task", required=True)
    sub.add_parser("list")
    again = sub.add_parser("redrive")
    again.add_argument("ids", nargs="*", metavar="MESSAGE_ID")
    again.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)
    if args.task == "redrive" and not (args.all or args.ids):
        parser.error("redrive needs --all or message ids")

    from chalicelib.deadletters import queue

    with logs_to_stderr():
        if args.task == "list":
            listed = queue.list_letters()
            out: Any = {"letters": [{"id": d.message_id, "function": d.function, "condition": d.condition,
                                     "attempts": d.attempts, "error": d.error, "payload": d.summary, "at": d.at}
                                    for d in listed.letters],
                        "unreadable": [{"id": i, "reason": why} for i, why in listed.unreadable]}
        else:
            queue.use_invoker(local_invoker)
            out = {"redriven": queue.redrive(None if args.all else set(args.ids), actor="system",
                                             correlation_id="switchboard-dead-letters")}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
