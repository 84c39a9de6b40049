"""The scaling tick (a Chalice ``schedule`` every minute): fire schedules whose time has come, end temporary changes.

``run(now)`` takes its clock as an argument, so tests and the local world's fast clock drive it through DST changes.

Schedules: for each schedule, the fire times in ``(checked, now]`` are computed (``cron.fire_times``, in its time
zone); ``checked`` is how far ticks have looked, at most ``catch_up`` back (a fire time missed for longer is skipped:
a schedule is not worth acting on hours late), and 2 minutes back the first time a schedule is seen. Only the
latest fire time in the window acts (an older one is superseded), and it is claimed with a conditional write, so two
ticks running at once (or a tick delivered twice) act once; a clock that went backwards acts on nothing.

Pending changes first: a change committed with its API call still pending (GSI ``effects#pending``: the handler
died between the commit and the call) is carried out, once (the count is compared before acting).

Restores: saved sizes whose ``restore_at`` has come (``store.due``) are restored through ``service.run``, which
checks that nobody changed the target in between. One deferred by a freeze, refused for lack of time (another
change holding the lease) or failed by AWS stays due and is tried again by the next tick; one awaiting approval is
left alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.observability import logger
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Policy
from chalicelib.scaling import cron, service, store
from chalicelib.scaling.plan import Request
from chalicelib.scaling.policy import Schedule
from chalicelib.timefmt import seconds

FIRST_LOOK_BACK = timedelta(minutes=2)


def run(now: datetime | None = None, *, policy: Policy | None = None, client: Any = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("ticks run at a timezone-aware instant")
    current = policy or policies.current()
    section = current.scaling
    report: dict[str, Any] = {"at": now.isoformat(), "fired": [], "restored": []}
    if not section.enabled:
        report["skipped"] = "scaling is disabled in this account's policy"
        return report
    local = section.local(current)
    try:  # first the changes committed but not carried out (a crash between the commit and the API call)
        for result in service.run_pending(policy=current, client=client):
            report.setdefault("resumed", []).append({"outcome": result.outcome, "reason": result.reason})
    except Exception as exc:  # noqa: BLE001 - still pending: the next tick tries again
        logger.exception("scaling pending changes not finished")
        report.setdefault("errors", []).append(f"pending changes: {type(exc).__name__}: {exc}")
    catch_up = timedelta(seconds=seconds(section.catch_up))
    for name, schedule in sorted(section.schedules.items()):
        if schedule.target not in local:
            continue
        try:
            fire = _claim(name, schedule, now, catch_up)
            if fire is None:
                continue
            result = service.run(_request(name, schedule, fire, current), now=now, policy=current, client=client,
                                 correlation_id=f"schedule:{name}:{store.stamp(fire)}")
        except Exception as exc:  # noqa: BLE001 - one schedule's trouble must not stop the others
            logger.exception("scaling schedule failed", extra={"schedule": name})
            report.setdefault("errors", []).append(f"schedule {name}: {type(exc).__name__}: {exc}")
            continue
        report["fired"].append({"schedule": name, "target": schedule.target, "at": fire.isoformat(),
                                "outcome": result.outcome, "reason": result.reason})
    for item in store.due(now):
        if item.state == "asked" or item.target not in local:
            continue
        request = Request(item.target, "restore", origin="expiry", request_id=f"restore:{item.request_id}",
                          slot=item.owner)
        try:
            result = service.run(request, now=now, policy=current, client=client, correlation_id=request.request_id)
        except Exception as exc:  # noqa: BLE001 - still due: the next tick tries again
            logger.exception("scaling restore failed", extra={"target": item.target, "owner": item.owner})
            report.setdefault("errors", []).append(f"restore {item.target}/{item.owner}: {type(exc).__name__}: {exc}")
            continue
        report["restored"].append({"target": item.target, "owner": item.owner, "outcome": result.outcome,
                                   "reason": result.reason})
    if report["fired"] or report["restored"] or report.get("errors"):
        logger.info("scaling tick", extra={"report": report})
    return report


def _claim(name: str, schedule: Schedule, now: datetime, catch_up: timedelta) -> datetime | None:
    """The fire time this tick acts on for one schedule (claimed: no other tick acts on it), or None."""
    key = f"schedule#{name}"
    mark = store.get_mark(schedule.target, key)
    start = store.parse_stamp(mark.checked) if mark is not None and mark.checked else now - FIRST_LOOK_BACK
    start = max(start, now - catch_up)
    if start >= now:
        return None
    fires = cron.fire_times(cron.parse(schedule.cron), ZoneInfo(schedule.timezone), start, now)
    if not fires:
        store.checked(schedule.target, key, store.stamp(now))
        return None
    latest = fires[-1]
    if len(fires) > 1:
        logger.info("schedule fire times superseded", extra={"schedule": name, "skipped": len(fires) - 1})
    if not store.claim_fire(schedule.target, key, store.stamp(latest), store.stamp(now)):
        store.checked(schedule.target, key, store.stamp(now))
        return None
    return latest


def _request(name: str, schedule: Schedule, fire: datetime, current: Policy) -> Request:
    request_id = f"schedule:{name}:{store.stamp(fire)}"
    if schedule.set is not None:
        return Request(schedule.target, "set", schedule.set, origin=f"schedule:{name}", request_id=request_id,
                       duration=seconds(schedule.duration) if schedule.duration else None,
                       slot=f"schedule:{name}")
    return Request(schedule.target, "restore", origin=f"schedule:{name}", request_id=request_id,
                   slot=f"schedule:{schedule.restore}")
