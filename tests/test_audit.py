"""The audit log API: immutable entries, answered by target, by correlation id and by day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pynamodb.exceptions import PutError

from chalicelib.state import audit
from chalicelib.state.models import AuditEntry


def write(target="service/prod/web", cid="c1", when=None, **kw):
    return audit.record(action=kw.pop("action", "scaling.set_desired"), target=target,
                        outcome=kw.pop("outcome", audit.Outcome.SUCCEEDED), correlation_id=cid,
                        capability=kw.pop("capability", "scaling"), now=when, **kw)


def test_record_keeps_who_what_before_after_outcome(aws):
    entry = write(actor="U024BE7LH", before={"desired": 2}, after={"desired": 4}, reason="launch day")
    [stored] = audit.for_target("service/prod/web")
    assert stored.actor == "U024BE7LH" and stored.action == "scaling.set_desired"
    assert (stored.before, stored.after, stored.outcome, stored.reason) == (
        {"desired": 2}, {"desired": 4}, "succeeded", "launch day")
    assert stored.at == entry.at and stored.account == "prod"
    assert audit.as_dict(stored)["correlation_id"] == "c1"
    assert stored.expires_at > datetime.now(UTC) + timedelta(days=399)


def test_entries_are_never_overwritten(aws):
    entry = write()
    clash = AuditEntry(entry.target, entry.at, day=entry.day, actor="mallory", action="x", capability="x",
                       outcome="succeeded", correlation_id="c9", account="prod")
    with pytest.raises(PutError):
        clash.save(condition=AuditEntry.target.does_not_exist())
    assert audit.for_target(entry.target)[0].actor == "system"


def test_queries_by_target_correlation_and_day_newest_first(aws):
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    write(cid="a", when=t0)
    write(cid="a", when=t0 + timedelta(minutes=1), target="autoScalingGroup/api")
    write(cid="b", when=t0 + timedelta(minutes=2))
    write(cid="c", when=t0 + timedelta(days=1))
    assert [e.correlation_id for e in audit.for_target("service/prod/web")] == ["c", "b", "a"]
    assert [e.correlation_id for e in audit.for_target("service/prod/web", limit=1)] == ["c"]
    assert sorted(e.target for e in audit.for_correlation("a")) == ["autoScalingGroup/api", "service/prod/web"]
    assert [e.correlation_id for e in audit.for_day("2026-11-20")] == ["b", "a", "a"]


def test_same_instant_entries_do_not_collide(aws):
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    for _ in range(5):
        write(when=now)
    assert len(audit.for_target("service/prod/web")) == 5
