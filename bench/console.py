"""How long each console page takes: its queries alone, against the same queries plus the view and the template.

The read model is seeded in moto (in-process) through ``store.apply``, as the feed writes it (latest items, their
rollups, history): ``--accounts`` × ``--apps`` apps, each with its current revision and a promotion, plus
incidents, silences, scaling changes and audit entries per account. Each page's first page is then timed
``--runs`` times alternating "its queries and view" and "the same + rendering the template" in one run; p50/p99,
the ratio, and how many items the page read (bounded by ``web.PAGE_SIZES``, whatever the estate's size).

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
            if p == 0:
                records.append(Record(kind=Kind.SILENCE, id=f"{env}.s{a}", version=1, account=account,
                                      environment=env, at=at, summary={
                                          "matchers": ["app=app00"], "author": "U1", "reason": "maintenance",
                                          "starts_at": at.isoformat(),
                                          "ends_at": (now + timedelta(hours=a % 48)).isoformat()}))
            if p < 2:
                records += [
                    Record(kind=Kind.INCIDENT, id=f"{env}.{a}.{p}", version=2, account=account, environment=env,
                           at=at, summary={"open": p == 0, "group": "alarm=x", "route": "r", "receiver": "x",
                                           "alerts": [{"alarm": "x", "state": "ALARM",
                                                       "muted": f"silenced by {env}.s{a} until later"}],
                                           "timeline": []}),
                    Record(kind=Kind.SCALING, id=f"asg-{a}", version=p + 1, account=account, environment=env,
                           at=at, summary={"target": f"asg-{a}", "before": 2 + p, "after": 3 + p, "floor": 2,
                                           "ceiling": 8, "origin": "schedule"}),
                ]
            for record in records:
                store.apply(record, client)
                count += 1
    return count


def _partition_queries() -> None:
    """moto answers every Query by sorting the whole table (``Table.all_items()``, a slow comparator), so a Query's
    cost grows with everything in the table, where DynamoDB's grows with what it reads of one partition (up to
    ``Limit`` items, in key order). The bench makes moto's table-key Queries start from the queried partition,
    already in key order (then moto sorts, pages, filters and counts as it always does, walking the partition once):
    the bench's own gap, never the local world's or the tests'."""
    from moto.dynamodb.models.table import Table

    original = Table.query

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        # in key order already (plain string sort): moto's own sort, with its slow comparator, then has no work
        partition = sorted(self.items.get(hash_key, {}).values(), key=lambda item: item.range_key.value)
        self.all_items = lambda: partition  # this call only (an instance attribute, removed below)
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query


def _count_items(client, call) -> str:
    """How many Queries one page made and how many items they read (ScannedCount: before the filter)."""
    calls = []
    real = client.query

    def counting(**kwargs):
        answer = real(**kwargs)
        calls.append(answer.get("ScannedCount", 0))
        return answer
    client.query = counting
    try:
        call()
    finally:
        client.query = real
    return f"{len(calls)}q/{sum(calls)}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="time pages by this process's CPU time (moto runs in it; steady on a shared machine) "
                             "or by the wall clock")
    args = parser.parse_args()
    from moto import mock_aws

    with mock_aws():
        import boto3

        from chalicelib.console import web
        from chalicelib.policy import loader as policy
        from localworld.emulator import per_item_transactions
        from tests.harness import create_console_table

        client = boto3.client("dynamodb")
        create_console_table(client)
        per_item_transactions()  # the local world's transactions: moto backs up whole tables
        _partition_queries()
        now = datetime.now(UTC)
        started = time.perf_counter()
        items = seed(client, args.accounts, args.apps, now)
        print(f"seeded {items} records ({args.accounts} accounts x {args.apps} apps) in "
              f"{time.perf_counter() - started:.0f} s")
        current = policy.current()
        allowed = ["shared", "stage", "prod"]
        print(f"{'page':<10} {'query+view p50':>14} {'p99':>8} {'+render p50':>12} {'p99':>8} {'ratio p50':>10} "
              f"{'items read':>10}")
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        print(f"(times: {args.clock} clock, {args.runs} runs each)")
        for page in web.PAGES:
            plain, full = [], []
            read = _count_items(client, lambda page=page: web.build(page, current, allowed, {}, client=client, now=now))
            for _ in range(args.runs):
                t = clock()
                web.build(page, current, allowed, {}, client=client, now=now)  # the queries and the view
                plain.append(clock() - t)
                t = clock()
                values = web.build(page, current, allowed, {}, client=client, now=now)
                web.render(f"{page}.html", session=None, page=page, base="/console", allowed=allowed,
                           environment=None, every_environment=allowed, **values)
                full.append(clock() - t)

            def p(xs, q):
                return statistics.quantiles(xs, n=100)[q - 1] * 1000 if len(xs) > 1 else xs[0] * 1000
            print(f"{page:<10} {p(plain, 50):>12.1f}ms {p(plain, 99):>6.1f}ms {p(full, 50):>10.1f}ms "
                  f"{p(full, 99):>6.1f}ms {p(full, 50) / p(plain, 50):>9.2f}x {read:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
