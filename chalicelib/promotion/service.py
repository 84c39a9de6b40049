"""Moving promotions: the one place that reads facts, asks ``gates``/``machine`` what to do, and does it.

``advance(app, id)`` reads the promotion, gathers the facts its state needs and decides with the pure modules.
Commit, then execute (chalicelib/state/effects.py): a step performs nothing; it returns the new state and names
its effects (hand over, ask for approval, start or answer the pipeline) with ``_effect``, and the other items it
changes (the execution pointer when it is known, ``current#<env>``, a revision marked bad, the deploy slot) with
``_write``. ``change`` commits all of it with the transition's audit entry in one transaction, conditional on the
version it read (a concurrent writer makes it decide again: nothing was performed), then ``execute`` performs the
effects, each idempotent (``_perform``), and marks each done. A promotion whose effects are pending takes no new
step until they are done: a crash anywhere is mended by the next delivery or reconcile tick, once.
Announcements (the card, keyed ``promotion:<id>``) come last: they only show what is stored.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.observability import logger
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Flow, Policy
from chalicelib.promotion import dora, facts, gates, messages, pipelines, store
from chalicelib.promotion.machine import SUPERSEDABLE, State, on_execution
from chalicelib.promotion.policy import Deploy, Mode, Resolved, Rollback
from chalicelib.promotion.store import Conflict, Promotion, PromotionItem, Revision
from chalicelib.state import audit
from chalicelib.state import effects as fx
from chalicelib.state.audit import Outcome
from chalicelib.state.crashpoints import crashpoint
from chalicelib.state.models import AuditEntry
from chalicelib.timefmt import seconds

SYSTEM = "system"
RETRY = timedelta(minutes=1)  # when a wait has no end of its own, look again after this long
STUCK = timedelta(minutes=5)  # a deploy with no news for this long is re-read from CodePipeline
IDLE = timedelta(days=7)  # a failed promotion with nothing left to do is looked at again after this long
DECISION_PREFIX = "pro-"
ROLLBACK_PREFIX = "rbk-"
STARTING = ""  # a run's execution id until StartPipelineExecution has answered (its effect is done)


_SETTINGS: dict[tuple[int, str], tuple[Policy, Resolved]] = {}


def settings_for(policy: Policy, app: str) -> Resolved:
    """An app's effective settings (cached per policy object: policies are immutable and loaded once)."""
    cached = _SETTINGS.get((id(policy), app))
    if cached is not None and cached[0] is policy:
        return cached[1]
    found = policy.apps.get(app)
    resolved = policy.promotion.settings(app, found.alarm_prefixes if found else ())
    _SETTINGS[(id(policy), app)] = (policy, resolved)
    return resolved


def _target(p: Promotion) -> str:
    return f"app/{p.app}"


def _entry(p: Promotion, action: str, outcome: Outcome, *, actor: str = SYSTEM, reason: str | None = None,
           before: dict[str, Any] | None = None, correlation_id: str, **detail: Any) -> AuditEntry:
    """The audit entry of a step, committed with it (never written after it: a crash cannot leave it out)."""
    return audit.entry(action=f"promotion.{action}", target=_target(p), actor=actor, outcome=outcome,
                       correlation_id=correlation_id, capability="promotion", reason=reason,
                       before=before, after={"state": str(p.state), "revision": p.revision.id, "promotion": p.id},
                       detail={"source": p.source_env, "target": p.target_env, **detail})


# ---- a step's effects and writes, as data (collected while ``change`` runs a step) ----

@dataclass
class _Plan:
    effects: list[fx.Effect] = field(default_factory=list)
    writes: list[fx.Write] = field(default_factory=list)


_PLAN: ContextVar[_Plan | None] = ContextVar("promotion_plan", default=None)


def _plan() -> _Plan:
    plan = _PLAN.get()
    if plan is None:
        raise RuntimeError("a promotion step names its effects inside service.change()")
    return plan


def _effect(kind: str, **params: Any) -> None:
    """Name an effect of the step being decided: performed after the step is committed, once."""
    plan = _plan()
    plan.effects.append(fx.Effect(id=f"{len(plan.effects) + 1}:{kind}", kind=f"promotion.{kind}", params=params))


def _write(write: fx.Write) -> None:
    """Name another item the step changes: written in the step's transaction."""
    _plan().writes.append(write)


def _holds_slot(p: Promotion) -> bool:
    """Deploying the app in its target environment: its run, its bake, or its rollback run."""
    return p.side == "target" and (p.state in (State.DEPLOYING, State.VERIFYING) or (
        p.state is State.ROLLED_BACK and p.watched))


