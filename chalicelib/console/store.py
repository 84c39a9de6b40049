"""The read model: the front door's ``switchboard-console`` table (infra/account.yaml, front door only).

```
latest   PK "latest#<shelf>"   SK "<environment>#<account>#<kind>#<id>"   the highest version of each entity
                                  (shelf secret: "<environment>#<account>#<secret>#<kind>#<id>": a secret's rows meet)
history  PK "history#<kind>"   SK "<at µs>#<account>#<id>#<version>"       every version, newest last (TTL)
                                  (scaling: "<environment>#<account>#<target>#<at µs>#<version>": a target's meet)
rollups  PK estate | flight | board | silences | dora                       the pages' own items (rollups.py)
GSIs (audit history only, sparse): audit_account (f_account, sk), audit_actor (f_actor, sk),
                                   audit_target (f_target, sk)
```

Each page part is one Query of at most ``PAGES[part]`` items (``Limit``), never a whole shelf: the Estate reads
``estate`` and ``flight``; Incidents ``board`` and ``silences``; Changes ``history#scaling`` and
``latest#secret``; Audit ``history#audit`` newest first, or one of its GSIs when filtered by account, actor or
target; DORA ``dora``. A FilterExpression keeps other environments' items (and, for the audit, the other
filters) out of the answer; the views filter again. Where a page has more, ``part`` returns the key to start
after (the console signs it into the next page's link: ``web.py``).

Versions: a latest item is written only over an older version (``version = :old`` or absent), in one transaction
with the rollups it changes (the old version's taken out, the new one's put in): a late or repeated record changes
nothing, and two records of one entity racing each other cannot both win. History items are keyed by version, so
a repeated record rewrites the same item.

The latest item a transaction replaces is read (a consistent GetItem) unless this process wrote that entity last:
then the item it wrote is the guess, and the version condition checks it. A guess gone stale (another process
wrote the entity since, or the item expired) cancels the transaction, which answers with the item that is there
(``ReturnValuesOnConditionCheckFailure``): the next try uses it, with no read. A version is written once, so the
same version is the same item.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.console.records import HISTORY_ONLY, SHELF, Kind, Record
from chalicelib.console.rollups import COUNT, MEMBER, NOTE, Rollup, rollups
from chalicelib.settings import get_settings
from chalicelib.timefmt import stamp

HISTORY_DAYS = 35  # bounded history: enough for the Changes page's fortnight and a month of audit
LATEST_DAYS = 120  # entities not heard of for four months leave (DORA looks back twelve weeks)
PAGE = 200  # items per page part (audit)
AUDIT_INDEXES = {"account": "audit_account", "actor": "audit_actor", "target": "audit_target"}
TRIES = 8  # a transaction that lost a race with another record of the same entity (or a shared rollup) tries again
WRITTEN = 2048  # latest items this process wrote last, kept as the guess of what the next version replaces


@dataclass(frozen=True)
class Item:
    """One stored record as the pages read it."""

    kind: str
    id: str
    version: int
    account: str
    environment: str
    at: str
    summary: dict[str, Any]
    key: str  # the sort key


@dataclass(frozen=True)
class Shared:
    """One rollup item many entities contribute to (rollups.py): its plain attributes and its members."""

    key: str
    environment: str
    attrs: dict[str, str]
    members: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def _table() -> str:
    return get_settings().console_table


def latest_key(record: Record) -> tuple[str, str]:
    shelf = SHELF[record.kind]
    group = f"{record.summary.get('secret') or record.id.split('#', 1)[0]}#" if shelf == "secret" else ""
    return f"latest#{shelf}", f"{record.environment}#{record.account}#{group}{record.kind}#{record.id}"


def history_key(record: Record) -> tuple[str, str]:
    if record.kind is Kind.SCALING:
        return (f"history#{record.kind}",
                f"{record.environment}#{record.account}#{record.id}#{stamp(record.at)}#{record.version:020d}")
    return f"history#{record.kind}", f"{stamp(record.at)}#{record.account}#{record.id}#{record.version:020d}"


def _item(record: Record, pk: str, sk: str, expires: datetime | None) -> dict[str, Any]:
    item = {
        "pk": {"S": pk}, "sk": {"S": sk}, "kind": {"S": str(record.kind)}, "id": {"S": record.id},
        "version": {"N": str(record.version)}, "account": {"S": record.account},
        "environment": {"S": record.environment}, "at": {"S": stamp(record.at)},
        "summary": {"S": json.dumps(record.summary, separators=(",", ":"), default=str)},
    }
    for flag in ("active", "open"):
        if flag in record.summary:
            item[flag] = {"BOOL": bool(record.summary[flag])}
    if "side" in record.summary:
        item["side"] = {"S": str(record.summary["side"])}
    if record.kind in (Kind.SCALING, Kind.ROTATION, Kind.FINDING):
        item["target"] = {"S": str(record.summary.get("target") or record.summary.get("secret") or record.id)}
    if expires is not None:
        item["expires_at"] = {"N": str(int(expires.timestamp()))}
    return item


def _record_of(raw: dict[str, Any]) -> Record:
    """A stored latest item as the record it came from (to derive what it put into the rollups)."""
    return Record.model_construct(kind=Kind(raw["kind"]["S"]), id=raw["id"]["S"], version=int(raw["version"]["N"]),
                                  account=raw["account"]["S"], environment=raw["environment"]["S"],
                                  at=datetime.fromisoformat(raw["at"]["S"].replace("Z", "+00:00")),
                                  summary=json.loads(raw["summary"]["S"]))


def _rollups(record: Record | None) -> dict[tuple[str, str], Rollup]:
    if record is None:
        return {}
    return {r.key: r for r in rollups(str(record.kind), record.id, record.account, record.environment, record.at,
                                      record.summary)}


def apply(record: Record, client: Any = None) -> bool:
    """Keep ``record``: its history item, and the latest item and its rollups unless a newer (or the same)
    version is there. True when the latest item changed (or the kind keeps history only)."""
    client = client or aws.client("dynamodb")
    table = _table()
    hpk, hsk = history_key(record)
    history = _item(record, hpk, hsk, record.at + timedelta(days=HISTORY_DAYS))
    if record.kind is Kind.AUDIT:
        for facet in AUDIT_INDEXES:
            value = record.account if facet == "account" else record.summary.get(facet)
            if value:
                history[f"f_{facet}"] = {"S": str(value)}
        if record.summary.get("capability"):
            history["capability"] = {"S": str(record.summary["capability"])}
    client.put_item(TableName=table, Item=history)
    if record.kind in HISTORY_ONLY:
        return True
    pk, sk = latest_key(record)
    expires = None if record.kind is Kind.CURRENT else record.at + timedelta(days=LATEST_DAYS)
    latest_item = _item(record, pk, sk, expires)
    known = _written_last((table, pk, sk), record.version)  # a guess, or _UNREAD
    for attempt in range(TRIES):
        stored = known if known is not _UNREAD else client.get_item(
            TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get("Item")
        known = _UNREAD
        if stored is not None and int(stored["version"]["N"]) >= record.version:
            return False  # a newer (or the same) version is there already
        actions, emptied = _transaction(table, latest_item, stored, record)
        try:
            client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("TransactionCanceledException",
                                                                  "TransactionConflictException"):
                raise
            reasons = exc.response.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                known = reasons[0].get("Item")  # the latest item that is there (None: there is none): try again
            else:
                time.sleep(0.01 * 2 ** attempt)  # another record of a shared rollup went first: read again
            continue
        _remember((table, pk, sk), latest_item)
        for key, name in emptied:
            _drop_count(client, table, key, name)
        return True
    raise RuntimeError(f"{record.kind}/{record.id}@{record.version}: lost {TRIES} races to write the read model")


_UNREAD = object()
_written: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
_written_lock = threading.Lock()


def _written_last(key: tuple[str, str, str], version: int) -> Any:
    """The latest item this process wrote at ``key``, if older than ``version`` (a newer one is never trusted: the
    item may have expired since); else ``_UNREAD``."""
    with _written_lock:
        item = _written.get(key)
    return item if item is not None and int(item["version"]["N"]) < version else _UNREAD


def _remember(key: tuple[str, str, str], item: dict[str, Any]) -> None:
    with _written_lock:
        _written[key] = item
        _written.move_to_end(key)
        while len(_written) > WRITTEN:
            _written.popitem(last=False)


def forget() -> None:
    """Drop every guess (tests: each starts from an empty table)."""
    with _written_lock:
        _written.clear()


def _drop_count(client: Any, table: str, key: tuple[str, str], name: str) -> None:
    """A counter this version took one from: gone with its note once it is down to 0 (if another entity added one
    meanwhile, the condition keeps both; a crash before this leaves a 0 the pages skip)."""
    try:
        client.update_item(TableName=table, Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}},
                           UpdateExpression="REMOVE #c, #t", ConditionExpression="#c <= :zero",
                           ExpressionAttributeNames={"#c": COUNT + name, "#t": NOTE + name},
                           ExpressionAttributeValues={":zero": {"N": "0"}})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def _transaction(table: str, latest_item: dict[str, Any], stored: dict[str, Any] | None,
                 record: Record) -> tuple[list[dict[str, Any]], list[tuple[tuple[str, str], str]]]:
    """The latest item (over exactly the version read) and every rollup change between the two versions; and the
    counters this version takes one from (to drop once they reach 0)."""
    if stored is None:
        guard: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        guard = {"ConditionExpression": "version = :old", "ExpressionAttributeValues": {":old": stored["version"]}}
    guard["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"  # a cancelled try learns what is there
    actions: list[dict[str, Any]] = [{"Put": {"TableName": table, "Item": latest_item, **guard}}]
    emptied: list[tuple[tuple[str, str], str]] = []
    old = _rollups(_record_of(stored) if stored is not None else None)
    new = _rollups(record)
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        target = {"pk": {"S": key[0]}, "sk": {"S": key[1]}}
        if (after or before).copy:  # type: ignore[union-attr]
            if after is not None:
                actions.append({"Put": {"TableName": table, "Item": {**latest_item, **target, **_expiry(after)}}})
            else:
                actions.append({"Delete": {"TableName": table, "Key": target}})
            continue
        update, taken = _members(before, after)
        if update is not None:
            actions.append({"Update": {"TableName": table, "Key": target, **update}})
        emptied += [(key, name) for name in taken]
    return actions, emptied


def _expiry(rollup: Rollup) -> dict[str, Any]:
    if rollup.expires is None:
        return {}
    return {"expires_at": {"N": str(int(rollup.expires.timestamp()))}}


def _members(before: Rollup | None, after: Rollup | None) -> tuple[dict[str, Any] | None, list[str]]:
    """SET this entity's members (and the item's plain attributes), REMOVE those it no longer has, ADD the
    difference of its counts (SET their notes); None when nothing changes. Also the counts it takes one from."""
    old = before.members if before else {}
    new = after.members if after else {}
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets, removes, adds = [], [], []
    for i, (member, value) in enumerate(sorted(new.items())):
        if member in old and old[member] == value:
            continue
        names[f"#m{i}"] = MEMBER + member
        values[f":m{i}"] = {"S": json.dumps(value, separators=(",", ":"), default=str)}
        sets.append(f"#m{i} = :m{i}")
    for i, member in enumerate(sorted(set(old) - set(new))):
        names[f"#r{i}"] = MEMBER + member
        removes.append(f"#r{i}")
    old_counts = before.counts if before else {}
    new_counts = after.counts if after else {}
    taken = []
    for i, name in enumerate(sorted(old_counts.keys() | new_counts.keys())):
        delta = new_counts.get(name, 0) - old_counts.get(name, 0)
        if delta:
            names[f"#c{i}"] = COUNT + name
            values[f":c{i}"] = {"N": str(delta)}
            adds.append(f"#c{i} :c{i}")
        if delta < 0:
            taken.append(name)
        if delta > 0 and after is not None and name in after.notes:
            names[f"#t{i}"] = NOTE + name
            values[f":t{i}"] = {"S": after.notes[name]}
            sets.append(f"#t{i} = :t{i}")
    if not sets and not removes and not adds:
        return None, []
    if after is not None:
        for i, (attr, value) in enumerate(sorted(after.attrs.items())):
            names[f"#a{i}"] = attr
            values[f":a{i}"] = {"S": value}
            sets.append(f"#a{i} = :a{i}")
        if after.expires is not None:
            names["#x"] = "expires_at"
            values[":x"] = {"N": str(int(after.expires.timestamp()))}
            sets.append("#x = :x")
    expression = " ".join(part for part in (
        f"SET {', '.join(sets)}" if sets else "", f"REMOVE {', '.join(removes)}" if removes else "",
        f"ADD {', '.join(adds)}" if adds else "") if part)
    update: dict[str, Any] = {"UpdateExpression": expression, "ExpressionAttributeNames": names}
    if values:
        update["ExpressionAttributeValues"] = values
    return update, taken


# ---- reads: each one Query of a bounded number of items ----

def _env_filter(environments: Iterable[str], values: dict[str, Any], names: dict[str, str]) -> str:
    envs = sorted(environments)
    names["#env"] = "environment"
    for i, env in enumerate(envs):
        values[f":e{i}"] = {"S": env}
    return "#env IN (" + ", ".join(f":e{i}" for i in range(len(envs))) + ")"


def _of(raw: dict[str, Any]) -> Item:
    return Item(kind=raw["kind"]["S"], id=raw["id"]["S"], version=int(raw["version"]["N"]),
                account=raw["account"]["S"], environment=raw["environment"]["S"], at=raw["at"]["S"],
                summary=json.loads(raw["summary"]["S"]), key=raw["sk"]["S"])


def _parse(raw: dict[str, Any]) -> Item | Shared:
    return _of(raw) if "kind" in raw else _shared(raw)


def _shared(raw: dict[str, Any]) -> Shared:
    members = {k[len(MEMBER):]: json.loads(v["S"]) for k, v in raw.items() if k.startswith(MEMBER)}
    counts = {k[len(COUNT):]: int(v["N"]) for k, v in raw.items() if k.startswith(COUNT) and "N" in v}
    notes = {k[len(NOTE):]: v["S"] for k, v in raw.items() if k.startswith(NOTE) and "S" in v}
    attrs = {k: v["S"] for k, v in raw.items()
             if "S" in v and not k.startswith((MEMBER, COUNT, NOTE)) and k not in ("pk", "sk")}
    return Shared(key=raw["sk"]["S"], environment=attrs.get("environment", ""), attrs=attrs, members=members,
                  counts=counts, notes=notes)


class Part(NamedTuple):
    """One page part: what it read (``items``: Item or Shared), and where the next page starts (None: no more)."""

    items: list[Any]
    after: dict[str, str] | None


def part(pk: str, environments: Iterable[str], *, limit: int, after: dict[str, str] | None = None,
         newest_first: bool = False, key: tuple[str, str] | None = None, where: str | None = None,
         values: dict[str, Any] | None = None, names: dict[str, str] | None = None, index: str | None = None,
         group: Any = None, client: Any = None) -> Part:
    """One Query of at most ``limit`` items of partition ``pk`` (or index ``index`` key ``pk``) in the given
    environments, starting after ``after`` (a key this function returned). ``key``: one more sort key condition
    (operator, value); ``where``: one more filter. ``group(item)``: a page never ends inside a group when it holds
    another (the last, maybe partial, group is left for the next page)."""
    envs = list(environments)
    if not envs:
        return Part([], None)
    client = client or aws.client("dynamodb")
    values = dict(values or {})
    names = dict(names or {})
    hash_attr = {"audit_account": "f_account", "audit_actor": "f_actor", "audit_target": "f_target"}.get(
        index or "", "pk")
    names["#pk"] = hash_attr
    values[":pk"] = {"S": pk}
    condition = "#pk = :pk"
    if key is not None:
        names["#sk"] = "sk"
        values[":sk"] = {"S": key[1]}
        condition += f" AND #sk {key[0]} :sk"
    kwargs: dict[str, Any] = {"TableName": _table(), "KeyConditionExpression": condition, "Limit": limit,
                              "ScanIndexForward": not newest_first,
                              "FilterExpression": _env_filter(envs, values, names) + (f" AND ({where})" if where
                                                                                       else "")}
    if index:
        kwargs["IndexName"] = index
    if after:
        kwargs["ExclusiveStartKey"] = {k: {"S": v} for k, v in after.items()}
    answer = client.query(**kwargs, ExpressionAttributeValues=values, ExpressionAttributeNames=names)
    raws = answer.get("Items", [])
    last = answer.get("LastEvaluatedKey")
    if last is None:
        return Part([_parse(r) for r in raws], None)
    if group is not None and raws:
        groups = [group(r["sk"]["S"]) for r in raws]
        kept = len(groups) - next(i for i, g in enumerate(reversed(groups)) if g != groups[-1]) \
            if len(set(groups)) > 1 else len(groups)
        if kept < len(raws):  # the last group may go on past this page: all of it on the next one
            raws = raws[:kept]
            last = {k: raws[-1][k] for k in last}
    return Part([_parse(r) for r in raws], {k: v["S"] for k, v in last.items()})


def latest(shelf: str, environments: Iterable[str], *, where: str | None = None,
           values: dict[str, Any] | None = None, names: dict[str, str] | None = None, limit: int = 5000,
           client: Any = None) -> list[Item]:
    """The latest item of each entity on a shelf, in the given environments (``where``: one more filter); for
    tests and tools (the pages read their parts)."""
    found: list[Item] = []
    after = None
    while True:
        got = part(f"latest#{shelf}", environments, limit=limit, after=after, where=where, values=values,
                   names=names, client=client)
        found += got.items
        after = got.after
        if after is None or len(found) >= limit:
            return found[:limit]


def history(kind: Kind | str, environments: Iterable[str], *, since: datetime | None = None,
            newest_first: bool = True, limit: int = PAGE, after: dict[str, str] | None = None,
            filters: dict[str, str] | None = None, client: Any = None) -> Part:
    """One page of history items of a kind, newest first, from ``since`` on; ``filters`` (audit): account,
    actor, target (one served by its index, the rest filtered), capability."""
    filters = {k: v for k, v in (filters or {}).items() if v}
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    indexed = next((f for f in ("target", "actor", "account") if f in filters), None)
    pk = filters.pop(indexed) if indexed else f"history#{kind}"
    where = []
    for i, (name, value) in enumerate(sorted(filters.items())):
        attr = {"account": "f_account", "actor": "f_actor", "target": "f_target"}.get(name, name)
        names[f"#f{i}"] = attr
        values[f":f{i}"] = {"S": value}
        where.append(f"#f{i} = :f{i}")
    return part(pk, environments, limit=limit, after=after, newest_first=newest_first,
                key=(">=", stamp(since)) if since is not None else None, where=" AND ".join(where) or None,
                values=values, names=names, index=AUDIT_INDEXES[indexed] if indexed else None, client=client)
