"""The alerts capability's event handler: a CloudWatch alarm event -> alerts -> routes -> incidents.

Registered for ``Capability.ALERTS`` (``capabilities.LANDED`` imports this module on the first alarm event).
The common path costs one conditional write of the group's incident (a warm function starts from its last copy
of it; a read only when another writer got there first), plus one audit entry. Nobody is notified from here:
the every-minute flush (``flush.run``) sends what is due, so an alarm storm costs each group at most one
notification per interval.

Which groups an event touches: it fires in the routes its labels (with ``state`` = its new state) match, and
resolves in the routes its labels with ``state`` = its previous state matched (a group in both sees one update).
An event from an account the policy does not know goes to the root's default receiver only, with a warning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import capabilities, timefmt
from chalicelib.alerts import clock, incidents, model, routing, store
from chalicelib.alerts.incidents import Change, Group, Timing
from chalicelib.alerts.policy import AlertsSection, section
from chalicelib.capabilities import Capability, Context, Result
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.state import audit
from chalicelib.state.audit import Outcome


@capabilities.register(Capability.ALERTS)
def on_alarm(event: Any, ctx: Context) -> Result:
    alerts_section = section(ctx.policy)
    target = event.target

    def done(outcome: Outcome, reason: str, actions: list[str] | None = None, **detail: Any) -> Result:
        audit.record(action="alerts.alarm", target=target, outcome=outcome, correlation_id=ctx.event_id,
                     capability="alerts", reason=reason, detail=detail or None)
        return Result(outcome, reason, actions or [])

    try:
        found = model.from_event(event, ctx.policy, alerts_section)
    except model.Unusable as exc:
        return done(Outcome.REJECTED, str(exc))
    if not found:
        return done(Outcome.SUCCEEDED, f"ignored: {event.detail_type}")
    root = routing.tree(alerts_section)
    if root is None:
        return done(Outcome.RECEIVED, "the policy has no alerts.route: recorded, nobody notified")
    now = clock.now()
    actions: list[str] = []
    for alert in found:
        for warning in alert.warnings:
            logger.warning(warning, extra={"alarm": alert.name})
        touched = ingest(alert, root, alerts_section, environment=ctx.policy.account.environment, now=now)
        actions += [f"{alert.state}: {inc_id} {note} ({receiver})" for inc_id, note, receiver in touched]
        metrics.add_metric(name="AlertsIngested", unit=MetricUnit.Count, value=1)
    alert = found[0]
    reason = "; ".join(actions) or f"{alert.state}: nothing to route"
    if alert.warnings:
        reason = "; ".join(alert.warnings) + " | " + reason
    return done(Outcome.SUCCEEDED, reason[:1000], actions, state=alert.state, previous=alert.previous_state,
                contributor=(alert.contributor or {}).get("id"), labels=alert.labels)


def _effective(state: str | None, alerts_section: AlertsSection) -> str | None:
    if state == "INSUFFICIENT_DATA" and alerts_section.insufficient_data == "ignore":
        return "OK"
    return state


def timing(node: routing.Node, alerts_section: AlertsSection) -> Timing:
    opts = node.options
    esc = opts.escalation
    return Timing(group_wait=opts.group_wait.total_seconds(), group_interval=opts.group_interval.total_seconds(),
                  repeat_interval=opts.repeat_interval.total_seconds(),
                  escalation_after=esc.after.total_seconds() if esc else None,
                  escalation_receivers=list(esc.receivers) if esc else [],
                  escalation_repeat=esc.repeat if esc else 1,
                  mute_time_intervals=list(opts.mute_time_intervals),
                  flap_transitions=alerts_section.flapping.transitions,
                  flap_window=timefmt.duration(alerts_section.flapping.window).total_seconds())


def placements(alert: model.Alert, root: routing.Node, alerts_section: AlertsSection,
               environment: str) -> list[tuple[Group, str, dict[str, str]]]:
    """Pure: every (group, the alert's state in that group, its labels there) this alert's change touches."""
    new = _effective(alert.state, alerts_section)
    previous = _effective(alert.previous_state, alerts_section)
    if previous is None and new == "OK":
        previous = "ALARM"  # a contributor's OK (no previousState) resolves where its ALARM fired

    def nodes(state: str) -> list[routing.Node]:
        labels = alert.routing_labels(state)
        return [root] if not alert.known_account else routing.route(root, labels)

    out: dict[str, tuple[Group, str, dict[str, str]]] = {}
    if new in model.FIRING:
        labels = alert.routing_labels(new)
        for node in nodes(new):
            out.setdefault(routing.group_key(node, labels), (_group(node, labels, alerts_section, environment),
                                                            new, labels))
    if previous in model.FIRING and previous != new:
        labels = alert.routing_labels(previous)
        for node in nodes(previous):
            key = routing.group_key(node, labels)
            if key not in out:
                out[key] = (_group(node, labels, alerts_section, environment), "OK", labels)
    return list(out.values())


def _group(node: routing.Node, labels: dict[str, str], alerts_section: AlertsSection, environment: str) -> Group:
    key = routing.group_key(node, labels)
    return Group(key=routing.group_hash(key), environment=environment, group_key=key, route=node.path,
                 receiver=node.options.receiver, group_labels=routing.group_labels(node, labels),
                 timing=timing(node, alerts_section))


def ingest(alert: model.Alert, root: routing.Node, alerts_section: AlertsSection, *, environment: str,
           now: datetime) -> list[tuple[str, str, str]]:
    """Apply one alert to every group it touches; returns (incident id, what happened, receiver) for each."""
    touched = []
    values = {k: alert.reason_data[k] for k in ("recentDatapoints", "threshold") if k in alert.reason_data}
    for group, state, labels in placements(alert, root, alerts_section, environment):
        change = Change(fp=alert.fingerprint, name=alert.name, labels=labels, state=state, at=alert.at,
                        reason=alert.reason, description=alert.description, values=values,
                        mute=dict(alert.mute) if alert.mute else None, event_id=alert.event_id, arn=alert.arn)
        notes: list[str] = []

        def apply(inc: incidents.Incident | None, version: int, change: Change = change, group: Group = group,
                  notes: list[str] = notes) -> incidents.Incident | None:
            new, note = incidents.observe(inc, change, now, group)
            notes[:] = [note]
            return new

        inc, _ = store.change(group.key, apply, now, cached=True)
        shown = inc.id if inc is not None else f"{environment}.{group.key}"
        touched.append((shown, notes[0] if notes else "unchanged", group.receiver))
    return touched
