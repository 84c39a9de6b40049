"""The promotion state machine, as pure functions: which state a candidate may move to, and what a CodePipeline
execution status means for the execution Switchboard started (or answered).

A candidate is an app at a revision that succeeded in one environment, on its way to the next. The account of
the *source* environment owns its copy up to ``handed_off``; the account of the *target* environment owns the
rest. A same-account path goes from ``soaking`` straight to ``awaiting_approval``::

    pending            ─► soaking | awaiting_approval (soak done elsewhere, or skipped)
    soaking            ─► handed_off (source account: its copy ends there) | awaiting_approval (same account)
    awaiting_approval  ─► approved
    approved           ─► deploying | verifying, failed, superseded, canceled (the run's end seen before its start)
    deploying          ─► verifying | failed | superseded, canceled (its run was superseded or canceled by
                          CodePipeline: not a failure, nothing is marked bad or rolled back)
    verifying          ─► promoted | failed | rolled_back
    failed             ─► rolled_back
    pending, soaking, awaiting_approval, approved ─► held ─► back to where it was held from
    pending, soaking, awaiting_approval, approved, held ─► superseded | rejected

``rank`` orders states by progress so a late or repeated event never moves a candidate backwards: every allowed
transition raises the rank, except into the exits (``rejected``, ``superseded``) and in and out of ``held``,
which has no rank of its own (a held candidate ranks as the state it was held from, where it resumes).
``canceled`` is the exit of a promotion whose own run CodePipeline canceled (a stage's run canceled, or the run
stopped and abandoned); a run superseded by a newer one (SUPERSEDED mode) leads to ``superseded``.
Same to same is never allowed: callers treat it as a duplicate.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"
    SOAKING = "soaking"
    HANDED_OFF = "handed_off"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DEPLOYING = "deploying"
    VERIFYING = "verifying"
    PROMOTED = "promoted"
    HELD = "held"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    CANCELED = "canceled"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


# nothing leaves these (handed_off: the source account's copy ends there, the target account owns the rest).
# failed is not terminal: it goes on to rolled_back
TERMINAL: frozenset[State] = frozenset({State.HANDED_OFF, State.PROMOTED, State.REJECTED, State.SUPERSEDED,
                                        State.CANCELED, State.ROLLED_BACK})
# a newer candidate of the same app may replace a candidate in these (nothing of it has reached the target yet)
SUPERSEDABLE: frozenset[State] = frozenset({State.PENDING, State.SOAKING, State.AWAITING_APPROVAL, State.APPROVED,
                                            State.HELD})
# where a hold may have been put, and so where it resumes to
RESUMABLE: frozenset[State] = frozenset({State.PENDING, State.SOAKING, State.AWAITING_APPROVAL, State.APPROVED})
# the exits: a candidate leaves the path there, whatever its progress
EXITS: frozenset[State] = frozenset({State.REJECTED, State.SUPERSEDED, State.CANCELED})

_RANK: dict[State, int] = {
    State.PENDING: 0,
    State.SOAKING: 1,
    State.HANDED_OFF: 2,
    State.AWAITING_APPROVAL: 2,
    State.APPROVED: 3,
    State.DEPLOYING: 4,
    State.VERIFYING: 5,
    State.PROMOTED: 6,
    State.FAILED: 6,
    State.ROLLED_BACK: 7,
    State.REJECTED: 9,
    State.SUPERSEDED: 9,
    State.CANCELED: 9,
}

_NEXT: dict[State, frozenset[State]] = {
    State.PENDING: frozenset({State.SOAKING, State.AWAITING_APPROVAL, State.HELD, State.SUPERSEDED,
                              State.REJECTED}),
    State.SOAKING: frozenset({State.HANDED_OFF, State.AWAITING_APPROVAL, State.HELD, State.SUPERSEDED,
                              State.REJECTED}),
    State.AWAITING_APPROVAL: frozenset({State.APPROVED, State.REJECTED, State.HELD, State.SUPERSEDED}),
    # verifying: the execution's SUCCEEDED arrived before its STARTED; failed: it failed before we saw it start
    State.APPROVED: frozenset({State.DEPLOYING, State.VERIFYING, State.FAILED, State.HELD, State.SUPERSEDED,
                               State.REJECTED, State.CANCELED}),
    State.DEPLOYING: frozenset({State.VERIFYING, State.FAILED, State.SUPERSEDED, State.CANCELED}),
    State.VERIFYING: frozenset({State.PROMOTED, State.FAILED, State.ROLLED_BACK}),
    State.FAILED: frozenset({State.ROLLED_BACK}),
    State.HELD: RESUMABLE | {State.SUPERSEDED, State.REJECTED},
    State.HANDED_OFF: frozenset(),
    State.PROMOTED: frozenset(),
    State.REJECTED: frozenset(),
    State.SUPERSEDED: frozenset(),
    State.CANCELED: frozenset(),
    State.ROLLED_BACK: frozenset(),
}


class Illegal(ValueError):
    """A transition the machine does not allow. ``src`` and ``dst`` are kept for the caller."""

    def __init__(self, src: State, dst: State, why: str) -> None:
        self.src, self.dst, self.why = State(src), State(dst), why
        super().__init__(f"cannot go from {self.src} to {self.dst}: {why}")


def rank(state: State) -> int:
    """Progress order (exits rank 9). ``held`` has none of its own: use the rank of the state it was held from."""
    state = State(state)
    if state is State.HELD:
        raise ValueError("held has no rank of its own: a held candidate ranks as the state it was held from")
    return _RANK[state]


def allowed(src: State, dst: State) -> bool:
    return State(dst) in _NEXT[State(src)]


def check(src: State, dst: State) -> None:
    """Raise ``Illegal`` (naming both states and why) unless ``src`` may go to ``dst``."""
    src, dst = State(src), State(dst)
    if dst in _NEXT[src]:
        return
    if src is dst:
        raise Illegal(src, dst, "already there (a duplicate)")
    if src in TERMINAL:
        raise Illegal(src, dst, f"{src} is terminal: nothing leaves it")
    options = ", ".join(sorted(_NEXT[src], key=_order))
    raise Illegal(src, dst, f"from {src} it can only go to {options}")


def resume_target(held_from: State) -> State:
    """Where a hold resumes to: the state it was held from, which must be one a hold can be put on."""
    state = State(held_from)
    if state not in RESUMABLE:
        options = ", ".join(sorted(RESUMABLE, key=_order))
        raise Illegal(State.HELD, state, f"a hold resumes only to {options}")
    return state


# ---- CodePipeline execution status ----

STARTED, SUCCEEDED, FAILED, CANCELED, STOPPED, SUPERSEDED, RESUMED, STOPPING = (
    "STARTED", "SUCCEEDED", "FAILED", "CANCELED", "STOPPED", "SUPERSEDED", "RESUMED", "STOPPING")

# every spelling (EventBridge event ``state`` / GetPipelineExecution ``status``), upper-cased -> one name
_SPELLINGS: dict[str, str] = {
    "STARTED": STARTED, "INPROGRESS": STARTED, "IN_PROGRESS": STARTED,
    "SUCCEEDED": SUCCEEDED,
    "FAILED": FAILED,
    "CANCELED": CANCELED, "CANCELLED": CANCELED,
    "STOPPED": STOPPED,
    "SUPERSEDED": SUPERSEDED,
    "RESUMED": RESUMED,
    "STOPPING": STOPPING,
}
ENDED_BADLY = frozenset({FAILED, STOPPED})  # a failure of the revision (or a person stopped it): rolled back
ENDED_ELSEWISE = {SUPERSEDED: "superseded", CANCELED: "canceled"}  # CodePipeline ended the run: not a failure


def execution_status(status: str) -> str:
    """One name for a CodePipeline execution status in any spelling (``InProgress`` -> ``STARTED``,
    ``Cancelled`` -> ``CANCELED``, ...). Raises ``ValueError`` on a status CodePipeline does not have."""
    try:
        return _SPELLINGS[status.strip().upper()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown CodePipeline execution status {status!r}") from None


def on_execution(current: State, status: str) -> State | None:
    """The state a candidate in ``current`` moves to when the execution Switchboard started (or answered) reports
    ``status``; None when there is nothing to do (a duplicate, a stale event, a status that ends nothing yet)."""
    current, name = State(current), execution_status(status)
    if current not in (State.APPROVED, State.DEPLOYING):
        return None  # before approval it is not ours yet; after deploying, a late event would go backwards
    if name in (STARTED, RESUMED):
        dst: State | None = State.DEPLOYING
    elif name == SUCCEEDED:
        dst = State.VERIFYING
    elif name in ENDED_BADLY:
        dst = State.FAILED
    elif name in ENDED_ELSEWISE:
        dst = State(ENDED_ELSEWISE[name])
    else:  # STOPPING: STOPPED follows
        dst = None
    return dst if dst is not None and allowed(current, dst) else None


def _order(state: State) -> int:
    return list(State).index(state)
