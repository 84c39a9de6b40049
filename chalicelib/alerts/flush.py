"""The every-minute flush: send what is due (first notifications after group_wait, updates after group_interval,
repeats, escalations, resolutions), served by a Chalice ``schedule`` and called directly after an ack.

For each due incident: read it, work out the mutes (silences, inhibitions, CloudWatch mute rules, mute time
intervals) and the plan (pure); if there is something to send, take a short lease with a conditional write (so
that two flushes never send the same thing), send, then write down what was sent onto the freshest copy (alarm
events may have changed the incident meanwhile: their changes are kept, and shown at the next interval).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.alerts import clock, incidents, mutes, silences, store
from chalicelib.alerts.incidents import Incident, Notice, Plan
from chalicelib.alerts.policy import AlertsSection, section
from chalicelib.alerts.receivers import dispatch
from chalicelib.alerts.receivers.notification import Delivery, Notification
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.policy import loader as policies
from chalicelib.state import audit
from chalicelib.state.audit import Outcome


class _Context:
    """What every incident of one flush shares, read at most once: the silences and the firing alerts."""

    def __init__(self, now: datetime, alerts_section: AlertsSection):
        self.now = now
        self.section = alerts_section
        self._silences: list[mutes.SilenceView] | None = None
        self._sources: list[tuple[str, dict[str, str]]] | None = None

    def silences(self) -> list[mutes.SilenceView]:
        if self._silences is None:
            self._silences = [s.view() for s in silences.active(self.now)]
        return self._silences

    def sources(self) -> list[tuple[str, dict[str, str]]]:
        if not self.section.inhibit_rules:
            return []
        if self._sources is None:
            self._sources = mutes.firing_sources(store.open_incidents(), self.now)
        return self._sources


def run(now: datetime | None = None) -> dict[str, int]:
    """Flush every due incident. Returns counts by outcome (for the schedule's log and tests)."""
    now = now or clock.now()
    current = policies.current()
    ctx = _Context(now, section(current))
    counts: dict[str, int] = {}
    for key in store.due(now):
        try:
            outcome = flush_one(key, now, ctx)
        except Exception:  # noqa: BLE001 - one incident must not stop the others; it stays due
            logger.exception("flushing an incident failed", extra={"incident": key})
            outcome = "error"
        counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        logger.info("alerts flushed", extra={"counts": counts})
    return counts


def flush_one(key: str, now: datetime, ctx: _Context | None = None) -> str:
    current = policies.current()
    ctx = ctx or _Context(now, section(current))
    inc, version, deadline = store.load_with_deadline(key)
    if inc is None:
        return "gone"
    sources = ctx.sources()
    if sources:
        sources = sources + mutes.firing_sources([inc], now)
    muted, until = mutes.mutes_for(inc, now, silences=ctx.silences(), rules=ctx.section.inhibit_rules,
                                   sources=sources)
    quiet = mutes.time_muted(ctx.section, inc.timing.mute_time_intervals, now)
    plan = incidents.plan(inc, now, muted=muted, mute_until=until, time_muted=quiet)
    if not plan.notices:
        if plan.close:
            store.change(key, lambda fresh, _v: _close(fresh, plan), now)
            return "closed"
        if store.deadline_key(inc, now) != deadline:
            try:
                store.save(inc, version, now)  # only the index entry moves
            except store.Conflict:
                pass  # someone else wrote it, and indexed it from the newer state
        return "waiting"
    try:
        store.save(incidents.lease(inc, now), version, now)
    except store.Conflict:
        return "busy"  # changed meanwhile: the next flush looks again
    delivered = notify(inc, plan, current, ctx.section)
    store.change(key, lambda fresh, _v: incidents.record(fresh, plan, delivered) if fresh else None, now)
    ok = all(delivered.values())
    metrics.add_metric(name="AlertNotifications" if ok else "AlertNotificationFailures", unit=MetricUnit.Count,
                       value=len(delivered))
    return "notified" if ok else "failed"


def _close(fresh: Incident | None, plan: Plan) -> Incident | None:
    if fresh is None or fresh.closed_at is not None:
        return None
    return incidents.record(fresh, plan, {})


def notify(inc: Incident, plan: Plan, current: Any, alerts_section: AlertsSection) -> dict[Notice, bool]:
    """Send each notice of the plan to its receiver; audit each; True for each that every integration took."""
    shown = inc.model_copy(update={"seq": plan.seq})
    delivered: dict[Notice, bool] = {}
    for notice in plan.notices:
        receiver = alerts_section.receivers.get(notice.receiver)
        note = Notification(action=notice.action, receiver=notice.receiver, incident=shown, now=plan.now,
                                      seq=plan.seq, account=current.account.name, muted=dict(plan.muted),
                                      step=notice.step)
        if receiver is None:
            results = [Delivery(notice.receiver, "-", False, "receiver is no longer in policy")]
        else:
            results = dispatch.deliver(notice.receiver, receiver, note)
        ok = bool(results) and all(r.ok for r in results)
        delivered[notice] = ok
        audit.record(action="alerts.notify", target=f"incident/{inc.id}",
                     outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED, correlation_id=note.correlation_id,
                     capability="alerts", reason=f"{notice.action} -> {notice.receiver}: " + "; ".join(
                         f"{r.integration} {r.detail}" for r in results)[:900],
                     detail={"receiver": notice.receiver, "action": notice.action, "step": notice.step,
                             "alerts": sorted(a.name for a in incidents.current(inc))[:20]})
    return delivered
