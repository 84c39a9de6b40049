"""One request, from trigger to audit: lease -> describe -> plan -> (refuse | dry-run | ask | change -> verify).

Every trigger (an alarm rule, a schedule, a restore that is due, ``/ops scale``, an approval coming back) builds a
``plan.Request`` and calls ``run``. Under the target's lease, ``run``:

1. drops a request it has seen before (``request#<id>``: duplicates and late deliveries change nothing);
2. describes the target (an AWS error is reported with its reason, and nothing else happens);
3. plans against the fresh capacity, this target's history and the freezes in force;
4. refuses, or (dry-run) records the plan as ``planned``, or asks for approval, or saves the size before a temporary
   change, performs the one API call, verifies it with a describe, records the change in the history;
5. audits (actor: the Slack user or ``system``) and announces in the target's channel through the front door.

A restore whose target was changed by someone else since is not made: it says so and forgets the saved size.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import aws
from chalicelib import freezes as freeze_windows
from chalicelib.observability import logger
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Policy
from chalicelib.scaling import executor, messages, store
from chalicelib.scaling.exceptions import ScalingError
from chalicelib.scaling.plan import HOUR, Action, Capacity, Change, Plan, Refusal, Request, describe, plan
from chalicelib.scaling.policy import Direction, ScalingTarget
from chalicelib.slackkit import mrkdwn
from chalicelib.state import audit
from chalicelib.state import effects as fx
from chalicelib.state.audit import Outcome
from chalicelib.state.crashpoints import crashpoint
from chalicelib.state.models import AuditEntry

MAX_RESTORE_ATTEMPTS = 3
DUPLICATE = "duplicate"


@dataclass
class Result:
    """What happened. ``outcome`` is an audit outcome, or ``duplicate`` (a request seen before: nothing done)."""

    outcome: str
    reason: str | None
    title: str
    lines: list[str] = field(default_factory=list)
    decision: Plan | Refusal | None = None

    @property
    def text(self) -> str:
        return "\n".join([self.title, *self.lines])


@dataclass(frozen=True)
class _Run:
    request: Request
    name: str
    target: ScalingTarget
    policy: Policy
    environment: str
    channel: str | None
    now: datetime
    correlation_id: str
    client: Any
    dry_run: bool

    @property
    def audit_target(self) -> str:
        return self.target.audit_target

    @property
    def action(self) -> str:
        return "scaling.restore" if self.request.action == "restore" else "scaling.scale"


def run(request: Request, *, now: datetime | None = None, correlation_id: str | None = None,
        policy: Policy | None = None, client: Any = None, lease_wait: float = store.LEASE_WAIT_SECONDS) -> Result:
    """Plan and (maybe) carry out one request; never raises for refusals or AWS errors (they are reported)."""
    current = policy or policies.current()
    section = current.scaling
    now = now or datetime.now(UTC)
    correlation_id = correlation_id or request.request_id or uuid.uuid4().hex
    target = section.targets.get(request.target)
    why = None
    if target is None:
        why = f"unknown scaling target '{request.target}'"
    elif target.account != current.account.name:
        why = f"scaling target '{request.target}' is in account '{target.account}', not this one"
    elif not section.enabled:
        why = "scaling is disabled in this account's policy"
    elif target.guardrails is None:
        why = f"scaling target '{request.target}' has no guardrails"
    if why is not None or target is None:
        known = target is not None and (target.asg is not None or target.ecs_service is not None)
        where = target.audit_target if known and target is not None else f"scaling/{request.target}"
        audit.record(action="scaling.scale", target=where,
                     outcome=Outcome.REFUSED, correlation_id=correlation_id, capability="scaling",
                     actor=request.actor, reason=why, detail={"request": _safe_request(request)})
        return Result(str(Outcome.REFUSED), why, f":no_entry: {mrkdwn.safe(why)}")

    dry = request.dry_run or (target.dry_run if target.dry_run is not None else section.dry_run)
    ctx = _Run(request, request.target, target, current, current.account.environment,
               section.channel_for(request.target, current), now, correlation_id, client or aws.client, dry)
    holder = f"{request.request_id or 'request'}#{uuid.uuid4().hex[:8]}"
    try:
        with store.lease(ctx.name, holder, wait=lease_wait):
            return _locked(ctx)
    except store.Busy as busy:
        if request.action == "restore":  # the tick tries again in a minute
            return Result(str(Outcome.REFUSED), str(busy), f"{messages.head(ctx.name, ctx.environment)}: {busy}")
        return _refused(ctx, Refusal(request, None, (str(busy),)), None)


def _locked(ctx: _Run) -> Result:
    request = ctx.request
    for unfinished in store.unfinished(ctx.name):  # a change committed but not carried out (a crash): first
        finished = resume(unfinished, policy=ctx.policy, client=ctx.client)
        if finished is not None and unfinished.sk == f"request#{request.request_id}":
            return finished
    seen = store.request_seen(ctx.name, request.request_id) if request.request_id else None
    if seen is not None and (seen.state in ("done", "executing") or not request.approved_by):
        why = f"already handled ({'awaiting approval' if seen.state == 'awaiting' else seen.outcome})"
        return Result(DUPLICATE, why, f"{messages.head(ctx.name, ctx.environment)}: {why}")

    slot = None
    if request.action == "restore":
        slot = store.get_saved(ctx.name, request.slot or "")
        if slot is None:
            why = "nothing saved to restore (already restored, or never changed)"
            return Result(str(Outcome.SUCCEEDED), why, f"{messages.head(ctx.name, ctx.environment)}: {why}")
        request = replace(request, restore_to=slot.before, expected=slot.set_to)
        ctx = replace(ctx, request=request)

    try:
        current = executor.describe_target(ctx.target, ctx.client)
    except ScalingError as exc:
        return _failed(ctx, None, f"AWS: {exc.reason}", slot)

    guard = ctx.target.guardrails
    assert guard is not None
    since = ctx.now - max(HOUR, timedelta(seconds=guard.cooldown_seconds))
    frozen = tuple(f.name for f in freeze_windows.active(ctx.policy, ctx.environment, ctx.now))
    decided = plan(current, request, guard, store.history(ctx.name, since), ctx.now, environment=ctx.environment,
                   freezes=frozen)
    if isinstance(decided, Refusal):
        return _refused(ctx, decided, slot)
    if decided.noop:
        return _noop(ctx, decided, slot)
    if ctx.dry_run:
        return _planned(ctx, decided, slot)
    if decided.needs_approval:
        return _ask(ctx, decided, slot)
    return _execute(ctx, decided, slot)


# ---- the outcomes ----

def _until(ctx: _Run) -> datetime | None:
    return ctx.now + timedelta(seconds=ctx.request.duration) if ctx.request.duration else None


def _key(ctx: _Run, slot: store.SavedItem | None) -> str | None:
    """Announcements of a temporary change and of its end share a key: the end updates the message in place."""
    if slot is not None:
        return f"scaling/{ctx.name}/{slot.request_id}"
    if ctx.request.slot and ctx.request.action != "restore":
        return f"scaling/{ctx.name}/{ctx.request.request_id}"
    return None


def _execute(ctx: _Run, decided: Plan, slot: store.SavedItem | None) -> Result:
    """Commit, then execute: the change goes into the history, the request is recorded as ``executing`` with the
    API call as its pending effect, the saved size (a temporary change) is stored or a restore's forgotten, and the
    audit entry written, in one transaction; then the call is made (compared first: a repeat changes nothing),
    verified, announced and the request marked done. A crash at any point is finished by the next delivery of
    the same request or by the tick, once; a retried alarm finds the change in the history (cooldown)."""
    request = ctx.request
    saving = bool(request.slot) and request.action != "restore"
    lines = messages.preview(ctx.name, ctx.environment, decided, _guard(ctx), _until(ctx))  # before acting
    request_id = request.request_id or uuid.uuid4().hex
    change = Change(ctx.now, decided.before.count, decided.after.count, request.origin)
    writes = [store.change_write(ctx.name, change, request_id)]
    replaced = None
    if saving:
        item, replaced = store.save(ctx.name, request.slot or "", before=decided.before, set_to=decided.after,
                                    request_id=request.request_id, summary=_summary(ctx, decided),
                                    restore_at=_until(ctx), now=ctx.now, write=False)
        writes.append(fx.Write(item))
    if slot is not None:
        writes.append(fx.Write(store.SavedItem(store.pk(ctx.name), f"saved#{slot.owner}"), delete=True))
    effect = fx.Effect(id="1:apply", kind="scaling.apply", params={
        "actions": [{"service": a.service, "method": a.method, "params": a.params} for a in decided.actions],
        "after": decided.after.as_dict()})
    data = {"request": request.as_dict(), "plan": _plan_dict(decided), "correlation_id": ctx.correlation_id,
            "now": ctx.now.isoformat(), "slot": _slot_dict(slot), "replaced": _slot_dict(replaced),
            "request_id": request_id}
    seen = store.request_seen(ctx.name, request_id)
    writes.insert(0, store.executing(ctx.name, request_id, data=data, effect=effect, now=ctx.now,
                                     version=int(seen.version or 0) if seen is not None else 0))
    fx.commit(writes, [_entry(ctx, Outcome.SUCCEEDED, None, decided)])
    store.publish_change(ctx.name, change)  # the console's capacity plot (a report: after the commit)
    crashpoint("scaling.committed")
    return _finish(ctx, decided, slot, replaced, request_id, lines)


def _summary(ctx: _Run, decided: Plan) -> str:
    return (f"{messages.head(ctx.name, ctx.environment)}: {messages.change(decided)} by "
            f"{messages.origin(ctx.request)}")


def _finish(ctx: _Run, decided: Plan, slot: store.SavedItem | None, replaced: Any, request_id: str,
            lines: list[str]) -> Result:
    """Make the committed change's API call (once), verify it, announce it, mark the request done."""
    request = ctx.request
    head = messages.head(ctx.name, ctx.environment)
    item = fx.execute(store.RequestItem, store.pk(ctx.name), f"request#{request_id}",
                      _performer(ctx, decided, slot, replaced, request_id), capability="scaling")
    [effect] = fx.load(item.effects) if item is not None else [None]  # type: ignore[list-item]
    if effect is not None and effect.status == "failed":
        return _failed(ctx, decided, effect.error or "AWS refused", slot, audited=True)

    problem = None
    try:
        executor.verify(ctx.target, decided, ctx.client)
    except ScalingError as exc:
        problem = exc.reason
    summary = _summary(ctx, decided)
    if problem is None:
        outcome, reason = Outcome.SUCCEEDED, None
        if request.action == "restore":
            title = (f":leftwards_arrow_with_hook: {head}: restored {messages.change(decided)} after "
                     f"{messages.origin(request)}")
            if slot is not None and slot.summary:
                title += f"\n_earlier:_ {slot.summary}"
        else:
            title = f":arrow_{'up' if decided.after.count > decided.before.count else 'down'}: {summary}"
            ends = messages.temporary(request, _until(ctx), decided.before)
            if ends:
                title += f" · {ends}"
        lines.append("• done: verified with a describe")
    else:
        outcome, reason = Outcome.FAILED, f"not verified: {problem}"
        title = f":warning: {head}: {messages.change(decided)} was asked of AWS but {mrkdwn.safe(problem, 500)}"
        lines.append(f"• {mrkdwn.safe(reason, 600)}")
        _audit(ctx, outcome, reason, decided)
    _announce(ctx, title, _key(ctx, slot))
    _done(ctx, outcome, reason)
    return Result(str(outcome), reason, title, lines, decided)


