"""What one entity's latest version puts into the pages' own items: pure functions, table-tested.

The pages never read a whole shelf. Each page reads one or two partitions made for it, kept up to date in the
same transaction as the entity's latest item (``store.apply``): the store derives the items of the version it
replaces and of the new one, removes what the old one put there and adds what the new one puts. Because the
latest item is written only over an older version, a late or repeated record derives nothing: the rollups are as
monotonic as the versions.

```
kind       partition   sort key                                        what                        (shape)
current    estate      <app>#<environment>                             c#<revision> = how many     (counts)
                                                                       accounts run it, t#<revision> = its message
promotion  flight      <at>#<environment>#<account>#<id>               while active                (copy)
promotion  dora        <app>#<environment>#<week>                      target side: m#d#<id> = lead (members)
                                                                       hours, m#f#<id> = restore hours
incident   board       <1 open | 0 resolved>#<at>#<env>#<account>#<id>  resolved: kept 7 days     (copy)
incident   silences    <environment>#<account>#<silence>#mutes         m#<incident> = alerts muted (members)
silence    silences    <environment>#<account>#<silence>               while in force              (copy)
```

A ``copy`` is the latest item under another key (put, and deleted when the entity leaves it or its key moves);
``members`` are top-level attributes ``m#<member>`` of one item many entities share (SET and REMOVE of one's own
members only: no read-modify-write of the shared item); ``counts`` are counters ``c#<name>`` of a shared item (ADD
of the difference between the old version's and the new one's), with a note ``t#<name>`` each (SET), so the item
stays as small as the number of distinct names, whatever the number of entities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.timefmt import parse_iso, stamp

MEMBER = "m#"
COUNT = "c#"
NOTE = "t#"
RECENT = timedelta(days=7)  # resolved incidents stay on the board this long
DORA_KEEP = timedelta(weeks=14)  # the DORA page shows 12 weeks
FLIGHT_KEEP = timedelta(days=120)  # as a latest item


@dataclass(frozen=True)
class Rollup:
    """One item a version contributes to: a copy of the latest item, or members of a shared item."""

    pk: str
    sk: str
    copy: bool = False
    members: dict[str, Any] = field(default_factory=dict)  # without the "m#" prefix
    counts: dict[str, int] = field(default_factory=dict)  # without the "c#" prefix
    notes: dict[str, str] = field(default_factory=dict)  # a count's note, without the "t#" prefix
    attrs: dict[str, str] = field(default_factory=dict)  # plain attributes (filters: environment, app, week)
    expires: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.pk, self.sk


def when(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return text
    if not text:
        return None
    try:
        found = parse_iso(str(text))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def week_of(at: datetime) -> datetime:
    """Monday 00:00 UTC of ``at``'s week (DORA's buckets: absolute, so an aggregate never moves)."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _hours(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds() / 3600, 2)


def rollups(kind: str, id_: str, account: str, environment: str, at: datetime,
            summary: dict[str, Any]) -> list[Rollup]:
    """Every item this version of the entity contributes to (kind as ``records.Kind``'s values)."""
    if kind == "current":
        app = str(summary.get("app") or id_)
        revision = str(summary.get("revision") or "?")
        return [Rollup("estate", f"{app}#{environment}", counts={revision: 1},
                       notes={revision: str(summary.get("message") or "")[:200]},
                       attrs={"environment": environment, "app": app})]
    if kind == "promotion":
        return _promotion(id_, account, environment, at, summary)
    if kind == "incident":
        return _incident(id_, account, environment, at, summary)
    if kind == "silence":
        ends = when(summary.get("ends_at"))
        if summary.get("ended_by") or ends is None:
            return []  # ended: no longer a silence (an expired one is dropped by its TTL and by the page)
        return [Rollup("silences", f"{environment}#{account}#{id_}", copy=True, expires=ends)]
    return []


def _promotion(id_: str, account: str, environment: str, at: datetime, s: dict[str, Any]) -> list[Rollup]:
    found = []
    if s.get("active"):
        found.append(Rollup("flight", f"{stamp(at)}#{environment}#{account}#{id_}", copy=True,
                            expires=at + FLIGHT_KEEP))
    if s.get("side") != "target" or not s.get("app"):
        return found
    app = str(s["app"])
    promoted, failed = when(s.get("promoted_at")), when(s.get("failed_at"))
    weeks: dict[datetime, dict[str, Any]] = {}
    if promoted:
        weeks.setdefault(week_of(promoted), {})[f"d#{id_}"] = _hours(promoted, when(s.get("committed_at")))
    if failed:
        weeks.setdefault(week_of(failed), {})[f"f#{id_}"] = _hours(when(s.get("restored_at")), failed)
    for week, members in weeks.items():
        found.append(Rollup("dora", f"{app}#{environment}#{stamp(week)[:10]}", members=members,
                            attrs={"environment": environment, "app": app, "week": stamp(week)[:10]},
                            expires=week + DORA_KEEP))
    return found


def _incident(id_: str, account: str, environment: str, at: datetime, s: dict[str, Any]) -> list[Rollup]:
    is_open = bool(s.get("open"))
    found = [Rollup("board", f"{1 if is_open else 0}#{stamp(at)}#{environment}#{account}#{id_}", copy=True,
                    expires=None if is_open else at + RECENT)]
    if is_open:
        muted: dict[str, int] = {}
        for alert in s.get("alerts", []):
            why = str(alert.get("muted") or "")
            if why.startswith("silenced by ") and len(why.split()) > 2:
                muted[why.split()[2]] = muted.get(why.split()[2], 0) + 1
        found += [Rollup("silences", f"{environment}#{account}#{silence}#mutes", members={id_: count},
                         attrs={"environment": environment}) for silence, count in sorted(muted.items())]
    return found
