"""An alarm storm through the real handler path (intake, ledger, handler, flush) on a hand-moved clock: the
common path costs at most 2 DynamoDB writes of the capability's own per alarm event (the incident and the
audit entry), and Slack hears from each group no more often than its intervals allow."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from pynamodb.connection.base import Connection

from tests.alerts_fixtures import AlertsWorld, receivers_standin_fixture, world_fixture  # noqa: F401
from tests.alerts_kit import T0, alarm

STORM = """
receivers:
  default: {slack: {channel: "#prod-alerts"}}
  web: {slack: {channel: "#team-web"}}
  api: {slack: {channel: "#team-api"}}
route:
  receiver: default
  group_by: [app]
  group_wait: 30s
  group_interval: 2m
  routes:
    - {matchers: ["app=web"], receiver: web}
    - {matchers: ["app=api"], receiver: api}
"""
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@pytest.fixture
def counted(monkeypatch):
    calls: Counter = Counter()
    real = Connection.dispatch

    def dispatch(self, operation_name, operation_kwargs):
        calls[(operation_kwargs.get("TableName", "?"), operation_name)] += 1
        return real(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", dispatch)
    return calls


def test_storm_of_flapping_alarms(world: AlertsWorld, counted):
    world.policy(STORM)
    rng = random.Random(4)
    names = [f"{app}-{i}" for app in ("web", "api", "db") for i in range(17)][:50]
    state = dict.fromkeys(names, "OK")
    events, minutes = 400, 20
    per_event: list[int] = []
    flushed_at = world.clock.at
    for n in range(events):
        world.clock.set(T0 + timedelta(seconds=n * minutes * 60 / events))
        name = rng.choice(names[:10]) if rng.random() < 0.5 else rng.choice(names)  # a few flap a lot
        new = "OK" if state[name] == "ALARM" else "ALARM"
        before = sum(v for (_, op), v in counted.items() if op in WRITES)
        outcome = world.send(alarm(name, new, previous=state[name], at=world.clock.at, tags={}))
        assert outcome["outcome"] == "processed"
        per_event.append(sum(v for (_, op), v in counted.items() if op in WRITES) - before)
        state[name] = new
        if world.clock.at - flushed_at >= timedelta(minutes=1):  # the schedule
            world.flush()
            flushed_at = world.clock.at
    world.flush(minutes=1)

    # ledger writes go through boto3 (Powertools), not PynamoDB: these are the capability's own writes
    assert max(per_event) <= 2, Counter(per_event)
    posts = world.slack_calls()["chat.postMessage"]
    updates = world.slack_calls()["chat.update"]
    groups = 3  # web, api, and db (the default route)
    # each group: one post, then at most one update per group_interval (2m) over the storm (+ the final flush)
    assert posts <= groups * 2  # a group may resolve and reopen once at most in 20 minutes of this storm
    assert updates <= groups * (minutes // 2 + 1)
    assert posts + updates <= groups * (minutes // 2 + 2)
