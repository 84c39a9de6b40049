"""Commit, then execute: a capability's step is committed with its effects as data, then the effects are performed.

A step (a promotion moving on, a scaling change) computes its new state and the list of effects it implies (start
this pipeline, answer that approval, set this desired count) without performing any. ``commit`` writes, in one
DynamoDB transaction (TransactWriteItems):

- the owner item (the promotion, the scaling request) under its version condition, with the effects ``pending``
  and the item listed in GSI ``gsi1`` under PK ``effects#pending`` (SK ``<capability>#<at>#<pk>#<sk>``);
- the other items the step changes (an execution pointer, ``current#<env>``, a history entry...);
- the audit entries of the transition (append-only puts, ``attribute_not_exists``).

``execute`` then performs each pending effect in order through the capability's ``perform``, which must be
idempotent (a client request token, a state read before acting, a count compared before setting it, a
deterministic id the receiver stores once), and marks it done with a second conditional transaction on the same
version (with what the effect returned: an execution id, its pointer, an audit entry). When the last one is done the
item leaves ``effects#pending`` and goes back to its capability's own work list. Timeline of one step:

    step:      read item (version v, no effect pending) -> decide -> new state + effects + audit entries
    commit:    transact [update item if version = v, effects pending, gsi1 = effects#pending ; puts of audit
               entries if attribute_not_exists ; other items]        -- all or nothing
    execute:   for each pending effect: perform (idempotent) -> transact [item if version = v+k: effect done,
               + what it returned] ; on a lost condition: read again, perform again (idempotent), mark again
    done:      gsi1 = the capability's own index (or none)

    crash before commit:      nothing happened; the redelivered event (or the tick) decides again
    crash after commit:       the item is in effects#pending; the next delivery or tick executes its effects
    crash after an effect:    it is still pending: performed again, which the effect's idempotency makes a no-op,
                              and marked done once
    a conflict on commit:     ``Conflict``: read again and decide again (nothing was performed)

A capability never takes a new step on an item whose effects are pending: it executes them first. This is the
transactional outbox pattern; Powertools' idempotency layer (``persistence/base.py``: INPROGRESS, then COMPLETED)
is the same idea for a whole handler, which chalicelib/state/ledger.py uses for event delivery.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.state.crashpoints import crashpoint
from chalicelib.state.keys import stamp
from chalicelib.state.models import AuditEntry, StateItem

PENDING = "effects#pending"
MAX_ATTEMPTS = 8  # lost conditions in a row before execute gives up (someone else is executing the same item)


class Effect(BaseModel):
    """One effect of a committed step, as data: what to do (``kind`` + ``params``), and what became of it."""

    id: str  # unique within its item; deterministic (the step that made it names it)
    kind: str  # e.g. "promotion.start_pipeline", "scaling.apply"
    params: dict[str, Any] = Field(default_factory=dict)
    status: Literal["pending", "done", "failed"] = "pending"
    result: dict[str, Any] | None = None
    error: str | None = None


class Conflict(Exception):
    """A condition of the transaction did not hold (the item changed since it was read): read and decide again."""


class Failed(Exception):
    """Raised by a ``perform``: the effect can never succeed (AWS refused it for good); it is marked failed, with
    what ``done`` writes (a compensation: the history entry withdrawn, an audit entry saying so)."""

    def __init__(self, reason: str, done: Done | None = None) -> None:
        super().__init__(reason)
        self.done = done


@dataclass
class Write:
    """One item written in a transaction: ``update`` with ``actions`` when given, else ``save``; or ``delete``."""

    item: Model
    actions: list[Any] | None = None
    condition: Any = None
    delete: bool = False


@dataclass
class Done:
    """What ``perform`` returns: the effect's result, and what marking it done writes with it."""

    result: dict[str, Any] | None = None
    actions: list[Any] = field(default_factory=list)  # more update actions on the owner item (e.g. its data)
    writes: list[Write] = field(default_factory=list)  # other items (e.g. an execution pointer)
    audits: list[AuditEntry] = field(default_factory=list)
    index: tuple[str | None, str | None] = (None, None)  # the owner's own gsi1 keys once nothing is pending


