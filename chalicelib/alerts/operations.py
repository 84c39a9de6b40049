"""What people do to alerts (from Slack, via the executors): acknowledge an incident, create and end silences.

Each changes state with the same conditional writes as the event path, audits who did it, and wakes the
incidents concerned so that their messages change in place at once (not at the next interval).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import matchers as m
from chalicelib.alerts import flush, ids, incidents, silences, store
from chalicelib.alerts.incidents import Incident
from chalicelib.state import audit
from chalicelib.state.audit import Outcome


@dataclass(frozen=True)
class Done:
    changed: bool
    message: str  # plain text (the executor escapes it)
    incident: Incident | None = None


def find(incident_id: str, environment: str) -> tuple[Incident | None, str | None]:
    """The incident an id names in this environment, or why not."""
    parsed = ids.parse_incident(incident_id)
    if parsed is None:
        return None, f"'{incident_id}' is not an incident id (like {environment}.3f2a9c1b0e.1)"
    env, group, episode = parsed
    if env != environment:
        return None, f"incident {incident_id} is in {env}, not {environment}"
    inc, _ = store.load(group)
    if inc is None or inc.episode != episode:
        return None, f"there is no incident {incident_id}"
    return inc, None


def acknowledge(incident_id: str, *, user: str, environment: str, now: datetime, correlation_id: str) -> Done:
    inc, why = find(incident_id, environment)
    if inc is None:
        return Done(False, why or "not found")
    episode = inc.episode
    said: list[str] = []

    def ack(fresh: Incident | None, _version: int) -> Incident | None:
        if fresh is None or fresh.episode != episode:
            said[:] = [f"there is no incident {incident_id}"]
            return None
        if fresh.closed_at is not None:
            said[:] = [f"incident {incident_id} is already resolved"]
            return None
        if fresh.acked_by:
            said[:] = ["already acknowledged"]
            return None
        return incidents.acknowledge(fresh, user, now)

    stored, changed = store.change(inc.key, ack, now)
    if not changed:
        return Done(False, said[0] if said else "nothing changed", stored)
    audit.record(action="alerts.ack", target=f"incident/{incident_id}", actor=user, outcome=Outcome.SUCCEEDED,
                 correlation_id=correlation_id, capability="alerts", before={"acked_by": None},
                 after={"acked_by": user}, detail={"alerts": sorted(a.name for a in incidents.current(inc))[:20]})
    flush.flush_one(inc.key, now)  # the card shows who acked, PagerDuty hears of it, escalation stops
    names = ", ".join(sorted({a.name for a in incidents.active(stored, now)})) if stored else ""
    return Done(True, f"acknowledged {incident_id}" + (f" ({names})" if names else ""), stored)


def expand(matchers: Sequence[m.Matcher], environment: str) -> list[m.Matcher]:
    """``incident=<id>`` (the Silence 1h button) stands for that incident's group: its group labels, or, for a
    route grouping everything together, the names of its alarms."""
    out: list[m.Matcher] = []
    for matcher in matchers:
        if matcher.label != "incident":
            out.append(matcher)
            continue
        if matcher.op != "=":
            raise silences.SilenceError("incident takes = only (incident=<id>)")
        inc, why = find(matcher.value, environment)
        if inc is None:
            raise silences.SilenceError(why or "no such incident")
        if inc.group_labels:
            out += [m.Matcher(k, "=", v) for k, v in sorted(inc.group_labels.items())]
        else:
            names = sorted({a.name for a in incidents.current(inc)})
            out.append(m.Matcher("alarm", "=~", "|".join(re.escape(n) for n in names)))
    return list(dict.fromkeys(out))


def wake_matching(matchers: Sequence[m.Matcher], now: datetime) -> list[str]:
    """Wake the open incidents with a firing alert these matchers match; returns their ids."""
    woken = []
    for inc in store.open_incidents():
        if any(m.match_all(matchers, a.labels) for a in incidents.active(inc, now)):
            store.change(inc.key, lambda fresh, _v: incidents.wake(fresh, now) if fresh and fresh.open else None,
                         now)
            woken.append(inc.id)
    return woken


def silence(matchers: Sequence[m.Matcher], *, duration: timedelta, user: str, reason: str, environment: str,
            now: datetime, correlation_id: str) -> tuple[silences.Silence, list[str]]:
    expanded = expand(matchers, environment)
    created = silences.create(expanded, duration=duration, author=user, reason=reason, environment=environment,
                              now=now)
    audit.record(action="alerts.silence", target=f"silence/{created.id}", actor=user, outcome=Outcome.SUCCEEDED,
                 correlation_id=correlation_id, capability="alerts", reason=reason,
                 after={"matchers": [x.as_text() for x in created.matchers], "ends_at": created.ends_at.isoformat()})
    woken = wake_matching(created.matchers, now)
    for key in [ids.parse_incident(i)[1] for i in woken]:  # type: ignore[index]
        flush.flush_one(key, now)
    return created, woken


def unsilence(silence_id: str, *, user: str, now: datetime, correlation_id: str) -> silences.Silence:
    ended = silences.end(silence_id, user=user, now=now)
    audit.record(action="alerts.unsilence", target=f"silence/{silence_id}", actor=user, outcome=Outcome.SUCCEEDED,
                 correlation_id=correlation_id, capability="alerts", before={"ends_at": None},
                 after={"ends_at": now.isoformat()})
    wake_matching(ended.matchers, now)  # notified at the next flush, now that the silence is over
    return ended