def _performer(ctx: _Run, decided: Plan, slot: store.SavedItem | None, replaced: Any,
               request_id: str) -> fx.Perform:
    def perform(item: Any, effect: fx.Effect) -> fx.Done:
        after = Capacity.from_dict(effect.params["after"])
        try:
            now = executor.describe_target(ctx.target, ctx.client)
            if now.mode is after.mode and now.held() == after.held():  # made before (a crash, a retry): once
                return fx.Done(result={"applied": False, "found": now.as_dict()})
            executor.apply(decided, ctx.client)
        except ScalingError as exc:  # AWS refused for good: nothing was changed, the history entry is withdrawn
            reason = f"AWS: {exc.reason}"
            writes = [store.withdraw_change(ctx.name, Change(ctx.now, decided.before.count, decided.after.count,
                                                             ctx.request.origin), request_id)]
            if ctx.request.slot and ctx.request.action != "restore":
                writes.append(fx.Write(replaced) if replaced is not None else fx.Write(
                    store.SavedItem(store.pk(ctx.name), f"saved#{ctx.request.slot}"), delete=True))
            if slot is not None:  # a restore: the saved size is kept, the next ticks try again
                writes.append(fx.Write(slot))
            raise fx.Failed(reason, fx.Done(writes=writes, audits=[_entry(ctx, Outcome.FAILED, reason, decided)])
                            ) from None
        return fx.Done(result={"applied": True})

    return perform


