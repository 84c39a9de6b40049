"""The promotion capability's items in the shared state table (``switchboard-state``), one partition per app.

===============================  ===================  ===========================================================
PK                               SK                   what
===============================  ===================  ===========================================================
``promotion#<app>``              ``promo#<id>``       one promotion (``data``: the ``Promotion`` model) with a
                                                      ``version`` every write is conditional on; while it is not
                                                      terminal also in GSI ``gsi1``: PK ``promotion#active``, SK
                                                      ``<next check>#<app>#<id>`` (the reconcile tick's work list)
``promotion#<app>``              ``hold``             ``/ops hold``: who, why, when (deleted by ``/ops unhold``)
``promotion#<app>``              ``bad#<revision>``   a revision rolled back: never promoted automatically again
``promotion#<app>``              ``alarm#<env>``      when a watched alarm of the app was last in ALARM here
``promotion#<app>``              ``current#<env>``    what runs in the environment: revision, promotion, since
``promotion#<app>``              ``deploying#<env>``  the one promotion deploying the app there (a deploy, its
                                                      bake, its rollback run): put with a condition when it starts
                                                      deploying, deleted when it ends (one deploy at a time)
``promotion#exec#<execution>``   ``pointer``          the promotion a pipeline execution belongs to (deploy or
                                                      rollback), so a pipeline event finds it with one GetItem
===============================  ===================  ===========================================================

While a promotion's ``effects`` (chalicelib/state/effects.py) are pending, its ``gsi1`` entry is PK
``effects#pending``, SK ``promotion#<at>#promotion#<app>#promo#<id>`` instead of ``promotion#active``: the tick
executes them before it advances anything.

The same promotion id is used by the source account's copy and the target account's copy (it is derived from the
app, the target environment and the source execution, or the Slack request that asked for it), so a hand-off
delivered twice creates one promotion. Times are UTC ISO-8601 strings of one width, so they sort as text.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.models import Model

from chalicelib.promotion.machine import TERMINAL, State, check
from chalicelib.state import effects as fx
from chalicelib.state.keys import conditional_failed, parse_stamp, stamp
from chalicelib.state.models import AuditEntry, StateIndex, StateItem

_META = StateItem.Meta
ACTIVE = "promotion#active"


def promotion_id(app: str, target_env: str, origin: str) -> str:
    """A short id both accounts derive alike: ``origin`` is the source execution id or the Slack request id."""
    return hashlib.sha256(f"{app}|{target_env}|{origin}".encode()).hexdigest()[:10]


class Revision(BaseModel):
    id: str  # commit id / image digest / object version
    type: str = "COMMIT_ID"
    name: str | None = None  # the artifact's name in the pipeline
    summary: str | None = None  # the commit message
    author: str | None = None
    url: str | None = None
    committed_at: datetime | None = None

    @property
    def short(self) -> str:
        return self.id.removeprefix("sha256:")[:7] if self.type != "S3_OBJECT_VERSION_ID" else self.id[:12]


class Step(BaseModel):
    """One transition, kept on the promotion: from, to, when, who (a Slack user or ``system``) and why."""

    src: str
    dst: str
    at: datetime
    by: str
    reason: str


class Promotion(BaseModel):
    id: str
    app: str
    source_env: str
    target_env: str
    side: str  # "source": this account soaks and hands over; "target": this account approves, deploys, verifies
    state: State = State.PENDING
    held_from: State | None = None
    revision: Revision
    source_pipeline: str | None = None
    source_execution: str | None = None
    succeeded_at: datetime  # the source pipeline execution succeeded: soak starts here
    requester: str | None = None  # a Slack user for `/ops promote`, None when Switchboard started it
    skip_soak: bool = False
    created_at: datetime
    updated_at: datetime
    next_check_at: datetime | None = None
    gates: list[dict[str, Any]] = Field(default_factory=list)  # the latest gate results (name, status, reason)
    source_gates: list[dict[str, Any]] = Field(default_factory=list)  # as the source account last saw them
    decision_id: str | None = None
    approvals: list[str] = Field(default_factory=list)
    rejected_by: str | None = None
    reject_reason: str | None = None
    expired: bool = False
    awaiting_since: datetime | None = None
    target_pipeline: str | None = None
    target_execution: str | None = None
    deploying_at: datetime | None = None
    deployed_at: datetime | None = None
    previous: Revision | None = None  # what ran in the target before (what a rollback redeploys)
    previous_id: str | None = None
    promoted_at: datetime | None = None
    failed_at: datetime | None = None
    failure: str | None = None
    rollback_execution: str | None = None
    rollback_decision: str | None = None
    restored_at: datetime | None = None
    superseded_by: str | None = None
    history: list[Step] = Field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def watched(self) -> bool:
        """Still something to look at: not terminal, or a rollback still redeploying."""
        return not self.terminal or (self.state is State.ROLLED_BACK and self.rollback_execution is not None
                                     and self.restored_at is None)

    def moved(self, dst: State, *, by: str, reason: str, at: datetime) -> Promotion:
        """A copy in ``dst`` (checked against the state machine) with the step recorded."""
        check(self.state, dst)
        step = Step(src=str(self.state), dst=str(dst), at=at, by=by, reason=reason[:1000])
        return self.model_copy(update={"state": dst, "updated_at": at, "history": [*self.history, step][-50:]})


class PromotionItem(Model):
    class Meta(_META):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    version = NumberAttribute(default=0)
    state = UnicodeAttribute(null=True)
    data = JSONAttribute(null=True)
    at = UnicodeAttribute(null=True)  # alarm#<env>: the newest ALARM time (compared in a condition)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    effects = UnicodeAttribute(null=True)  # JSON: the effects of the last step (chalicelib/state/effects.py)

    active = StateIndex()


class Conflict(fx.Conflict):
    """Someone else wrote the promotion since it was read: read it again and decide again."""


def _pk(app: str) -> str:
    return f"promotion#{app}"


def _sk(promo_id: str) -> str:
    return f"promo#{promo_id}"


def load(app: str, promo_id: str) -> tuple[Promotion | None, int]:
    p, version, _ = load_with_effects(app, promo_id)
    return p, version


def load_with_effects(app: str, promo_id: str) -> tuple[Promotion | None, int, list[fx.Effect]]:
    """The promotion, its version, and the effects of its last step (pending ones are still to be performed)."""
    try:
        item = PromotionItem.get(_pk(app), _sk(promo_id), consistent_read=True)
    except PromotionItem.DoesNotExist:
        return None, 0, []
    return Promotion.model_validate(item.data), int(item.version), fx.load(item.effects)


def index(p: Promotion) -> tuple[str | None, str | None]:
    """The promotion's own ``gsi1`` keys: the reconcile tick's work list while it is watched."""
    if not p.watched:
        return None, None
    when = p.next_check_at or p.updated_at
    return ACTIVE, f"{stamp(when)}#{p.app}#{p.id}"


_index = index


def _keys(p: Promotion, effects: list[fx.Effect]) -> tuple[str | None, str | None]:
    if fx.pending(effects):
        return fx.pending_index("promotion", p.updated_at, _pk(p.app), _sk(p.id))
    return index(p)


def create(p: Promotion, *, effects: list[fx.Effect] = (), writes: list[fx.Write] = (),  # type: ignore[assignment]
           audits: list[AuditEntry] = ()) -> bool:  # type: ignore[assignment]
    """Store a new promotion (with its audit entries, in one transaction); False when one with this id exists
    already (a duplicate hand-off or event)."""
    gsi1pk, gsi1sk = _keys(p, list(effects))
    item = PromotionItem(_pk(p.app), _sk(p.id), version=1, state=str(p.state), data=p.model_dump(mode="json"),
                         gsi1pk=gsi1pk, gsi1sk=gsi1sk, effects=fx.dump(effects) if effects else None)
    try:
        fx.commit([fx.Write(item, condition=PromotionItem.pk.does_not_exist()), *writes], audits)
    except fx.Conflict:
        return False
    _feed(p, 1, list(writes))
    return True


def _feed(p: Promotion, version: int, writes: list[fx.Write]) -> None:
    """Tell the console (chalicelib/console/feed.py) what this promotion looks like now, and what runs where when
    the step's transaction changed it (``current#<env>``)."""
    from chalicelib.console import feed, records

    feed.publish(feed.build(lambda: records.promotion(p, version, **feed.here())))
    for w in writes:
        if not w.delete and w.actions is None and str(w.item.sk).startswith("current#"):
            data = dict(w.item.data)
            env = str(w.item.sk).removeprefix("current#")
            feed.publish(feed.build(lambda data=data, env=env: records.current(
                p.app, env, Revision.model_validate(data["revision"]), data["promotion"], parse_stamp(data["since"]),
                account=feed.here()["account"])))


