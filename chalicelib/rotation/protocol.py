"""Secrets Manager's four-step rotation protocol, the same for every kind of secret.

Secrets Manager invokes the rotation function with ``{SecretId, ClientRequestToken, Step}`` (and ``RotationToken``
when it has one) for ``createSecret``, ``setSecret``, ``testSecret`` and ``finishSecret`` in turn, and retries a
step that failed. So every step below is idempotent and safe to run again after a crash at any point:

    entry checks   rotation enabled; the token is a version of the secret; already AWSCURRENT -> nothing to do;
                   not AWSPENDING -> fail (this version is not being rotated)
    createSecret   a value for the token already exists -> done. Else may it start (``gate``: freeze windows,
                   paired secrets, the policy's switch)? If not, the empty AWSPENDING label is taken off the token so
                   nothing is left behind, and the step fails saying why. Else the kind makes a new value, stored
                   with PutSecretValue(token, AWSPENDING)
    setSecret      the pending value must name the current host/user (never trusted blindly); if it already works,
                   the kind aligns what else must match (e.g. the other user's grants: a retry after a crash
                   finishes that part) -> done; else the kind makes the target accept it (and aligns)
    testSecret     the same check, then the kind proves the pending value works
    finishSecret   AWSCURRENT moves to the token (the old version becomes AWSPREVIOUS), AWSPENDING comes off it, the
                   kind tidies up (e.g. deactivates the old IAM key). Retried after a crash half-way, the token is
                   already AWSCURRENT: the label and the tidy-up are finished, nothing else happens

Each step's effect comes before its record, and Secrets Manager's own record (the version's stages) is the only
one: the named crash points (``rotation.create.stored``, ``rotation.set.applied``, ``rotation.finish.moved``) are
where tests/test_crash_injection.py kills a step and retries it.

Values are always read with an explicit VersionStage (``store.value``). ``check_entry`` is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from chalicelib.rotation.exceptions import Deferred, Malformed, NotAVersion, NotEnabled, NotPending, RotationError
from chalicelib.rotation.kinds.base import Kind
from chalicelib.rotation.secrets import AWSCURRENT, AWSPENDING, AWSPREVIOUS, SecretStore, stages_of, version_with
from chalicelib.state.crashpoints import crashpoint

Gate = Callable[[], str | None]  # a reason the rotation may not start now, or None


class Step(StrEnum):
    CREATE = "createSecret"
    SET = "setSecret"
    TEST = "testSecret"
    FINISH = "finishSecret"


STEPS: tuple[Step, ...] = (Step.CREATE, Step.SET, Step.TEST, Step.FINISH)


class Entry(Enum):
    PROCEED = "proceed"  # the token is AWSPENDING: do the step
    CURRENT = "current"  # the token is already AWSCURRENT: the rotation is done


@dataclass(frozen=True)
class Invocation:
    secret_id: str
    token: str
    step: Step
    rotation_token: str | None = None

    @classmethod
    def parse(cls, event: Any) -> Invocation:
        if not isinstance(event, Mapping):
            raise Malformed("the rotation function was invoked without an event object")
        missing = [k for k in ("SecretId", "ClientRequestToken", "Step") if not isinstance(event.get(k), str)
                   or not event.get(k)]
        if missing:
            raise Malformed(f"the rotation event lacks {', '.join(missing)}")
        try:
            step = Step(event["Step"])
        except ValueError:
            raise Malformed(f"unknown rotation step {event['Step']!r}") from None
        rotation_token = event.get("RotationToken")
        return cls(event["SecretId"], event["ClientRequestToken"], step,
                   rotation_token if isinstance(rotation_token, str) and rotation_token else None)


def check_entry(meta: Mapping[str, Any], token: str) -> Entry:
    """The checks every step starts with, over DescribeSecret's answer."""
    name = meta.get("Name") or meta.get("ARN", "the secret")
    if not meta.get("RotationEnabled"):
        raise NotEnabled(f"rotation is not enabled for {name}")
    stages = stages_of(dict(meta))
    if token not in stages:
        raise NotAVersion(f"version {token} is not a version of {name}")
    if AWSCURRENT in stages[token]:
        return Entry.CURRENT
    if AWSPENDING not in stages[token]:
        raise NotPending(f"version {token} of {name} is not AWSPENDING: it is not being rotated")
    return Entry.PROCEED


