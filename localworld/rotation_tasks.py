"""Rotation tasks run inside an emulated account's environment (``World.run_in``), the way AWS would run them there:

    python -m localworld.rotation_tasks rotate web/db-password [--days 30]
        Secrets Manager's rotation service: RotateSecret with the account's rotation function (registered with moto,
        which cannot run it), then Switchboard's rotation function for each step in this process, then the
        RotationSucceeded / RotationFailed event CloudTrail would put on the account's bus.
    python -m localworld.rotation_tasks watch [--now 2026-12-24T07:00:00+00:00]
        The daily watch, at an injected instant (moto's dates are real ones: a month is not waited for).

Each prints one JSON line with what happened, last (the Lambda-style logs come before it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from typing import Any


def rotate(secret: str, days: int | None) -> dict[str, Any]:
    from chalicelib import aws
    from chalicelib.rotation import rotator
    from chalicelib.settings import get_settings
    from localworld import rotation_service
    from localworld.instance import LambdaContext

    settings = get_settings()
    sm = aws.client("secretsmanager")
    function = rotation_service.ensure_function(settings.endpoint_url or os.environ["AWS_ENDPOINT_URL"],
                                                aws.client("lambda"), aws.client("iam"), settings.account_name)
    arn = sm.describe_secret(SecretId=secret)["ARN"]
    token = rotation_service.start(sm, arn, function, days=days)
    report = rotation_service.drive(rotator.handle, arn, token, context=LambdaContext("rotate_secret"))
    account_id = arn.split(":")[4]
    event = rotation_service.service_event(arn, "Succeeded" if report.ok else "Failed", account_id, settings.region)
    answer = aws.client("events").put_events(Entries=[{
        "Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
        "Resources": []}])["Entries"][0]
    return {**report.as_dict(), "arn": arn, "event_id": answer.get("EventId")}


def watch(now: str | None) -> dict[str, Any]:
    from chalicelib.rotation import watch as daily

    return daily.run(now=datetime.fromisoformat(now) if now else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localworld.rotation_tasks")
    sub = parser.add_subparsers(dest="task", required=True)
    one = sub.add_parser("rotate", help="rotate a secret now, as Secrets Manager would")
    one.add_argument("secret")
    one.add_argument("--days", type=int, default=None, help="also enable rotation every N days")
    daily = sub.add_parser("watch", help="run the daily watch")
    daily.add_argument("--now", default=None, help="the instant the watch believes it is (ISO 8601, with offset)")
    args = parser.parse_args(argv)
    result = rotate(args.secret, args.days) if args.task == "rotate" else watch(args.now)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