def _plan_dict(decided: Plan) -> dict[str, Any]:
    return {"before": decided.before.as_dict(), "after": decided.after.as_dict(),
            "actions": [{"service": a.service, "method": a.method, "params": a.params} for a in decided.actions],
            "direction": str(decided.direction) if decided.direction else None,
            "needs_approval": decided.needs_approval, "notes": list(decided.notes)}


def _slot_dict(slot: Any) -> dict[str, Any] | None:
    return None if slot is None else {k: v for k, v in slot.attribute_values.items() if k != "expires_at"}


def resume(item: store.RequestItem, *, policy: Policy | None = None, client: Any = None) -> Result | None:
    """Finish a request whose change was committed but not finished (the call, its check, its announcement):
    the redelivered request and the tick both come here. None: the target is not this account's any more."""
    current = policy or policies.current()
    data = item.data or {}
    request = Request.from_dict(data["request"])
    target = current.scaling.targets.get(request.target)
    if target is None:
        return None
    p = data["plan"]
    decided = Plan(request, Capacity.from_dict(p["before"]), Capacity.from_dict(p["after"]),
                   tuple(Action(**a) for a in p["actions"]), Direction(p["direction"]) if p["direction"] else None,
                   p["needs_approval"], tuple(p["notes"]))
    now = datetime.fromisoformat(data["now"])
    ctx = _Run(request, request.target, target, current, current.account.environment,
               current.scaling.channel_for(request.target, current), now, data["correlation_id"],
               client or aws.client, False)
    slot = store.SavedItem(store.pk(request.target), f"saved#{data['slot']['owner']}", **{
        k: v for k, v in data["slot"].items() if k not in ("pk", "sk")}) if data.get("slot") else None
    replaced = store.SavedItem(store.pk(request.target), f"saved#{data['replaced']['owner']}", **{
        k: v for k, v in data["replaced"].items() if k not in ("pk", "sk")}) if data.get("replaced") else None
    lines = messages.preview(ctx.name, ctx.environment, decided, _guard(ctx), _until(ctx))
    return _finish(ctx, decided, slot, replaced, data["request_id"], lines)