def run(step: Step, store: SecretStore, kind: Kind, inv: Invocation, meta: Mapping[str, Any],
        gate: Gate = lambda: None) -> str:
    """One step; returns what it did (for the audit log)."""
    entry = check_entry(meta, inv.token)
    if entry is Entry.CURRENT:
        return finish_current(store, kind, inv, meta) if step is Step.FINISH else "already current"
    if step is Step.CREATE:
        return create(store, kind, inv, gate)
    if step is Step.SET:
        return set_secret(store, kind, inv)
    if step is Step.TEST:
        return test(store, kind, inv)
    return finish(store, kind, inv, meta)


def _current(store: SecretStore, kind: Kind, secret_id: str) -> Any:
    found = store.value(secret_id, AWSCURRENT)
    if found is None:
        raise RotationError(f"{kind.target.name} has no AWSCURRENT value to rotate from")
    return kind.parse(found.text)


def _pending(store: SecretStore, kind: Kind, inv: Invocation) -> Any:
    found = store.value(inv.secret_id, AWSPENDING, inv.token)
    if found is None:
        raise NotPending(f"version {inv.token} of {kind.target.name} has no pending value (createSecret did not "
                         "run)")
    return kind.parse(found.text)


def create(store: SecretStore, kind: Kind, inv: Invocation, gate: Gate = lambda: None) -> str:
    if store.value(inv.secret_id, AWSPENDING, inv.token) is not None:
        return "already created"
    reason = gate()
    if reason is not None:
        store.detach(inv.secret_id, AWSPENDING, inv.token)  # an empty AWSPENDING would block every later rotation
        raise Deferred(reason)
    current = _current(store, kind, inv.secret_id)
    pending = kind.generate(current)
    store.put_pending(inv.secret_id, inv.token, kind.dump(pending), inv.rotation_token)
    crashpoint("rotation.create.stored")
    return "created"


def set_secret(store: SecretStore, kind: Kind, inv: Invocation) -> str:
    current, pending = _current(store, kind, inv.secret_id), _pending(store, kind, inv)
    kind.check_pending(current, pending)
    if kind.works(pending):
        kind.align(current, pending)
        return "already works"
    previous = store.value(inv.secret_id, AWSPREVIOUS)
    kind.apply(current, pending, kind.parse(previous.text) if previous is not None else None)
    crashpoint("rotation.set.applied")
    return "set"


def test(store: SecretStore, kind: Kind, inv: Invocation) -> str:
    current, pending = _current(store, kind, inv.secret_id), _pending(store, kind, inv)
    kind.check_pending(current, pending)
    kind.prove(pending)
    return "tested"


def finish(store: SecretStore, kind: Kind, inv: Invocation, meta: Mapping[str, Any]) -> str:
    old = store.value(inv.secret_id, AWSCURRENT)
    store.move_current(inv.secret_id, inv.token, version_with(dict(meta), AWSCURRENT))
    crashpoint("rotation.finish.moved")
    store.detach(inv.secret_id, AWSPENDING, inv.token)
    kind.finished(kind.parse(old.text) if old is not None else None, _current(store, kind, inv.secret_id))
    return "finished"


def finish_current(store: SecretStore, kind: Kind, inv: Invocation, meta: Mapping[str, Any]) -> str:
    """finishSecret for a token that is already AWSCURRENT (a retry after a crash mid-finish, or a duplicate)."""
    if AWSPENDING in stages_of(dict(meta)).get(inv.token, []):
        store.detach(inv.secret_id, AWSPENDING, inv.token)
    previous = store.value(inv.secret_id, AWSPREVIOUS)
    kind.finished(kind.parse(previous.text) if previous is not None else None, _current(store, kind, inv.secret_id))
    return "already current"