def save(p: Promotion, version: int, *, effects: list[fx.Effect] = (),  # type: ignore[assignment]
         writes: list[fx.Write] = (), audits: list[AuditEntry] = ()) -> int:  # type: ignore[assignment]
    """Write ``p`` over the version that was read, with the step's pending effects, the other items it changes and
    its audit entries, all in one transaction; raises ``Conflict`` when that version is no longer the stored one
    (or another condition of the step does not hold: e.g. someone else took the deploy slot)."""
    gsi1pk, gsi1sk = _keys(p, list(effects))
    item = PromotionItem(_pk(p.app), _sk(p.id))
    actions = [PromotionItem.version.set(version + 1), PromotionItem.state.set(str(p.state)),
               PromotionItem.data.set(p.model_dump(mode="json")), PromotionItem.effects.set(fx.dump(effects))]
    actions += ([PromotionItem.gsi1pk.set(gsi1pk), PromotionItem.gsi1sk.set(gsi1sk)] if gsi1pk
                else [PromotionItem.gsi1pk.remove(), PromotionItem.gsi1sk.remove()])
    try:
        fx.commit([fx.Write(item, actions, PromotionItem.version == version), *writes], audits)
    except fx.Conflict as exc:
        raise Conflict(f"promotion {p.id} changed since it was read") from exc
    _feed(p, version + 1, list(writes))
    return version + 1