def run_pending(*, policy: Policy | None = None, client: Any = None) -> list[Result]:
    """The tick's first duty: changes committed but not carried out (a crash between commit and the call)."""
    done = []
    for pk, sk in store.with_effects_pending():
        try:
            item = store.RequestItem.get(pk, sk, consistent_read=True)
        except store.RequestItem.DoesNotExist:
            continue
        name = pk.removeprefix("scaling#")
        with store.lease(name, f"resume#{uuid.uuid4().hex[:8]}"):
            item.refresh(consistent_read=True)
            if item.state == "executing":
                found = resume(item, policy=policy, client=client)
                if found is not None:
                    done.append(found)
    return done


def _refused(ctx: _Run, refusal: Refusal, slot: store.SavedItem | None) -> Result:
    reason = "; ".join(refusal.reasons)
    text = messages.refused(ctx.name, ctx.environment, refusal, messages.wanted(ctx.request))
    title = messages.refused_head(ctx.name, ctx.environment, refusal, messages.wanted(ctx.request))
    lines = [f"• {mrkdwn.safe(r, 600)}" for r in refusal.reasons]
    if slot is not None and refusal.deferred:
        if slot.note != reason:  # said once, not at every tick
            _audit(ctx, Outcome.REFUSED, f"deferred: {reason}", refusal)
            _announce(ctx, text + " · tried again every minute", None)
            store.note_saved(slot, note=reason)
        return Result(str(Outcome.REFUSED), reason, title, lines, refusal)
    if slot is not None:
        store.forget(ctx.name, slot.owner)
        if refusal.interference:
            text = f":raised_hand: {messages.head(ctx.name, ctx.environment)}: {mrkdwn.safe(reason, 800)}"
            if slot.summary:
                text += f"\n_earlier:_ {slot.summary}"
    _audit(ctx, Outcome.REFUSED, reason, refusal)
    _announce(ctx, text, _key(ctx, slot))
    _done(ctx, Outcome.REFUSED, reason)
    return Result(str(Outcome.REFUSED), reason, title if not refusal.interference else text, lines, refusal)