def announce(p: Promotion, policy: Policy, correlation_id: str, version: int | None = None) -> None:
    """Show the card (keyed by promotion: updated in place). A Slack failure never undoes a promotion.

    ``version``: the stored version of the promotion ``p`` is (every step raises it): the card's version, so the
    front door sends only the newest and a late, older card never shows over a newer one."""
    app = policy.apps.get(p.app)
    if app is None:
        return
    from chalicelib.slackkit import announcements

    pending_decision = p.decision_id if p.state in (State.AWAITING_APPROVAL, State.HELD) and p.decision_id else None
    if p.state is State.FAILED and p.rollback_decision:
        pending_decision = p.rollback_decision
    extra: dict[str, Any] = {"decision_id": pending_decision} if pending_decision else _continues(p, policy)
    extra |= _grant(p, policy)
    try:
        announcements.announce(channel=app.channel, text=messages.text(p), blocks=messages.body(p),
                               key=f"promotion:{p.id}", correlation_id=correlation_id, version=version, **extra)
    except Exception:  # noqa: BLE001 - the card is a view; the state is stored and audited
        logger.exception("promotion card not delivered", extra={"promotion": p.id})


def emit_dora(app: str, now: datetime) -> None:
    """The app's four DORA keys as CloudWatch EMF metrics (namespace Switchboard, dimension app)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    keys = dora.keys(app, deployments(store.of_app(app)), now)
    for name, (value, unit) in dora.emf_metrics(keys).items():
        with single_metric(name=name, unit=MetricUnit(unit), value=value, namespace="Switchboard") as metric:
            metric.add_dimension(name="app", value=app)


def deployments(promotions: list[Promotion]) -> list[dora.Deployment]:
    """The target side's promotions that reached prod (deployed), as DORA sees them."""
    found = []
    for p in promotions:
        if p.side != "target" or p.deployed_at is None:
            continue
        failed = p.state in (State.FAILED, State.ROLLED_BACK)
        found.append(dora.Deployment(app=p.app, revision=p.revision.id, committed_at=p.revision.committed_at,
                                     deployed_at=p.deployed_at, failed=failed,
                                     failed_at=p.failed_at if failed else None,
                                     restored_at=p.restored_at if failed else None))
    return found


# ---- creating promotions ----

def _sort_key(p: Promotion) -> datetime:
    """Which of two candidates is newer: a person's request counts from when they asked."""
    return p.created_at if p.requester else p.succeeded_at


def start(p: Promotion, policy: Policy, correlation_id: str, now: datetime) -> tuple[bool, Promotion]:
    """Store a new promotion, supersede older ones, and take it as far as it goes now. (created?, latest)"""
    created = _entry(p, "create", Outcome.SUCCEEDED, actor=p.requester or SYSTEM, correlation_id=correlation_id,
                     reason=f"{p.revision.short} from {p.source_env} to {p.target_env}", side=p.side)
    if not store.create(p, audits=[created]):
        found, _ = store.load(p.app, p.id)
        return False, found or p
    supersede(p.app, p.target_env, p.side, policy, correlation_id, now)
    latest = advance(p.app, p.id, correlation_id=correlation_id, now=now, policy=policy)
    return True, latest or p


def supersede(app: str, target_env: str, side: str, policy: Policy, correlation_id: str, now: datetime) -> None:
    """Of the promotions of ``app`` to ``target_env`` still waiting on this side, only the newest goes on."""
    waiting = [p for p in store.of_app(app)
               if p.target_env == target_env and p.side == side and p.state in SUPERSEDABLE]
    if len(waiting) < 2:
        return
    newest = max(waiting, key=_sort_key)
    for old in waiting:
        if old.id != newest.id:
            change(old.app, old.id, correlation_id, now, policy, lambda p, v: _superseded(p, newest, now))


def _superseded(p: Promotion, newest: Promotion, now: datetime) -> Promotion | None:
    if p.state not in SUPERSEDABLE:
        return None
    return p.moved(State.SUPERSEDED, by=SYSTEM, at=now,
                   reason=f"superseded by {newest.revision.short} ({newest.id})").model_copy(
        update={"superseded_by": newest.id, "next_check_at": None})


def change(app: str, promo_id: str, correlation_id: str, now: datetime, policy: Policy, fn: Any,
           actor: str = SYSTEM) -> Promotion | None:
    """Apply ``fn(promotion, version) -> new promotion | None`` (a step: it names its effects, performs none):
    commit the new state, its effects, its other writes and its audit entries in one transaction conditional on
    the version read (retried on conflict), execute the effects, then announce. Returns what is stored.

    Effects left pending by an earlier step (a crash, a lost condition) are executed first: no step is taken on
    a promotion whose effects are not done."""
    for _ in range(5):
        p, version, effects = store.load_with_effects(app, promo_id)
        if p is None:
            return None
        if fx.pending(effects):
            execute(app, promo_id, policy, correlation_id)
            continue
        plan = _Plan()
        token = _PLAN.set(plan)
        try:
            changed = fn(p, version)
        finally:
            _PLAN.reset(token)
        if changed is None:
            return p
        writes = list(plan.writes)
        if _holds_slot(changed) and not _holds_slot(p):
            writes.append(store.take_deploy_slot(p.app, p.target_env, p.id))
        elif _holds_slot(p) and not _holds_slot(changed):
            writes.append(store.free_deploy_slot(p.app, p.target_env, p.id))
        try:
            saved = store.save(changed, version, effects=plan.effects, writes=writes,
                               audits=_audits(p, changed, actor, correlation_id))
        except Conflict:
            continue
        crashpoint("promotion.committed")
        latest, shown = _execute(app, promo_id, policy, correlation_id) if plan.effects else (changed, saved)
        latest, shown = (latest, shown) if latest is not None else (changed, saved)
        if changed.side == "target" and (changed.state is not p.state or changed.restored_at != p.restored_at) and (
                changed.state in (State.PROMOTED, State.FAILED, State.ROLLED_BACK)):
            emit_dora(changed.app, now)
        announce(latest, policy, correlation_id, shown)
        return latest
    raise Conflict(f"promotion {promo_id} kept changing under five attempts")