def with_effects_pending() -> list[tuple[str, str]]:
    """(app, id) of promotions whose effects are pending (a crash left them, or a conflict): the tick runs them."""
    return [(pk.removeprefix("promotion#"), sk.removeprefix("promo#"))
            for pk, sk in fx.waiting(PromotionItem, PromotionItem.active, "promotion")]


def of_app(app: str) -> list[Promotion]:
    """Every promotion of an app (newest first)."""
    found = [Promotion.model_validate(i.data) for i in
             PromotionItem.query(_pk(app), PromotionItem.sk.startswith("promo#"), consistent_read=True)]
    return sorted(found, key=lambda p: p.created_at, reverse=True)


def due(now: datetime) -> list[tuple[str, str]]:
    """(app, id) of promotions whose next check has come."""
    found = PromotionItem.active.query(ACTIVE, PromotionItem.gsi1sk <= f"{stamp(now)}~")
    return [tuple(i.gsi1sk.split("#", 1)[1].split("#", 1)) for i in found]  # type: ignore[misc]


# ---- small facts next to the promotions ----

def _get(pk: str, sk: str) -> dict[str, Any] | None:
    try:
        return PromotionItem.get(pk, sk, consistent_read=True).data
    except PromotionItem.DoesNotExist:
        return None


def _put(pk: str, sk: str, data: dict[str, Any]) -> None:
    PromotionItem(pk, sk, data=data).save()


def hold_of(app: str) -> dict[str, Any] | None:
    return _get(_pk(app), "hold")


def set_hold(app: str, *, by: str, reason: str, at: datetime) -> bool:
    """Put a hold; False when the app is already held (the first hold and its reason stay)."""
    try:
        PromotionItem(_pk(app), "hold", data={"by": by, "reason": reason, "at": stamp(at)}).save(
            condition=PromotionItem.pk.does_not_exist())
    except PutError as exc:
        if conditional_failed(exc):
            return False
        raise
    return True


