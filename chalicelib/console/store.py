"""The read model: the front door's ``switchboard-console`` table (infra/account.yaml, front door only).

```
latest   PK "latest#<shelf>"   SK "<environment>#<account>#<kind>#<id>"   the highest version of each entity
history  PK "history#<kind>"   SK "<at µs>#<account>#<id>#<version>"       every version, newest last (TTL)
GSIs (audit history only, sparse): audit_account (f_account, sk), audit_actor (f_actor, sk),
                                   audit_target (f_target, sk)
```

Each page part is one Query: the Estate reads ``latest#current`` and ``latest#promotion``; Incidents
``latest#incident`` and ``latest#silence``; Changes ``history#scaling`` (a time range) and ``latest#secret``; Audit
``history#audit`` newest first, or one of its GSIs when filtered by account, actor or target; DORA
``latest#promotion``. A FilterExpression keeps other environments' items (and, for the audit, the other filters)
out of the answer; the views filter again.

Versions: a latest item is put only if absent or older (``version < :v``): a late or repeated record changes
nothing. History items are keyed by version, so a repeated record rewrites the same item.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.console.records import HISTORY_ONLY, SHELF, Kind, Record
from chalicelib.settings import get_settings
from chalicelib.timefmt import stamp

HISTORY_DAYS = 35  # bounded history: enough for the Changes page's fortnight and a month of audit
LATEST_DAYS = 120  # entities not heard of for four months leave (DORA looks back twelve weeks)
PAGE = 200  # items per page part
AUDIT_INDEXES = {"account": "audit_account", "actor": "audit_actor", "target": "audit_target"}


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
    key: str  # the sort key (for "older" links)


def _table() -> str:
    return get_settings().console_table


def latest_key(record: Record) -> tuple[str, str]:
    return f"latest#{SHELF[record.kind]}", f"{record.environment}#{record.account}#{record.kind}#{record.id}"


def history_key(record: Record) -> tuple[str, str]:
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
    if expires is not None:
        item["expires_at"] = {"N": str(int(expires.timestamp()))}
    return item


def apply(record: Record, client: Any = None) -> bool:
    """Keep ``record``: its history item, and the latest item unless a newer version is there. True when the
    latest item changed (or the kind keeps history only)."""
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
    try:
        client.put_item(TableName=table, Item=_item(record, pk, sk, expires),
                        ConditionExpression="attribute_not_exists(pk) OR version < :v",
                        ExpressionAttributeValues={":v": {"N": str(record.version)}})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False  # a newer (or the same) version is there already
        raise
    return True


# ---- reads: each one Query (DynamoDB pages it at 1 MB; ``limit`` bounds what one page of the console shows) ----

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


def _query(client: Any, *, limit: int, **kwargs: Any) -> tuple[list[Item], str | None]:
    """One Query, continued only while a filter leaves the page short (bounded by ``limit`` items read in all)."""
    found: list[Item] = []
    read = 0
    while True:
        answer = client.query(TableName=_table(), **kwargs)
        found += [_of(raw) for raw in answer.get("Items", [])]
        read += answer.get("ScannedCount", 0)
        last = answer.get("LastEvaluatedKey")
        if last is None or len(found) >= limit or read >= limit * 20:
            after = last["sk"]["S"] if last is not None and len(found) >= limit else None
            return found[:limit], after
        kwargs["ExclusiveStartKey"] = last


def latest(shelf: str, environments: Iterable[str], *, where: str | None = None,
           values: dict[str, Any] | None = None, names: dict[str, str] | None = None, limit: int = 5000,
           client: Any = None) -> list[Item]:
    """The latest item of each entity on a shelf, in the given environments (``where``: one more filter)."""
    envs = list(environments)
    if not envs:
        return []
    client = client or aws.client("dynamodb")
    values = {":pk": {"S": f"latest#{shelf}"}, **(values or {})}
    names = dict(names or {})
    condition = _env_filter(envs, values, names) + (f" AND ({where})" if where else "")
    items, _ = _query(client, limit=limit, KeyConditionExpression="pk = :pk", FilterExpression=condition,
                      ExpressionAttributeValues=values, ExpressionAttributeNames=names)
    return items


def history(kind: Kind | str, environments: Iterable[str], *, since: datetime | None = None,
            newest_first: bool = True, limit: int = PAGE, before: str | None = None,
            filters: dict[str, str] | None = None, client: Any = None) -> tuple[list[Item], str | None]:
    """History items of a kind, newest first, from ``since`` on or ``before`` a sort key (paging);
    ``filters`` (audit): account, actor, target (one served by its index, the rest filtered), capability."""
    envs = list(environments)
    if not envs:
        return [], None
    client = client or aws.client("dynamodb")
    filters = {k: v for k, v in (filters or {}).items() if v}
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    extra: dict[str, Any] = {}
    indexed = next((f for f in ("target", "actor", "account") if f in filters), None)
    if indexed:
        extra["IndexName"] = AUDIT_INDEXES[indexed]
        key = f"f_{indexed} = :pk"
        values[":pk"] = {"S": filters.pop(indexed)}
    else:
        key = "pk = :pk"
        values[":pk"] = {"S": f"history#{kind}"}
    if before:
        key += " AND sk < :before"
        values[":before"] = {"S": before}
    elif since is not None:
        key += " AND sk >= :since"
        values[":since"] = {"S": stamp(since)}
    condition = _env_filter(envs, values, names)
    for i, (field, value) in enumerate(sorted(filters.items())):
        attr = {"account": "f_account", "actor": "f_actor", "target": "f_target"}.get(field, field)
        names[f"#f{i}"] = attr
        values[f":f{i}"] = {"S": value}
        condition += f" AND #f{i} = :f{i}"
    return _query(client, limit=limit, KeyConditionExpression=key, FilterExpression=condition,
                  ExpressionAttributeValues=values, ExpressionAttributeNames=names,
                  ScanIndexForward=not newest_first, Limit=min(limit * 2, 1000), **extra)