def _audits(p: Promotion, changed: Promotion, actor: str, correlation_id: str) -> list[AuditEntry]:
    """The audit entries of a step (a transition, or a rollback that restored service)."""
    if changed.state is not p.state:
        step = changed.history[-1] if changed.history else None
        return [_entry(changed, f"to_{changed.state}", Outcome.SUCCEEDED, actor=step.by if step else actor,
                       reason=step.reason if step else None, before={"state": str(p.state)},
                       correlation_id=correlation_id)]
    if changed.restored_at and not p.restored_at:
        back = changed.previous.short if changed.previous else "?"
        return [_entry(changed, "restored", Outcome.SUCCEEDED, reason=f"{back} runs again in {changed.target_env}",
                       correlation_id=correlation_id)]
    return []


# ---- executing a committed step's effects ----

def execute(app: str, promo_id: str, policy: Policy, correlation_id: str) -> Promotion | None:
    """Perform the promotion's pending effects (each once, however often this runs) and mark them done."""
    return _execute(app, promo_id, policy, correlation_id)[0]


def _execute(app: str, promo_id: str, policy: Policy, correlation_id: str) -> tuple[Promotion | None, int | None]:
    """``execute``, and the stored version of what it returns (its card's version)."""
    item = fx.execute(PromotionItem, f"promotion#{app}", f"promo#{promo_id}", _performer(policy, correlation_id),
                      capability="promotion")
    if item is None:
        return None, None
    return Promotion.model_validate(item.data), int(item.version)


def run_pending(policy: Policy, correlation_id: str) -> list[str]:
    """The tick's first duty: promotions left with pending effects (a crash between commit and execute)."""
    said = []
    for app, promo_id in store.with_effects_pending():
        p, version = _execute(app, promo_id, policy, correlation_id)
        if p is not None:
            announce(p, policy, correlation_id, version)
        said.append(f"{app} {promo_id}: effects done, {p.state if p else 'gone'}")
    return said


def _performer(policy: Policy, correlation_id: str) -> fx.Perform:
    def perform(item: Any, effect: fx.Effect) -> fx.Done:
        p = Promotion.model_validate(item.data)
        kind, params = effect.kind.removeprefix("promotion."), effect.params
        from chalicelib.decisions import service as approvals
        from chalicelib.slackkit import announcements

        if kind == "hand_off":  # the target creates the promotion once per id: a second hand-off is a duplicate
            announcements.send_to(policy, params["account"], Flow.RELEASE_CANDIDATE, params["payload"])
        elif kind == "ask":  # the decision id is pro-<id> / rbk-<id>: asking again finds the same decision
            from chalicelib.policy.schema import Role

            approvals.ask(**{**params, "role": Role(params["role"]), "deadline": datetime.fromisoformat(
                params["deadline"]) if params.get("deadline") else None})
        elif kind == "start_pipeline":  # the client request token starts one execution however often it is sent
            execution = pipelines.start_pinned(params["pipeline"], Deploy.model_validate(params["deploy"]),
                                               Revision.model_validate(params["revision"]), token=params["token"])
            role = params["role"]
            started = p.model_copy(update={"target_execution" if role == "deploy" else "rollback_execution":
                                           execution})
            return fx.Done(result={"execution": execution},
                           actions=[PromotionItem.data.set(started.model_dump(mode="json"))],
                           writes=[store.point_write(execution, app=p.app, promotion=p.id, role=role)],
                           index=store.index(started))
        elif kind == "answer_approval":  # answered only while its token still waits (GetPipelineState)
            answered = pipelines.answer_once(params["pipeline"], params["stage"], params["action"],
                                             params["execution"], params["token"], approved=params["approved"],
                                             summary=params["summary"])
            return fx.Done(result={"answered": answered}, index=store.index(p))
        else:
            raise fx.Failed(f"unknown promotion effect {effect.kind}", fx.Done(index=store.index(p)))
        return fx.Done(index=store.index(p))

    return perform


# ---- the source side: a pipeline in this account succeeded ----

