"""Where scaling's events come in (its manifest names this module; ``/ops scale`` is in ``commands.py``):

- ``on_event``: alarm state changes (alarm rules), Auto Scaling events (failed launches of a target, reported),
  and EventBridge Scheduler events named ``switchboard-scaling-*`` (a tick);
- ``decided``: an approval asked for by ``service`` came back: approved -> planned again against fresh state and
  carried out; rejected -> recorded and said.

Alarm events are acted on in order: each rule remembers the newest state change it acted on (``alarm#<rule>``), so
an ALARM delivered after a newer OK changes nothing; each state change is one request (``alarm:<rule>:<time>``),
so a duplicate delivery changes nothing either.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

from chalicelib import capabilities, pending
from chalicelib.capabilities import Capability, Context
from chalicelib.capabilities import Result as Handled
from chalicelib.intake.events import AlarmEvent, AutoScalingEvent, ScheduleEvent
from chalicelib.observability import logger
from chalicelib.scaling import messages, service, store, ticks
from chalicelib.scaling.plan import Request
from chalicelib.slackkit import mrkdwn
from chalicelib.state import audit
from chalicelib.state.audit import Outcome
from chalicelib.timefmt import seconds

_RANK = {service.DUPLICATE: 0, "received": 0, "planned": 1, "succeeded": 2, "refused": 3, "failed": 4}


@capabilities.register(Capability.SCALING)
def on_event(event: Any, ctx: Context) -> Handled:
    if isinstance(event, AlarmEvent):
        return on_alarm(event, ctx)
    if isinstance(event, AutoScalingEvent):
        return on_autoscaling(event, ctx)
    if isinstance(event, ScheduleEvent):
        report = ticks.run(policy=ctx.policy)
        return Handled(Outcome.SUCCEEDED, None, [f"{r['schedule']}: {r['outcome']}" for r in report["fired"]]
                       + [f"restore {r['target']}: {r['outcome']}" for r in report["restored"]])
    return Handled(Outcome.RECEIVED, f"scaling does nothing with {type(event).__name__}")


# ---- alarms ----

def on_alarm(event: AlarmEvent, ctx: Context) -> Handled:
    section = ctx.policy.scaling
    name = event.detail.alarmName
    if not section.enabled:
        return Handled(Outcome.RECEIVED, "scaling is disabled in this account's policy")
    if event.detail_type != "CloudWatch Alarm State Change":
        return Handled(Outcome.RECEIVED, "contributor state changes do not scale anything")
    local = section.local(ctx.policy)
    rules = [(rule_name, rule) for rule_name, rule in sorted(section.alarms.items())
             if fnmatchcase(name, rule.alarm) and rule.target in local]
    if not rules:
        return Handled(Outcome.RECEIVED, f"no scaling rule matches alarm {name}")

    value = event.detail.state.value
    when = store.stamp(event.detail.state.timestamp or event.time)
    actions: list[str] = []
    outcomes: list[str] = []
    for rule_name, rule in rules:
        request_id = f"alarm:{rule_name}:{when}"
        if not store.advance(rule.target, f"alarm#{rule_name}", when, state=value):
            actions.append(f"{rule_name}: {value} at {when} is older than a state change already acted on: ignored")
            continue
        reverts = rule.revert_on_ok or rule.revert_after is not None
        slot = f"alarm:{rule_name}"
        if value == "ALARM":
            if reverts and store.get_saved(rule.target, slot) is not None:
                actions.append(f"{rule_name}: {rule.target} is already raised for this alarm")
                continue
            request = Request(rule.target, "add", rule.add, origin=f"alarm:{rule_name}", request_id=request_id,
                              duration=seconds(rule.revert_after) if rule.revert_after else None,
                              revert_on_ok=rule.revert_on_ok, bounded=True, slot=slot if reverts else None)
        elif value == "OK" and rule.revert_on_ok:
            if store.get_saved(rule.target, slot) is None:
                actions.append(f"{rule_name}: nothing to revert on {rule.target}")
                continue
            request = Request(rule.target, "restore", origin=f"alarm:{rule_name}", request_id=request_id, slot=slot)
        else:
            actions.append(f"{rule_name}: nothing to do on {value}")
            continue
        result = service.run(request, correlation_id=ctx.event_id, policy=ctx.policy)
        outcomes.append(result.outcome)
        actions.append(f"{rule_name}: {result.outcome}" + (f" ({result.reason})" if result.reason else ""))
    worst = max(outcomes, key=lambda o: _RANK.get(o, 0)) if outcomes else str(Outcome.RECEIVED)
    return Handled(Outcome(worst) if worst != service.DUPLICATE else Outcome.RECEIVED, None, actions)


# ---- Auto Scaling: what the groups report back ----

def on_autoscaling(event: AutoScalingEvent, ctx: Context) -> Handled:
    """A launch or termination that failed on a scaling target is audited and said in its channel."""
    section = ctx.policy.scaling
    group = event.detail.AutoScalingGroupName
    names = [n for n, t in section.local(ctx.policy).items() if t.asg == group]
    if not section.enabled or not names or "Unsuccessful" not in event.detail_type:
        return Handled(Outcome.RECEIVED, f"nothing for scaling in {event.detail_type}")
    name = names[0]
    cause = event.detail.Cause or event.detail.StatusCode or "no cause given"
    reason = f"{event.detail_type}: {cause}"
    audit.record(action="scaling.observe", target=f"autoScalingGroup/{group}", outcome=Outcome.FAILED,
                 correlation_id=ctx.event_id, capability="scaling", reason=reason[:1000],
                 detail={"activity": event.detail.ActivityId, "instance": event.detail.EC2InstanceId})
    channel = section.channel_for(name, ctx.policy)
    if channel:
        from chalicelib.slackkit import announcements

        try:
            announcements.announce(channel=channel, correlation_id=ctx.event_id, text=(
                f":warning: {messages.head(name, ctx.policy.account.environment)}: "
                f"{mrkdwn.safe(event.detail_type, 80)}: {mrkdwn.safe(cause, 1000)}"))
        except Exception as exc:  # noqa: BLE001 - audited above; saying it is best effort
            logger.warning("scaling announcement failed", extra={"target": name, "error": str(exc)})
    return Handled(Outcome.FAILED, reason[:300], [f"{name}: {event.detail_type}"])


# ---- approvals ----

@capabilities.on_decision(Capability.SCALING)
@pending.bound(Capability.SCALING)
def decided(settled: pending.Settled) -> None:
    """A verdict on a request this account stored when it asked (``pending``): the STORED request is planned again
    (approved) or recorded as rejected; nothing in the result's payload is read."""
    correlation_id = settled.correlation_id
    try:
        request = Request.from_dict(settled.subject["request"])
    except (KeyError, TypeError, AttributeError):
        request = None
    if request is None or not request.target or request.action not in ("set", "add", "restore"):
        audit.record(action="scaling.decision", target=f"decision/{settled.decision_id}", outcome=Outcome.REJECTED,
                     correlation_id=correlation_id, capability="scaling", reason="the stored request is not a change")
        return
    if settled.verdict == "approved":
        approved = Request.from_dict({**request.as_dict(), "approved_by": settled.decided_by})
        service.run(approved, correlation_id=correlation_id, now=datetime.now(UTC))
    else:
        service.rejected(request, by=settled.decided_by, reason=settled.reason, correlation_id=correlation_id)