def _noop(ctx: _Run, decided: Plan, slot: store.SavedItem | None) -> Result:
    reason = "; ".join(decided.notes) or "nothing to change"
    if slot is not None:
        store.forget(ctx.name, slot.owner)
    _audit(ctx, Outcome.SUCCEEDED, reason, decided)
    _done(ctx, Outcome.SUCCEEDED, reason)
    title = f"{messages.head(ctx.name, ctx.environment)}: {mrkdwn.safe(reason)}"
    return Result(str(Outcome.SUCCEEDED), reason, title, [], decided)


def _planned(ctx: _Run, decided: Plan, slot: store.SavedItem | None) -> Result:
    why = "dry run (--dry-run)" if ctx.request.dry_run else "dry run (policy)"
    if slot is not None:
        store.forget(ctx.name, slot.owner)
    lines = messages.preview(ctx.name, ctx.environment, decided, _guard(ctx), _until(ctx))
    if decided.needs_approval:
        lines.append("• would ask for an approval first")
    lines.append("• nothing was changed")
    title = (f":memo: {messages.head(ctx.name, ctx.environment)}: {why}: would {messages.change(decided)} for "
             f"{messages.origin(ctx.request)}")
    _audit(ctx, Outcome.PLANNED, why, decided)
    _announce(ctx, title, None)
    _done(ctx, Outcome.PLANNED, why)
    return Result(str(Outcome.PLANNED), why, title, lines, decided)


def _ask(ctx: _Run, decided: Plan, slot: store.SavedItem | None) -> Result:
    from chalicelib.decisions import service as approvals

    lines = messages.preview(ctx.name, ctx.environment, decided, _guard(ctx), _until(ctx))
    channel = ctx.channel
    if channel is None:
        return _failed(ctx, decided, "an approval is needed but there is no channel to ask in", slot)
    title_plain = f"{ctx.name} {describe(decided.before)} → {describe(decided.after)} in {ctx.environment}"
    if ctx.request.action == "restore":
        title_plain += " (restore)"
    try:
        decision_id = approvals.ask(
            capability="scaling", title=title_plain, summary="\n".join(lines), environment=ctx.environment,
            requester=ctx.request.actor, channel=channel, correlation_id=ctx.correlation_id,
            subject={"request": ctx.request.as_dict()})  # stored here; only its ticket travels
    except Exception as exc:  # noqa: BLE001 - the bus or Slack refused: reported, nothing changed
        return _failed(ctx, decided, f"could not ask for approval: {type(exc).__name__}: {exc}", slot)
    reason = f"awaiting approval: {'; '.join(n for n in decided.notes if 'needs an approver' in n)}"
    _audit(ctx, Outcome.REFUSED, reason, decided, decision=decision_id)
    store.note_request(ctx.name, ctx.request.request_id, "awaiting", outcome=str(Outcome.REFUSED), reason=reason,
                       now=ctx.now, decision=decision_id)
    if slot is not None:
        store.note_saved(slot, state="asked")
    title = (f":hourglass: {messages.head(ctx.name, ctx.environment)}: {messages.change(decided)} awaits an approver "
             f"(card in {mrkdwn.safe(channel, 80)})")
    return Result(str(Outcome.REFUSED), reason, title, lines, decided)


def _failed(ctx: _Run, decided: Plan | None, reason: str, slot: store.SavedItem | None, *,
            audited: bool = False) -> Result:
    text = (f":x: {messages.head(ctx.name, ctx.environment)}: not {messages.wanted(ctx.request)} · "
            f"{mrkdwn.safe(reason, 800)} · nothing was changed · asked by {messages.origin(ctx.request)}")
    if not audited:
        _audit(ctx, Outcome.FAILED, reason, decided)
    if slot is not None:  # a restore: tried again by the next ticks, a few times
        attempts = slot.attempts + 1
        if attempts < MAX_RESTORE_ATTEMPTS:
            store.note_saved(slot, attempts=attempts, note=reason)
            _announce(ctx, text + f" · trying again (attempt {attempts} of {MAX_RESTORE_ATTEMPTS})", None)
            return Result(str(Outcome.FAILED), reason, text, [f"• {mrkdwn.safe(reason, 600)}"], decided)
        store.forget(ctx.name, slot.owner)
        text += f" · gave up after {attempts} attempts: the saved size is forgotten"
    _announce(ctx, text, None)
    _done(ctx, Outcome.FAILED, reason)
    return Result(str(Outcome.FAILED), reason, text, [f"• {mrkdwn.safe(reason, 600)}"], decided)