def on_source_succeeded(policy: Policy, pipeline: str, execution_id: str, at: datetime, correlation_id: str,
                        now: datetime) -> list[str]:
    env = policy.account.environment
    said = []
    for app_name, app in sorted(policy.apps.items()):
        ref = app.pipelines.get(env)
        if ref is None or ref.name != pipeline or ref.account != policy.account.name:
            continue
        target_env = policy.promotion.next_environment(app_name, env)
        if target_env is None:
            said.append(f"{app_name}: {env} is the end of its path")
            continue
        settings = settings_for(policy, app_name)
        try:
            ex = pipelines.execution(pipeline, execution_id, str(settings.deploy.revision_type))
        except pipelines.NotFound as exc:  # an event for an execution CodePipeline does not know: retrying won't help
            audit.record(action="promotion.candidate", target=f"pipeline/{pipeline}", outcome=Outcome.REJECTED,
                         correlation_id=correlation_id, capability="promotion", reason=str(exc)[:1000])
            said.append(f"{app_name}: {exc}")
            continue
        if ex.revision is None:
            said.append(f"{app_name}: execution {execution_id} reports no artifact revision")
            continue
        p = new(policy, app_name, target_env, ex.revision, pipeline, execution_id, at, origin=execution_id,
                now=now)
        created, latest = start(p, policy, correlation_id, now)
        said.append(f"{app_name}: {'candidate' if created else 'duplicate'} {latest.id} {latest.state}")
    return said


def new(policy: Policy, app: str, target_env: str, revision: Revision, pipeline: str | None, execution: str | None,
        succeeded_at: datetime, *, origin: str, now: datetime, requester: str | None = None,
        skip_soak: bool = False) -> Promotion:
    source_env = policy.promotion.previous_environment(app, target_env) or policy.account.environment
    side = "target" if target_env == policy.account.environment else "source"
    return Promotion(id=store.promotion_id(app, target_env, origin), app=app, source_env=source_env,
                     target_env=target_env, side=side, revision=revision, source_pipeline=pipeline,
                     source_execution=execution, succeeded_at=succeeded_at, requester=requester,
                     skip_soak=skip_soak, created_at=now, updated_at=now)


# ---- the target side: a candidate handed over by the source account ----

class Malformed(ValueError):
    """A release candidate that does not describe a promotion (names what is wrong)."""


def on_candidate(policy: Policy, payload: dict[str, Any], correlation_id: str, now: datetime) -> str:
    from pydantic import ValidationError

    try:
        incoming = Promotion.model_validate(payload.get("promotion"))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'promotion'}: {e['msg']}"
                             for e in exc.errors()[:5])
        raise Malformed(f"malformed release candidate: {problems}") from None
    if incoming.target_env != policy.account.environment:
        return f"candidate for {incoming.target_env} delivered to {policy.account.environment}: ignored"
    if incoming.app not in policy.promotion.paths:
        return f"app '{incoming.app}' has no promotion path here: ignored"
    p = incoming.model_copy(update={
        "side": "target", "state": State.PENDING, "history": [], "gates": [], "source_gates": incoming.gates,
        "next_check_at": None, "updated_at": now, "created_at": incoming.created_at})
    created, latest = start(p, policy, correlation_id, now)
    return f"{'candidate' if created else 'duplicate'} {latest.id} {latest.state}"


# ---- advancing one promotion ----

def advance(app: str, promo_id: str, *, correlation_id: str, now: datetime | None = None,
            policy: Policy | None = None, alarm: str | None = None) -> Promotion | None:
    """Take a promotion as far as its facts allow now. Safe to call any number of times."""
    now = now or datetime.now(UTC)
    policy = policy or policies.current()
    read: list[State] = []  # the states change() read (the last one counts: a conflict reads again)

    def step(p: Promotion, version: int) -> Promotion | None:
        read.append(p.state)
        return _step(p, policy, correlation_id, now, alarm) if p.watched else None

    latest = None
    for _ in range(8):  # a promotion can pass several states at once (pending -> soaking -> handed over)
        latest = change(app, promo_id, correlation_id, now, policy, step)
        if latest is None or latest.state is read[-1]:  # gone, or it stays where it is for now
            return latest
    return latest


def _wait(p: Promotion, results: list[gates.Gate], now: datetime) -> Promotion | None:
    found = [_gate_dict(g) for g in results]
    until = gates.next_check(results)
    check_at = until or now + RETRY
    if found == p.gates and p.next_check_at == check_at:
        return None
    return p.model_copy(update={"gates": found, "next_check_at": check_at, "updated_at": now})


def _gate_dict(g: gates.Gate) -> dict[str, Any]:
    return {"name": g.name, "status": str(g.status), "reason": g.reason,
            "until": g.until.isoformat() if g.until else None}


def _step(p: Promotion, policy: Policy, correlation_id: str, now: datetime, alarm: str | None) -> Promotion | None:
    settings = settings_for(policy, p.app)
    if p.side == "source":
        return _source_step(p, policy, settings, correlation_id, now)
    return _target_step(p, policy, settings, correlation_id, now, alarm)


