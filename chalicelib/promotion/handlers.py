"""Where promotion plugs into Switchboard (``capabilities.LANDED[Capability.PROMOTION]`` names this module):

- CodePipeline events: an execution Switchboard started or answered (found by its pointer) moves its promotion
  (STARTED, SUCCEEDED, FAILED… in any order, any number of times: ``machine.on_execution`` only moves forward);
  an app's source pipeline succeeding makes a candidate; a Manual Approval action starting wakes the promotions
  waiting for it;
- alarm events: a watched alarm in ALARM is remembered (the quiet-alarms gate) and fails a promotion baking here;
- ``release-candidate`` from the source account: the target side of a promotion begins;
- the promotion's approvals (``pro-<id>``) and one-click rollbacks (``rbk-<id>``) decided in Slack;
- EventBridge Scheduler events named ``switchboard-promotion-*``: a reconcile tick (also run every minute by
  ``app.promotion_tick``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib import capabilities, pending
from chalicelib.capabilities import Capability, Context
from chalicelib.capabilities import Result as Handled
from chalicelib.intake.events import AlarmEvent, CodePipelineEvent, PeerEvent, ScheduleEvent
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Flow
from chalicelib.promotion import facts, reconcile, service, store
from chalicelib.promotion.machine import State
from chalicelib.promotion.store import Promotion
from chalicelib.state import audit
from chalicelib.state.audit import Outcome

EXECUTION = "CodePipeline Pipeline Execution State Change"
ACTION = "CodePipeline Action Execution State Change"


@capabilities.register(Capability.PROMOTION)
def on_event(event: Any, ctx: Context) -> Handled:
    if not ctx.policy.promotion.enabled:
        return Handled(Outcome.RECEIVED, "promotion is disabled in this account's policy")
    now = datetime.now(UTC)
    if isinstance(event, CodePipelineEvent):
        return on_pipeline(event, ctx, now)
    if isinstance(event, AlarmEvent):
        return on_alarm(event, ctx, now)
    if isinstance(event, PeerEvent) and event.detail.flow is Flow.RELEASE_CANDIDATE:
        try:
            said = service.on_candidate(ctx.policy, event.detail.payload, ctx.event_id, now)
        except service.Malformed as exc:  # retrying cannot mend it: audited and returned, not raised
            audit.record(action="promotion.candidate", target=event.target, outcome=Outcome.REJECTED,
                         correlation_id=ctx.event_id, capability="promotion", reason=str(exc)[:1000])
            return Handled(Outcome.REJECTED, str(exc))
        return Handled(Outcome.SUCCEEDED, None, [said])
    if isinstance(event, ScheduleEvent):
        report = reconcile.run(now=now, policy=ctx.policy)
        return Handled(Outcome.SUCCEEDED, None, report)
    return Handled(Outcome.RECEIVED, f"promotion does nothing with {type(event).__name__}")


def on_pipeline(event: CodePipelineEvent, ctx: Context, now: datetime) -> Handled:
    d = event.detail
    at = event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC)
    if event.detail_type == EXECUTION:
        found = store.pointer(d.execution_id)
        if found is not None:
            return Handled(Outcome.SUCCEEDED, None, [_execution(found, d.state, ctx, now, at)])
        if d.state == "SUCCEEDED":
            said = service.on_source_succeeded(ctx.policy, d.pipeline, d.execution_id, at, ctx.event_id, now)
            if not said:
                return Handled(Outcome.RECEIVED, f"{d.pipeline} is no app's source pipeline here")
            made = any(" candidate " in s or " duplicate " in s for s in said)
            unknown = next((s for s in said if "has no execution" in s), None)
            if not made and unknown:
                return Handled(Outcome.REJECTED, unknown, said)
            return Handled(Outcome.SUCCEEDED if made else Outcome.RECEIVED, None, said)
        return Handled(Outcome.RECEIVED, f"{d.pipeline} {d.state}: nothing to do")
    if event.detail_type == ACTION and d.state == "STARTED":
        woken = _approval_action_started(d.pipeline, d.stage, d.action, ctx, now)
        return Handled(Outcome.SUCCEEDED if woken else Outcome.RECEIVED, None, woken)
    return Handled(Outcome.RECEIVED, f"{event.detail_type} {d.state}: nothing to do")


def _execution(found: dict[str, Any], status: str, ctx: Context, now: datetime, at: datetime) -> str:
    app, promo_id, role = found["app"], found["promotion"], found["role"]

    def move(p: Promotion, version: int) -> Promotion | None:
        if role == "rollback":
            return service.rollback_finished(p, status, now)
        return service.execution_changed(p, status, now, at, service.settings_for(ctx.policy, app))

    moved = service.change(app, promo_id, ctx.event_id, now, ctx.policy, move)
    if moved is not None and moved.state is State.FAILED:  # roll back at once, not at the next tick
        moved = service.advance(app, promo_id, correlation_id=ctx.event_id, now=now, policy=ctx.policy)
    return f"{app} {promo_id} ({role}): {status} -> {moved.state if moved else 'gone'}"


def _approval_action_started(pipeline: str, stage: str | None, action: str | None, ctx: Context,
                             now: datetime) -> list[str]:
    woken = []
    env = ctx.policy.account.environment
    for app_name, app in sorted(ctx.policy.apps.items()):
        ref = app.pipelines.get(env)
        settings = service.settings_for(ctx.policy, app_name)
        if ref is None or ref.name != pipeline or settings.deploy.stage != stage or settings.deploy.action != action:
            continue
        for p in store.of_app(app_name):
            waiting = p.state in (State.APPROVED, State.AWAITING_APPROVAL) or (
                p.state is State.ROLLED_BACK and p.watched)  # a rollback run stops at the approval too
            if p.side == "target" and waiting:
                moved = service.advance(app_name, p.id, correlation_id=ctx.event_id, now=now, policy=ctx.policy)
                woken.append(f"{app_name} {p.id}: {moved.state if moved else 'gone'}")
    return woken


def on_alarm(event: AlarmEvent, ctx: Context, now: datetime) -> Handled:
    d = event.detail
    name, state = d.alarmName, d.state.value
    previous = d.previousState.value if d.previousState is not None else None
    at = d.state.timestamp or event.time
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    env = ctx.policy.account.environment
    said = []
    for app_name in sorted(ctx.policy.promotion.paths):
        settings = service.settings_for(ctx.policy, app_name)
        if not facts.watched(settings.alarms, name):
            continue
        # Where candidates soak, an alarm leaving ALARM is remembered: the quiet period restarts from then (one in
        # ALARM now is seen by DescribeAlarms when the gates run). Where deploys bake, nothing is written.
        soaks_here = ctx.policy.promotion.next_environment(app_name, env) is not None
        if soaks_here and previous == "ALARM" and state != "ALARM":
            store.note_alarm(app_name, env, at)
            said.append(f"{app_name}: {name} left ALARM: quiet period restarts")
        if state != "ALARM" or previous == "ALARM" or ctx.policy.promotion.previous_environment(app_name, env) is None:
            continue  # only an alarm entering ALARM, where deploys bake, can fail a promotion
        for p in store.of_app(app_name):
            if p.side == "target" and p.target_env == env and p.state is State.VERIFYING:
                moved = service.advance(app_name, p.id, correlation_id=ctx.event_id, now=now, policy=ctx.policy,
                                        alarm=name)
                said.append(f"{app_name} {p.id}: {moved.state if moved else 'gone'}")
    return Handled(Outcome.SUCCEEDED if said else Outcome.RECEIVED,
                   None if said else f"no promotion watches alarm {name}", said)


@capabilities.on_decision(Capability.PROMOTION)
@pending.bound(Capability.PROMOTION)
def decided(settled: pending.Settled) -> None:
    """An approval or a rollback offer this account asked for was decided in Slack: the promotion (and revision)
    this account stored when it asked, with the approvers that passed this account's own checks."""
    subject = settled.subject
    app, promo_id = subject.get("app"), subject.get("id")
    if not app or not promo_id:
        return
    now = datetime.now(UTC)
    current = policies.current()
    correlation_id = f"decision:{settled.decision_id}"
    verdict, user = settled.verdict, settled.decided_by or service.SYSTEM

    if subject.get("rollback"):
        def roll(p: Promotion, version: int) -> Promotion | None:
            if p.state is not State.FAILED or p.previous is None or subject.get("to") != p.previous.id:
                return None  # (asked to roll back to another revision than the one it would now)
            if verdict != "approved":
                return p.model_copy(update={"failure": (p.failure or "") + f"; rollback declined by {user}",
                                            "next_check_at": None, "rollback_decision": None, "updated_at": now})
            settings = service.settings_for(current, app)
            return service.redeploy_previous(p, current, settings, now, by=user)

        service.change(app, promo_id, correlation_id, now, current, roll, actor=user)
        return

    def record(p: Promotion, version: int) -> Promotion | None:
        if p.state not in (State.AWAITING_APPROVAL, State.HELD, State.APPROVED):
            return None
        if subject.get("revision") not in (None, p.revision.id):  # asked about another revision: not this one
            return None
        if verdict == "approved":
            return p.model_copy(update={"approvals": list(settled.approvers), "updated_at": now, "next_check_at": now})
        if verdict == "expired":
            return p.model_copy(update={"expired": True, "updated_at": now, "next_check_at": now})
        reason = settled.reason or "no reason given"
        return p.model_copy(update={"rejected_by": user, "reject_reason": f"rejected by {user}: {reason}",
                                    "updated_at": now, "next_check_at": now})

    service.change(app, promo_id, correlation_id, now, current, record, actor=user)
    service.advance(app, promo_id, correlation_id=correlation_id, now=now, policy=current)
