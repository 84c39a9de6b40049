"""The console's read model and views: versions are monotonic, peers speak only for themselves, a viewer of one
environment gets nothing of another, the audit filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.console import store, views
from chalicelib.console.exceptions import BadRecord
from chalicelib.console.handlers import admit
from chalicelib.console.records import Kind, Record
from chalicelib.policy.loader import load
from tests.harness import create_console_table  # noqa: F401 - made by the aws fixture

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FRONT = load("chalicelib/policies/shared-services.yaml")


def rec(kind=Kind.INCIDENT, id_="prod.abc.1", version=1, account="prod", environment="prod", **summary):
    return Record(kind=kind, id=id_, version=version, account=account, environment=environment,
                  at=NOW + timedelta(seconds=version), summary=summary)


def test_latest_keeps_the_highest_version_whatever_the_order(aws):
    assert store.apply(rec(version=2, open=True, group="v2"))
    assert not store.apply(rec(version=1, open=True, group="v1"))  # late
    assert not store.apply(rec(version=2, open=True, group="v2"))  # repeated
    assert store.apply(rec(version=3, open=False, group="v3"))
    [item] = store.latest("incident", ["prod"])
    assert (item.version, item.summary["group"]) == (3, "v3")
    history, _ = store.history(Kind.INCIDENT, ["prod"], since=NOW - timedelta(days=1))
    assert sorted(i.version for i in history) == [1, 2, 3]  # one item per version, the repeat rewrote its own


def test_reads_keep_other_environments_out(aws):
    store.apply(rec(id_="prod.a.1", account="prod", environment="prod", open=True))
    store.apply(rec(id_="stage.b.1", account="stage", environment="stage", open=True))
    assert [i.id for i in store.latest("incident", ["stage"])] == ["stage.b.1"]
    assert store.latest("incident", []) == []


@pytest.mark.parametrize(("sender", "data", "why"), [
    ("stage", {"account": "prod", "environment": "prod"}, "a record about account 'prod' from 'stage'"),
    ("stage", {"account": "stage", "environment": "prod"}, "a record about environment 'prod' from 'stage'"),
    ("stage", {"account": "stage", "environment": "stage", "version": -1}, "bad feed record: version"),
])
def test_a_peer_speaks_only_for_itself(sender, data, why):
    raw = {"kind": "incident", "id": "x", "version": 1, "at": NOW.isoformat(), "summary": {}, **data}
    with pytest.raises(BadRecord, match=why):
        admit(FRONT, sender, raw)


def test_admit_accepts_the_senders_own_record():
    raw = {"kind": "silence", "id": "stage.s1", "version": 1, "account": "stage", "environment": "stage",
           "at": NOW.isoformat(), "summary": {}}
    assert admit(FRONT, "stage", raw).id == "stage.s1"


@pytest.mark.parametrize(("user", "groups", "seen"), [
    ("U0ADMIN001", [], ["shared", "stage", "prod"]),
    ("U0DAVE0001", ["S0ENG"], ["shared", "stage", "prod"]),
    ("U0SAM00001", ["S0STAGE"], ["stage"]),
    ("U0EVE00001", [], []),
])
def test_what_each_person_may_see(user, groups, seen):
    assert views.environments_for(FRONT, user, groups) == seen


def test_audit_filters_use_an_index_and_keep_to_the_environments(aws):
    for i, (account, env, actor) in enumerate([("prod", "prod", "U1"), ("stage", "stage", "U1"),
                                               ("stage", "stage", "U2")]):
        store.apply(Record(kind=Kind.AUDIT, id=f"e{i}", version=1, account=account, environment=env,
                           at=NOW + timedelta(seconds=i), summary={"actor": actor, "capability": "alerts",
                                                                  "target": "alarm/x", "action": "a"}))
    rows, _ = store.history(Kind.AUDIT, ["stage", "prod"], filters={"actor": "U1"})
    assert sorted(r.account for r in rows) == ["prod", "stage"]
    rows, _ = store.history(Kind.AUDIT, ["stage"], filters={"actor": "U1"})
    assert [r.account for r in rows] == ["stage"]
    rows, _ = store.history(Kind.AUDIT, ["stage", "prod"], filters={"capability": "scaling"})
    assert rows == []


def test_silences_expiring_within_a_day_are_marked_and_count_what_they_mute():
    def item(kind, id_, **summary):
        return store.Item(kind=kind, id=id_, version=1, account="prod", environment="prod",
                          at=NOW.isoformat(), summary=summary, key="")
    page = views.incidents(["prod"], [item("incident", "i1", open=True, alerts=[
        {"alarm": "web-5xx", "state": "ALARM", "muted": "silenced by prod.s1 until 2026-11-20 20:00 UTC"}])],
        [item("silence", "prod.s1", ends_at=(NOW + timedelta(hours=8)).isoformat()),
         item("silence", "prod.s2", ends_at=(NOW + timedelta(days=3)).isoformat()),
         item("silence", "prod.s3", ends_at=(NOW - timedelta(hours=1)).isoformat())], NOW)
    assert [(s["id"], s["expiring"], s["mutes"]) for s in page.silences] == [("prod.s1", True, 1),
                                                                             ("prod.s2", False, 0)]