def _source_step(p: Promotion, policy: Policy, settings: Resolved, correlation_id: str,
                 now: datetime) -> Promotion | None:
    if p.state is State.PENDING:
        soak_end = p.succeeded_at + timedelta(seconds=settings.soak_seconds)
        why = "soak skipped by an admin" if p.skip_soak else f"soaking {settings.soak} in {p.source_env}"
        return p.moved(State.SOAKING, by=p.requester or SYSTEM, at=now, reason=why).model_copy(
            update={"next_check_at": now if p.skip_soak else max(now, soak_end)})
    if p.state is not State.SOAKING:
        return None
    url = settings.health_checks.get(p.source_env)
    found = gates.SourceFacts(
        now=now, succeeded_at=p.succeeded_at, skip_soak=p.skip_soak, skipped_by=p.requester if p.skip_soak else None,
        alarms_in_alarm=facts.alarms_in_alarm(settings.alarms),
        last_alarm_at=store.last_alarm(p.app, p.source_env),
        health=facts.health(url, _seconds(settings.health_timeout)) if url else None)
    results = gates.source_gates(settings, found)
    if gates.verdict(results) is not gates.Status.PASS:
        return _wait(p, results, now)
    passed = [_gate_dict(g) for g in results]
    handed = p.model_copy(update={"gates": passed})
    _effect("hand_off", account=_account_of(policy, p.target_env),
            payload={"promotion": handed.model_dump(mode="json")})
    return handed.moved(State.HANDED_OFF, by=SYSTEM, at=now,
                        reason=f"gates passed in {p.source_env}; handed to {p.target_env}").model_copy(
        update={"next_check_at": None})


def _continues(p: Promotion, policy: Policy) -> dict[str, Any]:
    """The target side's card goes on in the message the source account posted: one card per promotion."""
    source = _account_named(policy, p.source_env) if p.side == "target" else None
    return {"continues": source} if source and source != policy.account.name else {}


def _grant(p: Promotion, policy: Policy) -> dict[str, Any]:
    """The source side's card may be taken over by the account of the target environment, and by no other: the
    front door honours the target's ``continues`` only with this grant from the card's owner."""
    target = _account_named(policy, p.target_env) if p.side == "source" else None
    return {"grant_to": target} if target and target != policy.account.name else {}


def _account_named(policy: Policy, environment: str) -> str | None:
    """The account (this one or a peer) that runs ``environment``."""
    return next((name for name, (_, env) in sorted(policy.accounts().items()) if env == environment), None)


def _account_of(policy: Policy, environment: str) -> str:
    for name, peer in sorted(policy.peers.items()):
        if peer.environment == environment and Flow.RELEASE_CANDIDATE in peer.send:
            return name
    raise RuntimeError(f"policy names no peer for '{environment}' that this account may send release candidates to")


def _target_facts(p: Promotion, policy: Policy, settings: Resolved, now: datetime) -> gates.TargetFacts:
    return gates.TargetFacts(
        now=now, requester=p.requester, author=p.revision.author, hold=facts.hold(p.app),
        freezes=facts.active_freezes(policy, p.target_env, now),
        open_incidents=facts.open_incidents(p.app) if settings.block_on_incident else (),
        approvals_required=settings.approvals.count, approvals=tuple(p.approvals), rejected_by=p.rejected_by,
        reject_reason=p.reject_reason, expired=p.expired, awaiting_since=p.awaiting_since,
        bad=store.bad(p.app, p.revision.id))


def _target_step(p: Promotion, policy: Policy, settings: Resolved, correlation_id: str, now: datetime,
                 alarm: str | None) -> Promotion | None:
    if p.state is State.PENDING:
        return p.moved(State.AWAITING_APPROVAL, by=SYSTEM, at=now,
                       reason=f"candidate from {p.source_env}: checking gates in {p.target_env}").model_copy(
            update={"awaiting_since": now, "next_check_at": now})
    if p.state is State.HELD:
        if facts.hold(p.app) is not None:
            return None
        resumed = p.held_from or State.AWAITING_APPROVAL
        return p.moved(resumed, by=SYSTEM, at=now, reason="hold lifted").model_copy(
            update={"held_from": None, "next_check_at": now})
    if p.state in (State.AWAITING_APPROVAL, State.APPROVED):
        return _gate_and_deploy(p, policy, settings, correlation_id, now)
    if p.state is State.DEPLOYING:
        return _check_deploy(p, settings, now)
    if p.state is State.VERIFYING:
        return _verify(p, policy, settings, now, alarm)
    if p.state is State.FAILED:
        return _roll_back(p, policy, settings, correlation_id, now)
    if p.state is State.ROLLED_BACK and p.watched:
        if settings.deploy.mode is Mode.APPROVAL and _answer_rollback_approval(p, settings):
            return p.model_copy(update={"next_check_at": now + STUCK, "updated_at": now})
        if p.updated_at + STUCK > now:
            return None if p.next_check_at else p.model_copy(update={"next_check_at": p.updated_at + STUCK})
        ex = pipelines.execution(p.target_pipeline or "", p.rollback_execution or "")
        return rollback_finished(p, ex.status, now)
    return None


def _answer_rollback_approval(p: Promotion, settings: Resolved) -> bool:
    """Approval mode: the rollback run stops at the Manual Approval action like any run; it is the run
    Switchboard itself started to restore service, so it is answered at once (the rollback was decided)."""
    deploy = settings.deploy
    waiting = pipelines.waiting_approval(p.target_pipeline or "", deploy.stage or "", deploy.action or "")
    if waiting is None or waiting.execution_id != p.rollback_execution:
        return False
    _effect("answer_approval", pipeline=p.target_pipeline or "", stage=deploy.stage or "", action=deploy.action or "",
            execution=waiting.execution_id, token=waiting.token, approved=True,
            summary=f"Switchboard: rollback of {p.revision.short} to {p.previous.short if p.previous else '?'} "
                    f"(promotion {p.id})")
    return True


