"""The console's read model and views: versions are monotonic, peers speak only for themselves, a viewer of one
environment gets nothing of another, the audit filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.console import auth, rollups, store, views, web
from chalicelib.console.exceptions import BadRecord, ConsoleError
from chalicelib.console.handlers import admit
from chalicelib.console.records import Kind, Record
from chalicelib.policy.loader import load
from chalicelib.timefmt import stamp
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


def test_silences_expiring_within_a_day_are_marked_and_count_what_they_mute(aws):
    store.apply(rec(id_="prod.i1", open=True, alerts=[
        {"alarm": "web-5xx", "state": "ALARM", "muted": "silenced by prod.s1 until 2026-11-20 20:00 UTC"},
        {"alarm": "web-latency", "state": "ALARM", "muted": "silenced by prod.s1 until 2026-11-20 20:00 UTC"}]))
    for id_, ends in (("prod.s1", NOW + timedelta(hours=8)), ("prod.s2", NOW + timedelta(days=3)),
                      ("prod.s3", NOW - timedelta(hours=1))):
        store.apply(rec(Kind.SILENCE, id_, ends_at=ends.isoformat(), matchers=["app=web"]))
    store.apply(rec(Kind.SILENCE, "prod.s4", ends_at=(NOW + timedelta(days=1)).isoformat()))
    store.apply(rec(Kind.SILENCE, "prod.s4", 2, ends_at=(NOW + timedelta(days=1)).isoformat(), ended_by="U1"))
    page = web.build("incidents", FRONT, ["prod"], {}, now=NOW)["incidents"]
    assert [(s["id"], s["expiring"], s["mutes"]) for s in page.silences] == [("prod.s1", True, 2),
                                                                             ("prod.s2", False, 0)]
    store.apply(rec(id_="prod.i1", version=5, open=False, alerts=[]))  # resolved: it mutes nothing now
    page = web.build("incidents", FRONT, ["prod"], {}, now=NOW)["incidents"]
    assert [(s["id"], s["mutes"]) for s in page.silences] == [("prod.s1", 0), ("prod.s2", 0)]
    assert ([i["id"] for i in page.open], [i["id"] for i in page.recent]) == ([], ["prod.i1"])


# ---- rollups: the pages' own items follow the latest version, whatever order records come in ----

def promotion(id_, version, *, app="web", env="prod", account="prod", **summary):
    return Record(kind=Kind.PROMOTION, id=id_, version=version, account=account, environment=env,
                  at=NOW - timedelta(days=1) + timedelta(minutes=version),
                  summary={"app": app, "side": "target", "source_env": "stage", "target_env": env,
                           "revision": f"r{version}", **summary})


def dora_cells(allowed=("prod",)):
    return {(a["app"], a["totals"]["deploys"], a["totals"]["failed"])
            for a in web.build("dora", FRONT, list(allowed), {}, now=NOW)["dora"].apps}


def test_promotions_in_flight_and_dora_follow_the_newest_version_only(aws):
    promoted = (NOW - timedelta(days=1)).isoformat()
    committed = (NOW - timedelta(days=1, hours=5)).isoformat()
    versions = {
        1: promotion("p1", 1, state="deploying", active=True),
        2: promotion("p1", 2, state="promoted", active=False, promoted_at=promoted, committed_at=committed),
        3: promotion("p1", 3, state="rolled_back", active=False, promoted_at=promoted, committed_at=committed,
                     failed_at=NOW.isoformat(), restored_at=(NOW + timedelta(hours=1)).isoformat()),
    }
    assert store.apply(versions[1])
    estate = web.build("estate", FRONT, ["prod"], {}, now=NOW)["estate"]
    assert [p["id"] for p in estate.promotions] == ["p1"]
    assert store.apply(versions[3])
    assert not store.apply(versions[2])  # late
    assert not store.apply(versions[1])  # late, and would bring it back in flight
    assert not store.apply(versions[3])  # repeated
    assert web.build("estate", FRONT, ["prod"], {}, now=NOW)["estate"].promotions == []
    assert dora_cells() == {("web", 1, 1)}  # one deploy, one failure: counted once
    assert dora_cells(("stage",)) == set()
    store.apply(promotion("p2", 1, promoted_at=promoted, committed_at=committed, active=False))
    store.apply(promotion("q1", 1, app="api", promoted_at=promoted, active=False))
    assert dora_cells() == {("web", 2, 1), ("api", 1, 0)}


def test_the_estate_rollup_keeps_each_accounts_newest_revision(aws):
    def current(account, version, revision):
        return Record(kind=Kind.CURRENT, id="web", version=version, account=account, environment="prod",
                      at=NOW + timedelta(seconds=version), summary={"app": "web", "revision": revision})
    for record in (current("prod", 2, "bbb"), current("prod", 1, "aaa"), current("prod-eu", 1, "bbb"),
                   current("prod-us", 3, "ccc")):
        store.apply(record)
    [row] = web.build("estate", FRONT, ["prod"], {}, now=NOW)["estate"].apps
    assert row["app"] == "web"
    assert {k: row["cells"]["prod"][k] for k in ("revision", "accounts", "on", "others")} == {
        "revision": "bbb", "accounts": 3, "on": 2, "others": 1}
    assert web.build("estate", FRONT, ["stage"], {}, now=NOW)["estate"].apps == []
    store.apply(current("prod-us", 4, "bbb"))  # the last account running ccc moves on: ccc leaves the cell
    [row] = web.build("estate", FRONT, ["prod"], {}, now=NOW)["estate"].apps
    assert (row["cells"]["prod"]["on"], row["cells"]["prod"]["others"]) == (3, 0)
    [cell] = store.part("estate", ["prod"], limit=10).items
    assert cell.counts == {"bbb": 3}  # the emptied counter and its note are gone: the item stays small


def test_pages_are_bounded_and_the_next_page_goes_on_where_the_last_stopped(aws, monkeypatch):
    monkeypatch.setitem(web.PAGE_SIZES, "estate", 7)
    for i in range(20):
        for env in ("stage", "prod"):
            store.apply(Record(kind=Kind.CURRENT, id=f"app{i:02d}", version=1, account=env, environment=env, at=NOW,
                               summary={"app": f"app{i:02d}", "revision": "r"}))
    seen, after, pages = [], None, 0
    while True:
        values = web.build("estate", FRONT, ["stage", "prod"], {}, now=NOW, after=after)
        rows = values["estate"].apps
        assert len(rows) <= 4 and all(set(r["cells"]) == {"stage", "prod"} for r in rows)  # never half an app
        seen += [r["app"] for r in rows]
        pages += 1
        after = values["after"]
        if not after:
            break
    assert seen == [f"app{i:02d}" for i in range(20)] and pages >= 5
    # a stage viewer, even with a cursor an admin's page made, reads stage only
    first = web.build("estate", FRONT, ["stage", "prod"], {}, now=NOW)
    rows = web.build("estate", FRONT, ["stage"], {}, now=NOW, after=first["after"])["estate"].apps
    assert rows and all(set(r["cells"]) == {"stage"} for r in rows)


def test_a_cursor_is_bound_to_its_person_page_and_question():
    client = auth.Client("id", "secret", "k" * 40)
    sam = auth.Session("U0SAM00001", "sam", 2_000_000_000)
    root = auth.Session("U0ADMIN001", "root", 2_000_000_000)
    bound = {"environments": ["stage"], "query": {}}
    token = auth.seal_cursor(client, sam, "audit", bound, {"audit": {"pk": "history#audit", "sk": "x"}})
    assert auth.open_cursor(client, sam, "audit", bound, token) == {"audit": {"pk": "history#audit", "sk": "x"}}
    for who, page, asked, why in ((root, "audit", bound, "another person"),
                                  (sam, "estate", bound, "another person, page"),
                                  (sam, "audit", {"environments": ["prod"], "query": {}}, "or filter")):
        with pytest.raises(ConsoleError, match=why):
            auth.open_cursor(client, who, page, asked, token)
    head, body, signature = token.split(".")
    with pytest.raises(ConsoleError, match="not valid"):
        auth.open_cursor(client, sam, "audit", bound, f"{head}.{body}.{signature[:-4]}AAAA")
    with pytest.raises(ConsoleError, match="not valid"):
        auth.open_cursor(auth.Client("id", "secret", "x" * 40), sam, "audit", bound, token)


MON = datetime(2026, 11, 16, tzinfo=UTC)  # NOW's week


@pytest.mark.parametrize(("kind", "summary", "expected"), [
    ("current", {"app": "web", "revision": "abc"}, [("estate", "web#prod", False, ["abc"])]),
    ("silence", {"ends_at": (NOW + timedelta(hours=1)).isoformat()}, [("silences", "prod#prod#x", True, [])]),
    ("silence", {"ends_at": (NOW + timedelta(hours=1)).isoformat(), "ended_by": "U1"}, []),
    ("incident", {"open": True, "alerts": [{"muted": "silenced by prod.s1 until x"}, {"muted": "inhibited by y"}]},
     [("board", f"1#{stamp(NOW)}#prod#prod#x", True, []), ("silences", "prod#prod#prod.s1#mutes", False, ["x"])]),
    ("incident", {"open": False, "alerts": [{"muted": "silenced by prod.s1 until x"}]},
     [("board", f"0#{stamp(NOW)}#prod#prod#x", True, [])]),
    ("promotion", {"active": True, "side": "source", "app": "web"},
     [("flight", f"{stamp(NOW)}#prod#prod#x", True, [])]),
    ("promotion", {"active": False, "side": "target", "app": "web", "failed_at": NOW.isoformat(),
                   "promoted_at": (MON - timedelta(days=1)).isoformat()},
     [("dora", "web#prod#2026-11-09", False, ["d#x"]), ("dora", "web#prod#2026-11-16", False, ["f#x"])]),
    ("promotion", {"active": False, "side": "source", "app": "web", "promoted_at": NOW.isoformat()}, []),
    ("audit", {"actor": "U1"}, []),
])
def test_what_each_version_puts_into_the_rollups(kind, summary, expected):
    found = rollups.rollups(kind, "x", "prod", "prod", NOW, summary)
    assert [(r.pk, r.sk, r.copy, sorted(r.members) + sorted(r.counts)) for r in found] == expected