def pending_index(capability: str, at: datetime, pk: str, sk: str) -> tuple[str, str]:
    return PENDING, f"{capability}#{stamp(at)}#{pk}#{sk}"


def dump(effects: Sequence[Effect]) -> str:
    return json.dumps([e.model_dump(mode="json") for e in effects])


def load(raw: Any) -> list[Effect]:
    if not raw:
        return []
    data = json.loads(raw) if isinstance(raw, str) else raw
    return [Effect.model_validate(e) for e in data]


def pending(effects: Sequence[Effect]) -> list[Effect]:
    return [e for e in effects if e.status == "pending"]


def _connection() -> Connection:
    meta = StateItem.Meta
    return Connection(region=meta.region, host=meta.host, max_retry_attempts=meta.max_retry_attempts)


def commit(writes: Sequence[Write], audits: Sequence[AuditEntry] = ()) -> None:
    """Write everything or nothing (TransactWriteItems). Raises ``Conflict`` when a condition does not hold."""
    try:
        with TransactWrite(connection=_connection()) as tx:
            for w in writes:
                if w.delete:
                    tx.delete(w.item, condition=w.condition)
                elif w.actions is not None:
                    tx.update(w.item, actions=w.actions, condition=w.condition)
                else:
                    tx.save(w.item, condition=w.condition)
            for entry in audits:  # append-only: an entry is never overwritten
                tx.save(entry, condition=AuditEntry.target.does_not_exist())
    except TransactWriteError as exc:
        reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or []) if r is not None]
        if "ConditionalCheckFailed" in reasons:
            raise Conflict(f"a condition did not hold: {reasons}") from exc
        raise
    from chalicelib.state import audit

    for entry in audits:  # committed: the console's feed hears of them too
        audit.published(entry)


Perform = Callable[[Model, Effect], Done]


def execute(model: type[Model], pk: str, sk: str, perform: Perform, *, capability: str) -> Model | None:
    """Perform the owner item's pending effects in order, each marked done (or failed) with a conditional write
    on the item's ``version``. Returns the item as it is stored afterwards (None: there is none)."""
    attempts = 0
    while True:
        try:
            item = model.get(pk, sk, consistent_read=True)
        except model.DoesNotExist:  # type: ignore[attr-defined]
            return None
        effects = load(getattr(item, "effects", None))
        todo = pending(effects)
        if not todo:
            return item
        effect = todo[0]
        try:
            done = perform(item, effect)
            effect.status, effect.result = "done", done.result
        except Failed as exc:
            done = exc.done or Done()
            effect.status, effect.error = "failed", str(exc)[:1000]
        crashpoint(f"{effect.kind}.performed")
        version = int(item.version)  # type: ignore[attr-defined]
        last = len(todo) == 1
        gsi1pk, gsi1sk = done.index if last else (item.gsi1pk, item.gsi1sk)  # type: ignore[attr-defined]
        actions = [model.version.set(version + 1), model.effects.set(dump(effects)),  # type: ignore[attr-defined]
                   *done.actions]
        actions += ([model.gsi1pk.set(gsi1pk), model.gsi1sk.set(gsi1sk)] if gsi1pk  # type: ignore[attr-defined]
                    else [model.gsi1pk.remove(), model.gsi1sk.remove()])  # type: ignore[attr-defined]
        owner = model(pk, sk)
        try:
            commit([Write(owner, actions, model.version == version), *done.writes],  # type: ignore[attr-defined]
                   done.audits)
        except Conflict:
            attempts += 1
            if attempts >= MAX_ATTEMPTS:
                raise
            continue
        attempts = 0
        if last:
            crashpoint(f"{capability}.effects.done")


def waiting(model: type[Model], index: Any, capability: str, limit: int = 100) -> list[tuple[str, str]]:
    """(pk, sk) of the items of ``capability`` whose effects are pending (oldest first), read through the owner
    model's ``gsi1`` index: the ticks' work list."""
    found = index.query(PENDING, model.gsi1sk.startswith(f"{capability}#"), limit=limit)  # type: ignore[attr-defined]
    return [(i.pk, i.sk) for i in found]
