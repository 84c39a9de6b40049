"""What the gates look at, read from this account: alarms, the health check, open incidents, freezes, holds.

Thin adapters: each returns plain data for ``gates.py``. Nothing here reads another account.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime
from fnmatch import fnmatchcase

from chalicelib import aws, freezes
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
    """GET ``url``; a 200 passes. Redirects are followed; any other answer or none is reported as it is."""
    # a URL from the policy (validated to be http or https there), never from an event
    request = urllib.request.Request(url, headers={"User-Agent": "switchboard-promotion"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
            return Health(url, answer.status)
    except urllib.error.HTTPError as exc:
        return Health(url, exc.code)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Health(url, None, f"{type(exc).__name__}: {reason}"[:300])


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
