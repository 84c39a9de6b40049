"""Parallel Lambda invocations: no lost update when alarms of one group arrive at once, one notification when
two flushes run at once. Contention is forced deterministically (every writer reads before any writes), not
left to timing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from chalicelib.alerts import flush, model, routing, store
from chalicelib.alerts.policy import section
from tests.alerts_fixtures import AlertsWorld, receivers_standin_fixture, world_fixture  # noqa: F401
from tests.alerts_kit import T0, alarm, typed

ONE_GROUP = """
receivers: {team: {slack: {channel: "#team"}}}
route: {receiver: team, group_wait: 30s}
"""


class ReadThenWait:
    """Patches store.load so that each of ``n`` threads reads once, then waits until all have read."""

    def __init__(self, monkeypatch, n: int):
        self.barrier = threading.Barrier(n, timeout=20)
        self.local = threading.local()
        self.conflicts = 0
        self.lock = threading.Lock()
        self.armed = True
        real_load, real_save = store.load_with_deadline, store.save

        def load(key):
            found = real_load(key)
            if self.armed and not getattr(self.local, "waited", False):
                self.local.waited = True
                self.barrier.wait()
            return found

        def save(inc, version, now):
            try:
                return real_save(inc, version, now)
            except store.Conflict:
                with self.lock:
                    self.conflicts += 1
                raise

        monkeypatch.setattr(store, "load_with_deadline", load)
        monkeypatch.setattr(store, "save", save)


def test_parallel_alarms_in_one_group_lose_no_update(world: AlertsWorld, monkeypatch):
    from chalicelib.alerts import handlers

    current = world.policy(ONE_GROUP)
    alerts_section = section(current)
    root = routing.tree(alerts_section)
    n = 8
    alerts = [model.from_event(typed(alarm(f"web-{i}", at=T0, tags={})), current, alerts_section)[0]
              for i in range(n)]
    race = ReadThenWait(monkeypatch, n)
    with ThreadPoolExecutor(n) as pool:
        done = list(pool.map(lambda a: handlers.ingest(a, root, alerts_section, environment="prod", now=T0),
                             alerts))
    race.armed = False
    assert race.conflicts >= n - 1  # all read version 0; one created the item, every other one had to retry
    [inc] = world.open()
    assert sorted(a.name for a in inc.alerts.values()) == sorted(f"web-{i}" for i in range(n))
    _, version = store.load(inc.key)
    assert version == n  # one successful write per alarm, none lost
    assert sorted(note for d in done for _, note, _ in d).count("opened") == 1


def test_two_flushes_at_once_notify_once(world: AlertsWorld, monkeypatch):
    world.policy(ONE_GROUP)
    world.send(alarm("web-5xx", at=T0))
    world.clock.advance(minutes=1)
    [key] = store.due(world.clock.at)
    race = ReadThenWait(monkeypatch, 2)
    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda _: flush.flush_one(key, world.clock.at), range(2)))
    race.armed = False
    assert outcomes == ["busy", "notified"] and race.conflicts == 1
    assert len(world.messages("#team")) == 1
    assert world.flush(minutes=1) == {}
