"""Rotation tasks run inside an emulated account's environment (``World.run_in``), the way AWS would run them there:

    python -m localworld.rotation_tasks steps <secret ARN> <token>          (as rotate_secret, under its role)
        Switchboard's rotation function invoked for each of the four steps, as Secrets Manager invokes it.
    python -m localworld.rotation_tasks watch [--now 2026-12-24T07:00:00+00:00]   (as rotation_watch)
        The daily watch, at an injected instant (moto's dates are real ones: a month is not waited for).
    python -m localworld.rotation_tasks rotate web/db-password [--days 30]
        All of a rotation in one process with one identity (the tests without access control use it).

``rotate_in_world`` is a rotation in a running world: Secrets Manager's part (RotateSecret with the account's
rotation function, registered with moto, which cannot run it; then the RotationSucceeded / RotationFailed event
CloudTrail would put on the account's bus) is played by the world as AWS, and the steps run as ``rotate_secret``
under its own role.

Each prints one JSON line with what happened, last (the Lambda-style logs come before it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from typing import Any


def _start(sm: Any, lambda_client: Any, iam_client: Any, endpoint: str, account_name: str, secret: str,
           days: int | None) -> tuple[str, str]:
    """Secrets Manager's part, first: RotateSecret with the account's rotation function. Returns (ARN, token)."""
    from localworld import rotation_service

    function = rotation_service.ensure_function(endpoint, lambda_client, iam_client, account_name)
    arn = sm.describe_secret(SecretId=secret)["ARN"]
    return arn, rotation_service.start(sm, arn, function, days=days)


def _finish(events: Any, arn: str, ok: bool, region: str) -> str | None:
    """Secrets Manager's part, last: the CloudTrail event a finished rotation puts on the account's bus."""
    from localworld import rotation_service

    event = rotation_service.service_event(arn, "Succeeded" if ok else "Failed", arn.split(":")[4], region)
    return events.put_events(Entries=[{
        "Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
        "Resources": []}])["Entries"][0].get("EventId")


def steps(arn: str, token: str) -> dict[str, Any]:
    from chalicelib.rotation import rotator
    from localworld import rotation_service
    from localworld.instance import LambdaContext

    return rotation_service.drive(rotator.handle, arn, token, context=LambdaContext("rotate_secret")).as_dict()


def rotate(secret: str, days: int | None) -> dict[str, Any]:
    from chalicelib import aws
    from chalicelib.settings import get_settings

    settings = get_settings()
    arn, token = _start(aws.client("secretsmanager"), aws.client("lambda"), aws.client("iam"),
                        settings.endpoint_url or os.environ["AWS_ENDPOINT_URL"], settings.account_name, secret, days)
    report = steps(arn, token)
    return {**report, "arn": arn, "event_id": _finish(aws.client("events"), arn, report["ok"], settings.region)}


def rotate_in_world(world: Any, account: str, secret: str, days: int | None) -> dict[str, Any]:
    """A rotation in a running world: the world plays Secrets Manager (as AWS), the steps run as rotate_secret."""
    arn, token = _start(world.client(account, "secretsmanager"), world.client(account, "lambda"),
                        world.client(account, "iam"), world.emulator.url, account, secret, days)
    out = world.run_in(account, "localworld.rotation_tasks", "steps", arn, token, function="rotate_secret")
    report = json.loads(out.strip().splitlines()[-1])
    region = world.accounts[account].region
    return {**report, "arn": arn, "event_id": _finish(world.client(account, "events"), arn, report["ok"], region)}


def watch(now: str | None) -> dict[str, Any]:
    from chalicelib.rotation import watch as daily

    return daily.run(now=datetime.fromisoformat(now) if now else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localworld.rotation_tasks")
    sub = parser.add_subparsers(dest="task", required=True)
    one = sub.add_parser("rotate", help="rotate a secret now, as Secrets Manager would")
    one.add_argument("secret")
    one.add_argument("--days", type=int, default=None, help="also enable rotation every N days")
    each = sub.add_parser("steps", help="the rotation function, invoked for each step (as Secrets Manager does)")
    each.add_argument("arn")
    each.add_argument("token")
    daily = sub.add_parser("watch", help="run the daily watch")
    daily.add_argument("--now", default=None, help="the instant the watch believes it is (ISO 8601, with offset)")
    args = parser.parse_args(argv)
    if args.task == "rotate":
        result = rotate(args.secret, args.days)
    elif args.task == "steps":
        result = steps(args.arn, args.token)
    else:
        result = watch(args.now)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
