"""What each page shows, as plain data from read-model items: pure functions, table-tested.

``environments_for`` decides what a person may see: the environments where the front door's policy gives them
any role (``viewer`` or more, the same rule as ``/ops``). Every page filters its items by it again, whatever the
query asked for.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from chalicelib.console import svg
from chalicelib.console.rollups import week_of
from chalicelib.console.rollups import when as rollup_when
from chalicelib.console.store import Item, Shared
from chalicelib.policy.schema import Policy, Role
from chalicelib.slackkit import rbac
from chalicelib.timefmt import parse_iso

T = TypeVar("T", Item, Shared, Item | Shared)
EXPIRING = timedelta(days=1)
RECENT = timedelta(days=7)
WEEKS = 12


def environments(policy: Policy) -> list[str]:
    """Every environment the front door knows (its own first, then its peers'), in policy order."""
    found = [policy.account.environment]
    for peer in policy.peers.values():
        if peer.environment not in found:
            found.append(peer.environment)
    return found


def accounts(policy: Policy) -> list[tuple[str, str, str]]:
    """(name, id, environment) of this account and each peer."""
    return [(policy.account.name, policy.account.id, policy.account.environment)] + [
        (name, peer.id, peer.environment) for name, peer in policy.peers.items()]


def environments_for(policy: Policy, user: str, groups: Iterable[str]) -> list[str]:
    groups = list(groups)
    return [env for env in environments(policy)
            if rbac.has(rbac.roles_of(policy, env, user, groups), Role.VIEWER)]


def visible(items: Iterable[T], allowed: Sequence[str]) -> list[T]:
    return [i for i in items if i.environment in allowed]


def when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None


# ---- Estate ----

@dataclass
class Estate:
    environments: list[str]
    accounts: list[tuple[str, str, str]]
    apps: list[dict[str, Any]]  # {app, cells: {env: {revision, message, account}}}
    promotions: list[dict[str, Any]]


def estate(policy: Policy, allowed: Sequence[str], cells: Iterable[Shared], promotions: Iterable[Item]) -> Estate:
    """``cells``: the estate rollup (one item per app and environment, how many accounts run each revision);
    ``promotions``: the flight rollup (active promotions, newest first)."""
    envs = [e for e in environments(policy) if e in allowed]
    by_app: dict[str, dict[str, Any]] = defaultdict(dict)
    for cell in visible(cells, allowed):
        counts = {revision: n for revision, n in cell.counts.items() if n > 0}
        if not counts:
            continue
        top = max(sorted(counts), key=lambda r: counts[r])
        by_app[cell.attrs.get("app", cell.key.rsplit("#", 1)[0])][cell.environment] = {
            "revision": top, "message": cell.notes.get(top), "accounts": sum(counts.values()), "on": counts[top],
            "others": len(counts) - 1}
        if cell.environment not in envs:
            envs.append(cell.environment)
    apps = [{"app": app, "cells": cells} for app, cells in sorted(by_app.items())]
    flight = []
    for item in visible(promotions, allowed):
        s = item.summary
        if not s.get("active"):
            continue
        flight.append({**s, "id": item.id, "account": item.account, "environment": item.environment,
                       "at": item.at, "stages": _stages(s)})
    return Estate(envs, [a for a in accounts(policy) if a[2] in allowed], apps, flight)


def _stages(s: dict[str, Any]) -> list[dict[str, str]]:
    """The pipeline picture: source environment, each gate, target environment."""
    state = s.get("state", "")
    stages = [{"name": s.get("source_env", "?"), "status": "passed", "reason": f"revision {s.get('revision')}"}]
    stages += [{"name": g.get("name", ""), "status": g.get("status", ""), "reason": g.get("reason") or ""}
               for g in s.get("gates", [])]
    target = "passed" if state == "promoted" else ("running" if state in ("deploying", "verifying") else "waiting")
    stages.append({"name": s.get("target_env", "?"), "status": target, "reason": state})
    return stages


# ---- Incidents ----

@dataclass
class Incidents:
    open: list[dict[str, Any]]
    recent: list[dict[str, Any]]
    silences: list[dict[str, Any]]


def incidents(allowed: Sequence[str], board: Iterable[Item], silences: Iterable[Item | Shared],
              now: datetime) -> Incidents:
    """``board``: the board rollup (open incidents, then those resolved within a week, newest first);
    ``silences``: the silences in force, each followed by its ``#mutes`` rollup (open incidents' alerts it mutes)."""
    open_, recent = [], []
    for item in visible(board, allowed):
        row = {**item.summary, "id": item.id, "account": item.account, "environment": item.environment,
               "at": item.at}
        if item.summary.get("open"):
            open_.append(row)
        elif (when(item.at) or now) >= now - RECENT:
            recent.append(row)
    found = visible(silences, allowed)
    muting = {x.key.removesuffix("#mutes"): sum(int(v) for v in x.members.values() if isinstance(v, int))
              for x in found if isinstance(x, Shared)}
    rows = []
    for item in found:
        if isinstance(item, Shared):
            continue
        s = item.summary
        ends = when(s.get("ends_at"))
        if ends is None or ends <= now or s.get("ended_by"):
            continue  # ended or expired: no longer a silence
        rows.append({**s, "id": item.id, "account": item.account, "environment": item.environment,
                     "expiring": ends - now <= EXPIRING, "mutes": muting.get(item.key, 0)})
    rows.sort(key=lambda r: r["ends_at"])
    return Incidents(open_, recent, rows)


# ---- Changes ----

@dataclass
class Changes:
    targets: list[dict[str, Any]]  # {target, environment, account, changes: [...], plot}
    secrets: list[dict[str, Any]]  # {secret, environment, account, next_due, overdue, last result, findings}


def changes(allowed: Sequence[str], scaling: Iterable[Item], secrets: Iterable[Item], now: datetime) -> Changes:
    per_target: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for item in visible(scaling, allowed):
        per_target[(item.account, item.id)].append(item)
    targets = []
    for (account, target), found in sorted(per_target.items()):
        found.sort(key=lambda i: i.at)
        last = found[-1].summary
        points = [(when(found[0].at), found[0].summary.get("before", 0))]
        points += [(when(i.at), i.summary.get("after", 0)) for i in found]
        label = f"{target} capacity over time, guardrails {last.get('floor')} to {last.get('ceiling')}"
        targets.append({"target": target, "account": account, "environment": found[-1].environment,
                        "changes": [{**i.summary, "at": i.at} for i in reversed(found)][:20],
                        "plot": svg.capacity([(t, int(c)) for t, c in points if t is not None],
                                             floor=last.get("floor"), ceiling=last.get("ceiling"), label=label)})
    by_secret: dict[tuple[str, str], dict[str, Any]] = {}
    for item in visible(secrets, allowed):
        s = item.summary
        row = by_secret.setdefault((item.account, s.get("secret", item.id)), {
            "secret": s.get("secret", item.id), "account": item.account, "environment": item.environment,
            "findings": [], "result": None, "next_due": None, "overdue": False, "enabled": None})
        if item.kind == "finding":
            if (when(item.at) or now) >= now - timedelta(days=2):  # the last watch's findings only
                row["findings"].append(s)
        elif item.id.endswith("#result"):
            row["result"] = {**s, "at": item.at}
        else:
            due = when(s.get("next_due"))
            row.update(enabled=s.get("enabled"), every_days=s.get("every_days"), last_rotated=s.get("last_rotated"),
                       next_due=s.get("next_due"), overdue=due is not None and due < now)
    rows = sorted(by_secret.values(), key=lambda r: (r["next_due"] or "9999", r["secret"]))
    return Changes(targets, rows)


# ---- Audit ----

FILTERS = ("account", "capability", "actor", "target")


def audit_filters(query: dict[str, str] | None) -> dict[str, str]:
    """The GET parameters the audit page filters by (others ignored), trimmed."""
    query = query or {}
    return {k: query[k].strip()[:200] for k in FILTERS if query.get(k, "").strip()}


def audit(allowed: Sequence[str], items: Iterable[Item]) -> list[dict[str, Any]]:
    return [{**i.summary, "at": i.at, "account": i.account, "environment": i.environment}
            for i in visible(items, allowed)]


# ---- DORA ----

@dataclass
class Dora:
    weeks: list[str]
    apps: list[dict[str, Any]] = field(default_factory=list)


def dora_start(now: datetime, weeks: int = WEEKS) -> datetime:
    """Monday of the first week the DORA page shows (the current week is the last)."""
    return week_of(now) - timedelta(weeks=weeks - 1)


def dora(allowed: Sequence[str], cells: Iterable[Shared], now: datetime, weeks: int = WEEKS) -> Dora:
    """The four keys per app per week, from the dora rollup (one item per app, environment deployed to and week;
    a member per promotion: ``d#<id>`` = lead time in hours when it was promoted that week, ``f#<id>`` = time to
    restore in hours when it failed that week): deploys (promoted), lead time (commit to promoted, median), change
    failure rate (failed or rolled back / finished), time to restore (failure to restored, median)."""
    start = dora_start(now, weeks)
    labels = [(start + timedelta(weeks=w)).strftime("%d %b") for w in range(weeks)]
    per_app: dict[str, list[dict[str, Any]]] = defaultdict(lambda: [
        {"deploys": 0, "lead": [], "failed": 0, "restore": []} for _ in range(weeks)])
    for item in visible(cells, allowed):
        week = rollup_when(item.attrs.get("week"))
        if week is None or not item.members:
            continue
        index = (week - start).days // 7
        if not 0 <= index < weeks:
            continue
        cell = per_app[item.attrs.get("app", "?")][index]
        for member, value in item.members.items():
            number = value if isinstance(value, int | float) else None
            if member.startswith("d#"):
                cell["deploys"] += 1
                if number is not None:
                    cell["lead"].append(number)
            elif member.startswith("f#"):
                cell["failed"] += 1
                if number is not None:
                    cell["restore"].append(number)
    apps = []
    for app, cells in sorted(per_app.items()):
        deploys = [c["deploys"] for c in cells]
        lead = [round(statistics.median(c["lead"]), 1) if c["lead"] else None for c in cells]
        cfr = [round(100 * c["failed"] / (c["deploys"] + c["failed"])) if c["deploys"] + c["failed"] else None
               for c in cells]
        restore = [round(statistics.median(c["restore"]), 1) if c["restore"] else None for c in cells]
        apps.append({"app": app, "totals": {"deploys": sum(deploys), "failed": sum(c["failed"] for c in cells)},
                     "plots": [
                         ("Deployment frequency", svg.bars(deploys, labels, label=f"{app}: deploys per week")),
                         ("Lead time for changes", svg.bars(lead, labels, label=f"{app}: median lead time, hours",
                                                            unit=" h")),
                         ("Change failure rate", svg.bars(cfr, labels, label=f"{app}: change failure rate",
                                                          unit=" %")),
                         ("Time to restore", svg.bars(restore, labels, label=f"{app}: median time to restore",
                                                      unit=" h"))]})
    return Dora(labels, apps)


def utcnow() -> datetime:
    return datetime.now(UTC)
