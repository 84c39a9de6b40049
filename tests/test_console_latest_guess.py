"""The read model's latest item is read only when this process did not write that entity last: the item it wrote
is the guess, the version condition checks it, and a stale guess (another process wrote since, the item expired)
learns what is there from the cancelled transaction. The rollups end the same either way."""

from __future__ import annotations

from collections import Counter, OrderedDict
from datetime import UTC, datetime, timedelta

import boto3

from chalicelib.console import store
from chalicelib.console.records import Kind, Record

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def current(version: int, revision: str, account: str = "prod") -> Record:
    return Record(kind=Kind.CURRENT, id="web", version=version, account=account, environment="prod",
                  at=NOW + timedelta(seconds=version), summary={"app": "web", "revision": revision})


def counting_client() -> tuple[object, Counter]:
    client, calls = boto3.client("dynamodb"), Counter()
    client.meta.events.register("before-call.dynamodb", lambda model, **kw: calls.update([model.name]))
    return client, calls


def cell() -> dict[str, int]:
    [item] = store.part("estate", ["prod"], limit=10).items
    return item.counts


def latest_version() -> int:
    [item] = store.latest("current", ["prod"])
    return item.version


def test_the_next_version_of_an_entity_this_process_wrote_is_written_without_a_read(aws):
    client, calls = counting_client()
    assert store.apply(current(1, "aaa"), client)
    assert calls["GetItem"] == 1  # nothing written here before: read
    calls.clear()
    assert store.apply(current(2, "bbb"), client)
    assert store.apply(current(3, "ccc"), client)
    assert (calls["GetItem"], calls["TransactWriteItems"]) == (0, 2)  # no read
    assert (cell(), latest_version()) == ({"ccc": 1}, 3)


def test_a_guess_another_process_made_stale_is_corrected_by_the_cancelled_transaction(aws, monkeypatch):
    client, calls = counting_client()
    store.apply(current(1, "aaa"), client)
    with monkeypatch.context() as other_process:  # its own memory: it reads v1 and writes v2
        other_process.setattr(store, "_written", OrderedDict())
        store.apply(current(2, "bbb"), client)
    calls.clear()
    assert store.apply(current(3, "ccc"), client)  # guesses v1: cancelled, answered with v2, written over v2
    assert (calls["GetItem"], calls["TransactWriteItems"]) == (0, 2)
    assert (cell(), latest_version()) == ({"ccc": 1}, 3)  # v2's bbb taken out (not v1's aaa again)


def test_a_guess_whose_item_is_gone_writes_the_item_anew(aws):
    client, _ = counting_client()
    store.apply(current(1, "aaa"), client)
    pk, sk = store.latest_key(current(1, "aaa"))
    client.delete_item(TableName=store._table(), Key={"pk": {"S": pk}, "sk": {"S": sk}})  # as its TTL would
    assert store.apply(current(2, "bbb"), client)  # guesses v1: cancelled with no item, written where none is
    assert latest_version() == 2


def test_a_late_version_is_checked_against_the_table_not_the_guess(aws):
    client, calls = counting_client()
    store.apply(current(3, "ccc"), client)
    calls.clear()
    assert not store.apply(current(2, "bbb"), client)  # older than what was written here: read, and left alone
    assert calls["GetItem"] == 1
    assert (cell(), latest_version()) == ({"ccc": 1}, 3)