def _gate_and_deploy(p: Promotion, policy: Policy, settings: Resolved, correlation_id: str,
                     now: datetime) -> Promotion | None:
    found = _target_facts(p, policy, settings, now)
    if found.hold is not None:
        return p.moved(State.HELD, by=found.hold.by, at=now, reason=f"held: {found.hold.reason}").model_copy(
            update={"held_from": p.state, "next_check_at": now + RETRY * 5,
                    "gates": [_gate_dict(g) for g in gates.target_gates(settings, found)]})
    results = gates.target_gates(settings, found)
    verdict = gates.verdict(results)
    if verdict is gates.Status.FAIL:
        failed = next(g for g in results if g.status is gates.Status.FAIL)
        rejected = p.moved(State.REJECTED, by=p.rejected_by or SYSTEM, at=now, reason=failed.reason).model_copy(
            update={"gates": [_gate_dict(g) for g in results], "next_check_at": None,
                    "reject_reason": p.reject_reason or failed.reason})
        _reject_waiting(rejected, policy, settings, failed.reason)
        return rejected
    approval = next(g for g in results if g.name == "approval")
    if approval.status is gates.Status.WAIT and p.decision_id is None:
        decision_id = _ask(p, policy, settings, results, correlation_id, now)
        return p.model_copy(update={"decision_id": decision_id, "gates": [_gate_dict(g) for g in results],
                                    "next_check_at": now + RETRY * 5})
    if approval.status is gates.Status.PASS and p.state is State.AWAITING_APPROVAL:
        why = approval.reason
        return p.moved(State.APPROVED, by=(p.approvals or [SYSTEM])[-1], at=now, reason=why).model_copy(
            update={"gates": [_gate_dict(g) for g in results], "next_check_at": now})
    if verdict is not gates.Status.PASS:
        return _wait(p, results, now)
    return _deploy(p, policy, settings, results, now)


def _ask(p: Promotion, policy: Policy, settings: Resolved, results: list[gates.Gate], correlation_id: str,
         now: datetime) -> str:
    from chalicelib.policy.schema import Role

    app = policy.apps[p.app]
    decision_id = f"{DECISION_PREFIX}{p.id}"
    shown = p.model_copy(update={"gates": [_gate_dict(g) for g in results]})
    _effect("ask", capability="promotion", title=f"Promote {p.app} {p.revision.short} to {p.target_env}",
            summary=messages.text(shown), environment=p.target_env, requester=p.requester or SYSTEM,
            author=p.revision.author, channel=app.channel,
            subject={"app": p.app, "id": p.id, "revision": p.revision.id, "environment": p.target_env},
            correlation_id=correlation_id, role=str(Role.APPROVER), decision_id=decision_id,
            required=settings.approvals.count, group=settings.approvals.group, four_eyes=True,
            deadline=(now + timedelta(seconds=settings.approval_expiry_seconds)).isoformat(),
            key=f"promotion:{p.id}", blocks=messages.body(shown), **_continues(p, policy))
    return decision_id


def _deploy(p: Promotion, policy: Policy, settings: Resolved, results: list[gates.Gate],
            now: datetime) -> Promotion | None:
    pipeline = policy.apps[p.app].pipelines[p.target_env].name
    other = store.deploying(p.app, p.target_env)
    if other is not None and other != p.id:  # one deploy at a time per app and environment
        why = f"promotion {other} is deploying {p.app} in {p.target_env}: one deploy at a time"
        return _wait(p, [*results, gates.Gate("deploy slot", gates.Status.WAIT, why)], now)
    previous = store.current(p.app, p.target_env)
    extra: dict[str, Any] = {"target_pipeline": pipeline, "deploying_at": now, "next_check_at": now + STUCK,
                             "gates": [_gate_dict(g) for g in results]}
    if previous is not None:
        extra |= {"previous": Revision.model_validate(previous["revision"]), "previous_id": previous["promotion"]}
    if settings.deploy.mode is Mode.TRIGGER:  # the execution id is recorded when the start is done
        _effect("start_pipeline", pipeline=pipeline, deploy=settings.deploy.model_dump(mode="json"),
                revision=p.revision.model_dump(mode="json"), token=f"promote-{p.id}", role="deploy")
        execution = None
        reason = f"started {pipeline} pinned to {p.revision.short}"
    else:
        deploy = settings.deploy
        waiting = pipelines.waiting_approval(pipeline, deploy.stage or "", deploy.action or "")
        matches = waiting is not None and _revision_of(pipeline, waiting.execution_id, settings) == p.revision.id
        if waiting is None or not matches:
            where = f"{pipeline} {deploy.stage}/{deploy.action}"
            why = (f"waiting for {where} to wait for approval of {p.revision.short}" if waiting is None else
                   f"{where} waits with another revision; waiting for {p.revision.short}")
            return _wait(p, [*results, gates.Gate("pipeline", gates.Status.WAIT, why)], now)
        summary = (f"Switchboard: {p.revision.short} approved by " + (", ".join(p.approvals) or "policy")
                   + f"; gates passed (promotion {p.id})")
        _effect("answer_approval", pipeline=pipeline, stage=deploy.stage or "", action=deploy.action or "",
                execution=waiting.execution_id, token=waiting.token, approved=True, summary=summary)
        execution = waiting.execution_id
        reason = f"approved {pipeline} {deploy.stage}/{deploy.action} for {p.revision.short}"
        _write(store.point_write(execution, app=p.app, promotion=p.id, role="deploy"))
    return p.moved(State.DEPLOYING, by=SYSTEM, at=now, reason=reason).model_copy(
        update={"target_execution": execution, **extra})