def clear_hold(app: str) -> dict[str, Any] | None:
    """Remove the hold; returns what it was (None: there was none)."""
    was = hold_of(app)
    if was is None:
        return None
    try:
        PromotionItem(_pk(app), "hold").delete(condition=PromotionItem.pk.exists())
    except DeleteError as exc:
        if conditional_failed(exc):
            return None
        raise
    return was


def mark_bad(app: str, revision: str, *, why: str, at: datetime) -> None:
    _put(_pk(app), f"bad#{revision}", {"why": why, "at": stamp(at)})


def bad(app: str, revision: str) -> str | None:
    found = _get(_pk(app), f"bad#{revision}")
    return found["why"] if found else None


def note_alarm(app: str, env: str, at: datetime) -> None:
    """Remember the newest time a watched alarm was in ALARM (a late, older event never moves it back)."""
    item = PromotionItem(_pk(app), f"alarm#{env}")
    when = stamp(at)
    try:
        item.update(actions=[PromotionItem.at.set(when)],
                    condition=PromotionItem.at.does_not_exist() | (PromotionItem.at < when))
    except UpdateError as exc:
        if not conditional_failed(exc):
            raise


def last_alarm(app: str, env: str) -> datetime | None:
    try:
        item = PromotionItem.get(_pk(app), f"alarm#{env}", consistent_read=True)
    except PromotionItem.DoesNotExist:
        return None
    return parse_stamp(item.at) if item.at else None


def current(app: str, env: str) -> dict[str, Any] | None:
    return _get(_pk(app), f"current#{env}")


def set_current(app: str, env: str, *, revision: Revision, promotion: str, at: datetime) -> None:
    _put(_pk(app), f"current#{env}", {"revision": revision.model_dump(mode="json"), "promotion": promotion,
                                      "since": stamp(at)})
    from chalicelib.console import feed, records

    feed.publish(feed.build(lambda: records.current(app, env, revision, promotion, at,
                                                    account=feed.here()["account"])))


def point(execution_id: str, *, app: str, promotion: str, role: str) -> None:
    point_write(execution_id, app=app, promotion=promotion, role=role).item.save()


# ---- the same writes, as parts of a step's transaction ----

def point_write(execution_id: str, *, app: str, promotion: str, role: str) -> fx.Write:
    return fx.Write(PromotionItem(f"promotion#exec#{execution_id}", "pointer",
                                  data={"app": app, "promotion": promotion, "role": role}))


def current_write(app: str, env: str, *, revision: Revision, promotion: str, at: datetime) -> fx.Write:
    return fx.Write(PromotionItem(_pk(app), f"current#{env}", data={
        "revision": revision.model_dump(mode="json"), "promotion": promotion, "since": stamp(at)}))


def bad_write(app: str, revision: str, *, why: str, at: datetime) -> fx.Write:
    return fx.Write(PromotionItem(_pk(app), f"bad#{revision}", data={"why": why, "at": stamp(at)}))


def deploying(app: str, env: str) -> str | None:
    """The promotion deploying ``app`` in ``env`` now (its deploy, bake or rollback run), if any."""
    found = _get(_pk(app), f"deploying#{env}")
    return found["promotion"] if found else None


def take_deploy_slot(app: str, env: str, promotion: str) -> fx.Write:
    """Part of the step into ``deploying``: only if no other promotion deploys the app there (else ``Conflict``)."""
    item = PromotionItem(_pk(app), f"deploying#{env}", state=promotion, data={"promotion": promotion})
    return fx.Write(item, condition=PromotionItem.pk.does_not_exist() | (PromotionItem.state == promotion))


def free_deploy_slot(app: str, env: str, promotion: str) -> fx.Write:
    """Part of the step that ends a deploy: the slot is freed if it is this promotion's."""
    return fx.Write(PromotionItem(_pk(app), f"deploying#{env}"), delete=True,
                    condition=PromotionItem.pk.does_not_exist() | (PromotionItem.state == promotion))


def pointer(execution_id: str) -> dict[str, Any] | None:
    return _get(f"promotion#exec#{execution_id}", "pointer")