def rejected(request: Request, *, by: str, reason: str | None, correlation_id: str, policy: Policy | None = None,
             now: datetime | None = None) -> Result:
    """An approver said no: record it, forget a restore's saved size (the target stays as it is), say so."""
    current = policy or policies.current()
    target = current.scaling.targets.get(request.target)
    now = now or datetime.now(UTC)
    if target is None:
        return Result(str(Outcome.REFUSED), f"unknown scaling target '{request.target}'", "")
    ctx = _Run(request, request.target, target, current, current.account.environment,
               current.scaling.channel_for(request.target, current), now, correlation_id, aws.client, False)
    with store.lease(ctx.name, f"reject#{uuid.uuid4().hex[:8]}"):
        seen = store.request_seen(ctx.name, request.request_id)
        if seen is not None and seen.state == "done":
            return Result(DUPLICATE, f"already handled ({seen.outcome})", "")
        why = f"rejected by <@{by}>" + (f": {reason}" if reason else "")
        said = f"rejected by {messages.who(by)}" + (f": {mrkdwn.safe(reason, 500)}" if reason else "")
        slot = store.get_saved(ctx.name, request.slot) if request.action == "restore" and request.slot else None
        if slot is not None:
            store.forget(ctx.name, slot.owner)
            why += " (it stays as it is; the saved size is forgotten)"
            said += " (it stays as it is; the saved size is forgotten)"
        _audit(ctx, Outcome.REFUSED, why, None, approver=by)
        text = (f":no_entry: {messages.head(ctx.name, ctx.environment)}: not {messages.wanted(request)} · "
                f"{said} · asked by {messages.origin(request)}")
        _announce(ctx, text, _key(ctx, slot))
        _done(ctx, Outcome.REFUSED, why)
    return Result(str(Outcome.REFUSED), why, text)


# ---- audit, announce, remember ----

def _guard(ctx: _Run) -> Any:
    return ctx.target.guardrails


def _safe_request(request: Request) -> dict[str, Any]:
    data = request.as_dict()
    data["count"] = messages.show(request.count) if not isinstance(request.count, int) or isinstance(
        request.count, bool) or abs(request.count) >= 10**15 else request.count
    return data


def _audit(ctx: _Run, outcome: Outcome, reason: str | None, decided: Plan | Refusal | None, **extra: Any) -> None:
    _entry(ctx, outcome, reason, decided, **extra).save(condition=AuditEntry.target.does_not_exist())


def _entry(ctx: _Run, outcome: Outcome, reason: str | None, decided: Plan | Refusal | None,
           **extra: Any) -> AuditEntry:
    before = after = None
    detail: dict[str, Any] = {"request": _safe_request(ctx.request), "target": ctx.name, "dry_run": ctx.dry_run,
                              "clock": ctx.now.isoformat(), **extra}
    if isinstance(decided, Plan):
        before, after = decided.before.as_dict(), decided.after.as_dict()
        detail["calls"] = [{"service": a.service, "method": a.method, "params": a.params} for a in decided.actions]
        detail["notes"] = list(decided.notes)
    elif isinstance(decided, Refusal) and decided.current is not None:
        before = decided.current.as_dict()
    return audit.entry(action=ctx.action, target=ctx.audit_target, outcome=outcome,
                       correlation_id=ctx.correlation_id, capability="scaling", actor=ctx.request.actor,
                       reason=reason, before=before, after=after, detail=detail)


def _announce(ctx: _Run, text: str, key: str | None) -> None:
    """Say it in the target's channel. Never undoes or fails a change: a failure to announce is logged and audited."""
    if ctx.channel is None:
        return
    from chalicelib.slackkit import announcements

    try:
        announcements.announce(channel=ctx.channel, text=mrkdwn.truncate(text, mrkdwn.SECTION_TEXT),
                           correlation_id=ctx.correlation_id, key=key)
    except Exception as exc:  # noqa: BLE001
        logger.warning("scaling announcement failed", extra={"target": ctx.name, "error": str(exc)})
        audit.record(action="scaling.announce", target=ctx.audit_target, outcome=Outcome.FAILED,
                     correlation_id=ctx.correlation_id, capability="scaling", reason=f"{type(exc).__name__}: {exc}")


def _done(ctx: _Run, outcome: Outcome, reason: str | None) -> None:
    if ctx.request.request_id:
        store.note_request(ctx.name, ctx.request.request_id, "done", outcome=str(outcome), reason=reason, now=ctx.now)