def _revision_of(pipeline: str, execution_id: str, settings: Resolved) -> str | None:
    ex = pipelines.execution(pipeline, execution_id, str(settings.deploy.revision_type))
    return ex.revision.id if ex.revision else None


def _reject_waiting(p: Promotion, policy: Policy, settings: Resolved, reason: str) -> None:
    """Approval mode: the execution waiting with this revision is answered Rejected, with the reason."""
    if settings.deploy.mode is not Mode.APPROVAL:
        return
    ref = policy.apps[p.app].pipelines.get(p.target_env)
    if ref is None:
        return
    deploy = settings.deploy
    waiting = pipelines.waiting_approval(ref.name, deploy.stage or "", deploy.action or "")
    if waiting is not None and _revision_of(ref.name, waiting.execution_id, settings) == p.revision.id:
        _effect("answer_approval", pipeline=ref.name, stage=deploy.stage or "", action=deploy.action or "",
                execution=waiting.execution_id, token=waiting.token, approved=False,
                summary=f"Switchboard: {reason} (promotion {p.id})")


def _check_deploy(p: Promotion, settings: Resolved, now: datetime) -> Promotion | None:
    """No news of the deploy for a while: ask CodePipeline (events can be lost; this is the reconcile)."""
    if p.deploying_at and now < p.deploying_at + STUCK:
        return None
    ex = pipelines.execution(p.target_pipeline or "", p.target_execution or "", str(settings.deploy.revision_type))
    moved = execution_changed(p, ex.status, now, now, settings)
    return moved or p.model_copy(update={"next_check_at": now + STUCK})


def execution_changed(p: Promotion, status: str, now: datetime, at: datetime,
                      settings: Resolved) -> Promotion | None:
    """The deploy execution reported ``status`` (an event or a read): move if that is news."""
    dst = on_execution(p.state, status)
    if dst is None:
        return None
    if dst is State.VERIFYING:
        bake = settings.bake_seconds
        return p.moved(dst, by=SYSTEM, at=now, reason=f"{p.target_pipeline} succeeded; baking").model_copy(
            update={"deployed_at": at, "next_check_at": at + timedelta(seconds=bake)})
    if dst is State.FAILED:
        return p.moved(dst, by=SYSTEM, at=now, reason=f"{p.target_pipeline} {status.lower()}").model_copy(
            update={"failed_at": at, "failure": f"{p.target_pipeline} execution {status.lower()}",
                    "next_check_at": now})
    if dst in (State.SUPERSEDED, State.CANCELED):  # CodePipeline ended our run: not the revision's failure
        return p.moved(dst, by=SYSTEM, at=now, reason=f"{p.target_pipeline} run {dst} by CodePipeline: not a "
                       f"failure (nothing marked bad, nothing rolled back)").model_copy(update={"next_check_at": None})
    return p.moved(dst, by=SYSTEM, at=now, reason=f"{p.target_pipeline} {status.lower()}")


def _verify(p: Promotion, policy: Policy, settings: Resolved, now: datetime, alarm: str | None) -> Promotion | None:
    deployed = p.deployed_at or now
    bake_end = deployed + timedelta(seconds=settings.bake_seconds)
    in_alarm = set(facts.alarms_in_alarm(settings.alarms)) | ({alarm} if alarm else set())
    url = settings.health_checks.get(p.target_env)
    health = facts.health(url, _seconds(settings.health_timeout)) if url and now >= bake_end else None
    result = gates.verify(settings, gates.VerifyFacts(now=now, deployed_at=deployed,
                                                      alarms_in_alarm=tuple(sorted(in_alarm)), health=health))
    others = [g for g in p.gates if g.get("name") != "bake"]
    if result.status is gates.Status.WAIT:
        return _wait(p, [_gate_from(g) for g in others] + [result], now)
    if result.status is gates.Status.FAIL:
        return p.moved(State.FAILED, by=SYSTEM, at=now, reason=result.reason).model_copy(
            update={"failed_at": now, "failure": result.reason, "gates": [*others, _gate_dict(result)],
                    "next_check_at": now})
    ran = _ran(p.target_pipeline, p.target_execution, str(settings.deploy.revision_type))
    _write(store.current_write(p.app, p.target_env, revision=ran or p.revision, promotion=p.id, at=now))
    if ran is not None and ran.id != p.revision.id:  # what runs is recorded as it is, never as it was meant
        why = f"{p.target_pipeline} run {p.target_execution} deployed {ran.short}, not {p.revision.short}"
        return p.moved(State.FAILED, by=SYSTEM, at=now, reason=why).model_copy(
            update={"failed_at": now, "failure": why, "gates": [*others, _gate_dict(result)], "next_check_at": now})
    return p.moved(State.PROMOTED, by=SYSTEM, at=now, reason=result.reason).model_copy(
        update={"promoted_at": now, "gates": [*others, _gate_dict(result)], "next_check_at": None})


