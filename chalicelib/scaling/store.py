"""The scaling capability's items in the shared state table (``switchboard-state``), all under one partition per
target, so everything about a target is one Query and no scan is ever needed.

=============================  ======================  ============================================================
PK                             SK                      what
=============================  ======================  ============================================================
``scaling#<target>``           ``lease``               who may change the target right now: put only if absent or
                                                       expired (``until`` < now, wall clock), deleted by its holder
``scaling#<target>``           ``change#<at>#<req>``   one change Switchboard made (before, after, origin): the history
                                                       that cooldown and the hourly limit count; TTL 2 days
``scaling#<target>``           ``saved#<owner>``       the capacity before a temporary change and what Switchboard set
                                                       (owner: ``alarm:<rule>``, ``schedule:<name>``, ``slack:<id>``);
                                                       with ``restore_at``, also in GSI ``gsi1``: PK ``scaling#due``,
                                                       SK ``<restore_at>#<target>#<owner>`` (ticks query what is due);
                                                       TTL 30 days
``scaling#<target>``           ``request#<id>``        a request seen (``awaiting`` approval, ``executing`` its change,
                                                       or ``done`` with its outcome): duplicates and late approvals
                                                       change nothing; TTL 14 d. ``executing``: the change is committed
                                                       (history, audit) with its API call as a pending effect
                                                       (``effects``, ``data``: the plan); in GSI ``gsi1`` under
                                                       ``effects#pending`` until the call is made (the tick does it)
``scaling#<target>``           ``alarm#<rule>``        the newest alarm state change acted on (``last``): an older one
                                                       delivered late is ignored
``scaling#<target>``           ``schedule#<name>``     the newest fire time acted on (``last``) and how far ticks have
                                                       looked (``checked``): each fire time acts once
=============================  ======================  ============================================================

Times are UTC ISO-8601 strings of one fixed width, so they sort as text. The lease uses the wall clock (never an
injected one): a tick run at a fake time must not lock a target for real callers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.models import Model

from chalicelib.scaling.plan import Capacity, Change
from chalicelib.state import effects as fx
from chalicelib.state.keys import conditional_failed, parse_stamp, stamp  # stamp: also used by scaling's callers
from chalicelib.state.models import StateIndex, StateItem

_META = StateItem.Meta
DUE = "scaling#due"
LEASE_SECONDS = 60  # a holder that died frees the target after this long (Lambda's timeout)
LEASE_WAIT_SECONDS = 5.0
HISTORY_TTL = timedelta(days=2)
SAVED_TTL = timedelta(days=30)
REQUEST_TTL = timedelta(days=14)


def pk(target: str) -> str:
    return f"scaling#{target}"



class Lease(Model):
    class Meta(_META):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # "lease"
    holder = UnicodeAttribute()
    until = NumberAttribute()  # epoch seconds, wall clock
    expires_at = TTLAttribute(null=True)


class ChangeItem(Model):
    class Meta(_META):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # change#<at>#<request id>
    at = UnicodeAttribute()
    before = NumberAttribute()
    after = NumberAttribute()
    origin = UnicodeAttribute()
    request_id = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class SavedItem(Model):
    class Meta(_META):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # saved#<owner>
    target = UnicodeAttribute()
    owner = UnicodeAttribute()
    before = JSONAttribute()  # Capacity.as_dict(): what to restore
    set_to = JSONAttribute()  # Capacity.as_dict(): what Switchboard set (a restore checks it is still there)
    saved_at = UnicodeAttribute()
    request_id = UnicodeAttribute()  # the change that saved it (its announcement is updated by the restore)
    summary = UnicodeAttribute(null=True)  # how the change was announced
    restore_at = UnicodeAttribute(null=True)
    state = UnicodeAttribute(default="active")  # active | asked (a restore awaits approval)
    note = UnicodeAttribute(null=True)  # why the last restore attempt was deferred (said once, not every tick)
    attempts = NumberAttribute(default=0)  # restore attempts that AWS failed
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    due = StateIndex()

    @property
    def before_capacity(self) -> Capacity:
        return Capacity.from_dict(self.before)

    @property
    def set_capacity(self) -> Capacity:
        return Capacity.from_dict(self.set_to)


class RequestItem(Model):
    class Meta(_META):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # request#<id>
    state = UnicodeAttribute()  # awaiting | executing | done
    outcome = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    decision = UnicodeAttribute(null=True)
    at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)
    version = NumberAttribute(default=0)
    effects = UnicodeAttribute(null=True)  # JSON (chalicelib/state/effects.py): the change's API call
    data = JSONAttribute(null=True)  # executing: the plan and the request (what a resumed run needs)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)

    pending_effects = StateIndex()


class Mark(Model):
    class Meta(_META):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # alarm#<rule> | schedule#<name>
    last = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)
    checked = UnicodeAttribute(null=True)


# ---- the lease ----

class Busy(Exception):
    def __init__(self, target: str, holder: str | None):
        super().__init__(f"another change to {target} is in progress" + (f" ({holder})" if holder else ""))
        self.holder = holder


def acquire(target: str, holder: str, *, wait: float = LEASE_WAIT_SECONDS, seconds: int = LEASE_SECONDS) -> None:
    """Take the target's lease, waiting up to ``wait`` seconds for another holder; raises ``Busy``.

    put(lease) with condition: no lease, or its ``until`` has passed (its holder died mid-change):

        holder A: put ok ──── describe, plan, change, record ──── delete (condition holder = A)
        holder B:      put fails (until > now) … retry … put ok (after A's delete) ── plans on A's history
    """
    deadline = time.monotonic() + wait
    while True:
        now = time.time()
        try:
            Lease(pk(target), "lease", holder=holder, until=now + seconds,
                  expires_at=datetime.fromtimestamp(now, UTC) + timedelta(seconds=seconds * 10)).save(
                condition=Lease.pk.does_not_exist() | (Lease.until < now))
            return
        except PutError as exc:
            if not conditional_failed(exc):
                raise
        if time.monotonic() >= deadline:
            try:
                current: str | None = Lease.get(pk(target), "lease").holder
            except Lease.DoesNotExist:
                current = None
            raise Busy(target, current)
        time.sleep(0.05)


def release(target: str, holder: str) -> None:
    try:
        Lease(pk(target), "lease").delete(condition=Lease.holder == holder)
    except DeleteError as exc:  # expired and taken by someone else: theirs now
        if not conditional_failed(exc):
            raise


@contextmanager
def lease(target: str, holder: str, *, wait: float = LEASE_WAIT_SECONDS) -> Iterator[None]:
    acquire(target, holder, wait=wait)
    try:
        yield
    finally:
        release(target, holder)


# ---- history ----

def history(target: str, since: datetime) -> list[Change]:
    """Switchboard's changes of the target from ``since`` on (later ones too: a clock may be behind)."""
    items = ChangeItem.query(pk(target), ChangeItem.sk.between(f"change#{stamp(since)}", "change#\uffff"))
    return [Change(parse_stamp(i.at), int(i.before), int(i.after), i.origin) for i in items]


def record_change(target: str, change: Change, request_id: str) -> None:
    write = change_write(target, change, request_id)
    write.item.save(condition=write.condition)
    publish_change(target, change)


def change_write(target: str, change: Change, request_id: str) -> fx.Write:
    at = stamp(change.at)
    return fx.Write(ChangeItem(pk(target), f"change#{at}#{request_id}", at=at, before=change.before,
                               after=change.after, origin=change.origin, request_id=request_id,
                               expires_at=change.at + HISTORY_TTL), condition=ChangeItem.sk.does_not_exist())


def withdraw_change(target: str, change: Change, request_id: str) -> fx.Write:
    """The change's history entry taken back (AWS refused the call: nothing was changed)."""
    return fx.Write(ChangeItem(pk(target), f"change#{stamp(change.at)}#{request_id}"), delete=True)


def executing(target: str, request_id: str, *, data: dict[str, Any], effect: fx.Effect, now: datetime,
              version: int) -> fx.Write:
    """The request's record while its change is carried out: the API call is its pending effect."""
    sk = f"request#{request_id}"
    gsi1pk, gsi1sk = fx.pending_index("scaling", now, pk(target), sk)
    item = RequestItem(pk(target), sk, state="executing", at=stamp(now), expires_at=now + REQUEST_TTL,
                       version=version + 1, effects=fx.dump([effect]), data=data, gsi1pk=gsi1pk, gsi1sk=gsi1sk)
    return fx.Write(item, condition=RequestItem.pk.does_not_exist() | (RequestItem.state == "awaiting"))


def unfinished(target: str) -> list[RequestItem]:
    """Requests of the target whose change is committed but not finished (a crash left them)."""
    return list(RequestItem.query(pk(target), RequestItem.sk.startswith("request#"),
                                  filter_condition=RequestItem.state == "executing", consistent_read=True))


def with_effects_pending() -> list[tuple[str, str]]:
    return fx.waiting(RequestItem, RequestItem.pending_effects, "scaling")


def publish_change(target: str, change: Change) -> None:
    """Tell the console (its capacity plot, chalicelib/console/feed.py) about a change once it is committed."""
    from chalicelib.console import feed, records

    def record() -> records.Record:
        from chalicelib.policy import loader as policy

        guard = policy.current().scaling.targets[target].guardrails
        return records.scaling(target, change.at, change.before, change.after, change.origin,
                               floor=guard.floor if guard else None, ceiling=guard.ceiling if guard else None,
                               **feed.here())
    feed.publish(feed.build(record))


# ---- saved capacity ----

def get_saved(target: str, owner: str) -> SavedItem | None:
    try:
        return SavedItem.get(pk(target), f"saved#{owner}")
    except SavedItem.DoesNotExist:
        return None


def save(target: str, owner: str, *, before: Capacity, set_to: Capacity, request_id: str, summary: str,
         restore_at: datetime | None, now: datetime, write: bool = True) -> tuple[SavedItem, SavedItem | None]:
    """Save the capacity before a temporary change; returns (the new item, the one it replaced).

    If the same owner's earlier change is still in effect (the target still has what it set), the size saved then
    is kept: it is the one from before Switchboard touched the target.
    """
    previous = get_saved(target, owner)
    baseline = before
    if previous is not None and previous.set_capacity.held() == before.held() and \
            previous.set_capacity.mode is before.mode:
        baseline = previous.before_capacity
    item = SavedItem(pk(target), f"saved#{owner}", target=target, owner=owner, before=baseline.as_dict(),
                     set_to=set_to.as_dict(), saved_at=stamp(now), request_id=request_id, summary=summary,
                     restore_at=stamp(restore_at) if restore_at else None, state="active", attempts=0,
                     gsi1pk=DUE if restore_at else None,
                     gsi1sk=f"{stamp(restore_at)}#{target}#{owner}" if restore_at else None,
                     expires_at=now + SAVED_TTL)
    if write:
        item.save()
    return item, previous


def put_back(item: SavedItem | None, target: str, owner: str) -> None:
    """Undo ``save`` (the change failed): the replaced item back, or none."""
    if item is not None:
        item.save()
    else:
        forget(target, owner)


def forget(target: str, owner: str) -> None:
    SavedItem(pk(target), f"saved#{owner}").delete()


def note_saved(item: SavedItem, **values: Any) -> None:
    item.update(actions=[getattr(SavedItem, name).set(value) if value is not None else getattr(SavedItem, name).remove()
                         for name, value in values.items()])


def due(now: datetime) -> list[SavedItem]:
    """Saved capacities whose restore time has come (oldest first)."""
    return list(SavedItem.due.query(DUE, SavedItem.gsi1sk <= f"{stamp(now)}~"))


# ---- requests seen ----

def request_seen(target: str, request_id: str) -> RequestItem | None:
    try:
        return RequestItem.get(pk(target), f"request#{request_id}")
    except RequestItem.DoesNotExist:
        return None


def note_request(target: str, request_id: str, state: str, *, outcome: str | None, reason: str | None,
                 now: datetime, decision: str | None = None) -> None:
    """Remember a request: ``awaiting`` approval, or ``done``. ``done`` is final (a conditional write)."""
    item = RequestItem(pk(target), f"request#{request_id}", state=state, outcome=outcome,
                       reason=(reason or "")[:1000] or None, decision=decision, at=stamp(now),
                       expires_at=now + REQUEST_TTL)
    try:
        item.save(condition=RequestItem.pk.does_not_exist() | (RequestItem.state != "done"))
    except PutError as exc:
        if not conditional_failed(exc):
            raise


# ---- marks: the newest event acted on ----

def advance(target: str, key: str, last: str, *, state: str | None = None) -> bool:
    """Move the mark to ``last`` unless it is already past it. True when this call moved it (or it was equal:
    a retry of the same event is let through; the request record stops it from acting twice)."""
    mark = Mark(pk(target), key)
    try:
        mark.update(actions=[Mark.last.set(last), Mark.state.set(state)],
                    condition=Mark.last.does_not_exist() | (Mark.last <= last))
        return True
    except UpdateError as exc:
        if conditional_failed(exc):
            return False
        raise


def get_mark(target: str, key: str) -> Mark | None:
    try:
        return Mark.get(pk(target), key)
    except Mark.DoesNotExist:
        return None


def claim_fire(target: str, key: str, fire: str, checked: str) -> bool:
    """Claim a schedule's fire time: True for exactly one caller, and only if no later fire time was acted on."""
    mark = Mark(pk(target), key)
    try:
        mark.update(actions=[Mark.last.set(fire), Mark.checked.set(checked)],
                    condition=Mark.last.does_not_exist() | (Mark.last < fire))
        return True
    except UpdateError as exc:
        if conditional_failed(exc):
            return False
        raise


def checked(target: str, key: str, until: str) -> None:
    """Remember how far ticks have looked (only ever forward)."""
    mark = Mark(pk(target), key)
    try:
        mark.update(actions=[Mark.checked.set(until)],
                    condition=Mark.checked.does_not_exist() | (Mark.checked < until))
    except UpdateError as exc:
        if not conditional_failed(exc):
            raise
