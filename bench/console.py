"""How long each console page takes: its queries alone, against the same queries plus the view and the template.

The read model is seeded directly in moto (in-process): ``--accounts`` × ``--apps`` apps, each with its current
revision and a promotion, plus incidents, silences, scaling changes and audit entries per account. Each page is
then timed ``--runs`` times alternating "queries only" and "queries + render" in one run; p50/p99 and the ratio.

    .venv/bin/python bench/console.py --accounts 500 --apps 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "eu-west-1",
                   "AWS_DEFAULT_REGION": "eu-west-1", "SWITCHBOARD_ACCOUNT_NAME": "shared-services",
                   "SWITCHBOARD_POLICY_FILE": "policies/shared-services.yaml"})


def seed(client, accounts: int, apps: int, now: datetime) -> int:
    from chalicelib.console import store
    from chalicelib.console.records import Kind, Record

    count = 0
    for a in range(accounts):
        account, env = f"acct{a:03d}", ("stage", "prod")[a % 2]
        for p in range(apps):
            app, at = f"app{p:02d}", now - timedelta(hours=a + p)
            records = [
                Record(kind=Kind.CURRENT, id=app, version=1, account=account, environment=env, at=at,
                       summary={"app": app, "revision": f"{a:03d}{p:04d}", "message": "a change"}),
                Record(kind=Kind.PROMOTION, id=f"{app}-{a}", version=3, account=account, environment=env, at=at,
                       summary={"app": app, "side": "target", "state": "promoted" if p % 3 else "soaking",
                                "active": not p % 3, "source_env": "stage", "target_env": env, "revision": "abc",
                                "promoted_at": at.isoformat(), "committed_at": (at - timedelta(hours=5)).isoformat(),
                                "gates": [{"name": "soak", "status": "wait", "reason": "10m left"}]}),
                Record(kind=Kind.AUDIT, id=f"{account}-{app}", version=1, account=account, environment=env, at=at,
                       summary={"target": f"app/{app}", "action": "promotion.to_promoted", "capability": "promotion",
                                "actor": "system", "outcome": "succeeded"}),
            ]
            if p < 2:
                records += [
                    Record(kind=Kind.INCIDENT, id=f"{env}.{a}.{p}", version=2, account=account, environment=env,
                           at=at, summary={"open": p == 0, "group": "alarm=x", "route": "r", "receiver": "x",
                                           "alerts": [], "timeline": []}),
                    Record(kind=Kind.SCALING, id=f"asg-{a}", version=p + 1, account=account, environment=env,
                           at=at, summary={"target": f"asg-{a}", "before": 2 + p, "after": 3 + p, "floor": 2,
                                           "ceiling": 8, "origin": "schedule"}),
                ]
            for record in records:
                store.apply(record, client)
                count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    from moto import mock_aws

    with mock_aws():
        import boto3

        from chalicelib.console import web
        from chalicelib.policy import loader as policy
        from tests.harness import create_console_table

        client = boto3.client("dynamodb")
        create_console_table(client)
        now = datetime.now(UTC)
        started = time.perf_counter()
        items = seed(client, args.accounts, args.apps, now)
        print(f"seeded {items} records ({args.accounts} accounts x {args.apps} apps) in "
              f"{time.perf_counter() - started:.0f} s")
        current = policy.current()
        allowed = ["shared", "stage", "prod"]
        print(f"{'page':<10} {'queries p50':>12} {'p99':>8} {'render p50':>11} {'p99':>8} {'ratio p50':>10}")
        for page in web.PAGES:
            plain, full = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                web.build(page, current, allowed, {}, client=client, now=now)  # the queries and the view
                plain.append(time.perf_counter() - t)
                t = time.perf_counter()
                values = web.build(page, current, allowed, {}, client=client, now=now)
                web.render(f"{page}.html", session=None, page=page, base="/console", allowed=allowed,
                           environment=None, every_environment=allowed, **values)
                full.append(time.perf_counter() - t)

            def p(xs, q):
                return statistics.quantiles(xs, n=100)[q - 1] * 1000 if len(xs) > 1 else xs[0] * 1000
            print(f"{page:<10} {p(plain, 50):>10.0f}ms {p(plain, 99):>6.0f}ms {p(full, 50):>9.0f}ms "
                  f"{p(full, 99):>6.0f}ms {p(full, 50) / p(plain, 50):>9.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
