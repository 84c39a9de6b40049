"""What the gates look at, read from this account: alarms, the health check, open incidents, freezes, holds.

Thin adapters: each returns plain data for ``gates.py``. Nothing here reads another account.
"""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase

from chalicelib import aws, freezes, outbound
from chalicelib.policy.schema import Policy
from chalicelib.promotion import store
from chalicelib.promotion.gates import ActiveFreeze, Health, Hold
from chalicelib.state.keys import parse_stamp


def _literal_prefix(glob: str) -> str:
    cut = len(glob)
    for special in "*?[":
        if special in glob:
            cut = min(cut, glob.index(special))
    return glob[:cut]


def alarms_in_alarm(globs: tuple[str, ...]) -> tuple[str, ...]:
    """Names of this account's metric and composite alarms matching any glob that are in ALARM now."""
    if not globs:
        return ()
    cloudwatch = aws.client("cloudwatch")
    found: set[str] = set()
    for prefix in sorted({_literal_prefix(g) for g in globs}):
        kwargs = {"StateValue": "ALARM", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
        if prefix:
            kwargs["AlarmNamePrefix"] = prefix
        for page in cloudwatch.get_paginator("describe_alarms").paginate(**kwargs):
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                # the state is checked again: the filter is not applied by every implementation (moto with a prefix)
                if alarm.get("StateValue") == "ALARM" and any(fnmatchcase(alarm["AlarmName"], g) for g in globs):
                    found.add(alarm["AlarmName"])
    return tuple(sorted(found))


def watched(globs: tuple[str, ...], alarm_name: str) -> bool:
    return any(fnmatchcase(alarm_name, g) for g in globs)


def health(url: str, timeout_s: float) -> Health:
    """GET ``url``; a 200 passes. Through the outbound adapter: https to a public address only, redirects are not
    followed (a 3xx is the answer, and fails), the body is not read. A refused URL or no answer is reported as it is."""
    # a URL from the policy (validated there by the same rules), never from an event
    try:
        answer = outbound.request("GET", url, headers={"User-Agent": "switchboard-promotion"},
                                  connect_timeout=timeout_s, read_timeout=timeout_s, read_body=False)
    except outbound.Refused as exc:
        return Health(url, None, f"refused: the URL {exc}"[:300])
    except outbound.Unreachable as exc:
        return Health(url, None, str(exc)[:300])
    return Health(url, answer.status)


def open_incidents(app: str) -> tuple[str, ...]:
    """Ids of open alert incidents with a firing alert of ``app`` (from alert routing, in this account)."""
    from chalicelib.alerts import store as alert_store

    found = [incident.id for incident in alert_store.open_incidents()
             if any(a.state != "OK" and a.labels.get("app") == app for a in incident.alerts.values())]
    return tuple(sorted(found))


def active_freezes(policy: Policy, environment: str, at: datetime) -> tuple[ActiveFreeze, ...]:
    return tuple(ActiveFreeze(f.name, f.reason, freezes.ends(f, at)) for f in freezes.active(policy, environment, at))


def hold(app: str) -> Hold | None:
    found = store.hold_of(app)
    if found is None:
        return None
    return Hold(found["by"], found["reason"], parse_stamp(found["at"]))