def _ran(pipeline: str | None, execution: str | None, revision_type: str = "COMMIT_ID") -> Revision | None:
    """The revision a run actually deployed, read back from CodePipeline (None when it cannot say)."""
    if not pipeline or not execution or execution == STARTING:
        return None
    try:
        return pipelines.execution(pipeline, execution, revision_type).revision
    except pipelines.NotFound:
        return None


def _gate_from(d: dict[str, Any]) -> gates.Gate:
    return gates.Gate(d["name"], gates.Status(d["status"]), d["reason"],
                      datetime.fromisoformat(d["until"]) if d.get("until") else None)


def _roll_back(p: Promotion, policy: Policy, settings: Resolved, correlation_id: str,
               now: datetime) -> Promotion | None:
    """A failed promotion: mark the revision bad, then redeploy the last promoted one (auto) or offer it (notify)."""
    if store.bad(p.app, p.revision.id) is None:
        _write(store.bad_write(p.app, p.revision.id, why=p.failure or "failed in " + p.target_env, at=now))
    if p.previous is None:
        if p.next_check_at and p.next_check_at > now + IDLE / 2 and not _plan().writes:
            return None
        return p.model_copy(update={"next_check_at": now + IDLE, "failure": (p.failure or "failed")
                                    + f"; nothing to roll back to (no earlier promotion in {p.target_env})"})
    auto = settings.rollback is Rollback.AUTO and settings.deploy.mode is Mode.TRIGGER
    if not auto:
        if p.rollback_decision is not None:
            return None if p.next_check_at and p.next_check_at > now and not _plan().writes else p.model_copy(
                update={"next_check_at": max(now + IDLE, p.next_check_at or now)})
        from chalicelib.policy.schema import Role

        decision_id = f"{ROLLBACK_PREFIX}{p.id}"
        _effect("ask", capability="promotion", title=f"Roll back {p.app} in {p.target_env} to {p.previous.short}",
                summary=f"{p.revision.short} failed: {p.failure or 'failed'}", environment=p.target_env,
                requester=SYSTEM, channel=policy.apps[p.app].channel,
                subject={"app": p.app, "id": p.id, "rollback": True, "to": p.previous.id},
                correlation_id=correlation_id,
                role=str(Role.OPERATOR), decision_id=decision_id, key=f"promotion:{p.id}",
                blocks=messages.body(p))
        return p.model_copy(update={"rollback_decision": decision_id, "next_check_at": now + IDLE})
    return redeploy_previous(p, policy, settings, now, by=SYSTEM)


def redeploy_previous(p: Promotion, policy: Policy, settings: Resolved, now: datetime, *, by: str) -> Promotion:
    assert p.previous is not None
    pipeline = p.target_pipeline or policy.apps[p.app].pipelines[p.target_env].name
    other = store.deploying(p.app, p.target_env)
    if other is not None and other != p.id:  # a newer deploy runs: redeploying the old revision would undo it
        return p.model_copy(update={"failure": (p.failure or "failed") + f"; not rolled back: promotion {other} "
                                    f"deploys {p.app} in {p.target_env} now", "next_check_at": now + IDLE,
                                    "rollback_decision": None, "updated_at": now})
    deploy = settings.deploy
    if deploy.mode is Mode.APPROVAL:  # the rollback run stops at the approval action too: answered on arrival
        deploy = deploy.model_copy(update={"mode": Mode.TRIGGER})
    _effect("start_pipeline", pipeline=pipeline, deploy=deploy.model_dump(mode="json"),
            revision=p.previous.model_dump(mode="json"), token=f"rollback-{p.id}", role="rollback")
    return p.moved(State.ROLLED_BACK, by=by, at=now,
                   reason=f"redeploying {p.previous.short} with {pipeline}").model_copy(
        update={"rollback_execution": STARTING, "target_pipeline": pipeline, "next_check_at": now + STUCK})


def rollback_finished(p: Promotion, status: str, now: datetime) -> Promotion | None:
    if p.restored_at is not None or p.previous is None:
        return None
    if status in ("SUCCEEDED", "Succeeded"):  # what the rollback run deployed, read back (else what it was asked)
        ran = _ran(p.target_pipeline, p.rollback_execution, p.previous.type) or p.previous
        _write(store.current_write(p.app, p.target_env, revision=ran, promotion=p.previous_id or p.id, at=now))
        return p.model_copy(update={"restored_at": now, "next_check_at": None, "updated_at": now})
    if status in ("FAILED", "Failed", "CANCELED", "Cancelled", "STOPPED", "Stopped", "SUPERSEDED", "Superseded"):
        return p.model_copy(update={"failure": (p.failure or "") + f"; the rollback run {status.lower()}: act by hand",
                                    "next_check_at": None, "updated_at": now, "rollback_execution": None})
    return None


def _seconds(duration: str) -> float:
    return float(seconds(duration))
