"""The promotion state machine, as tables: every (state, state) pair, every (state, execution status) pair in
every spelling, ranks and monotonicity, holds and their resumption. Pure: no AWS."""

from __future__ import annotations

import itertools
import random

import pytest

from chalicelib.promotion.machine import (
    SUPERSEDABLE,
    TERMINAL,
    Illegal,
    State,
    allowed,
    check,
    execution_status,
    on_execution,
    rank,
    resume_target,
)

S = State
ALL = list(State)

# written out by hand from the spec, independently of the module's table
EXPECTED: set[tuple[State, State]] = {
    (S.PENDING, S.SOAKING), (S.PENDING, S.AWAITING_APPROVAL), (S.PENDING, S.HELD), (S.PENDING, S.SUPERSEDED),
    (S.PENDING, S.REJECTED),
    (S.SOAKING, S.HANDED_OFF), (S.SOAKING, S.AWAITING_APPROVAL), (S.SOAKING, S.HELD), (S.SOAKING, S.SUPERSEDED),
    (S.SOAKING, S.REJECTED),
    (S.AWAITING_APPROVAL, S.APPROVED), (S.AWAITING_APPROVAL, S.REJECTED), (S.AWAITING_APPROVAL, S.HELD),
    (S.AWAITING_APPROVAL, S.SUPERSEDED),
    (S.APPROVED, S.DEPLOYING), (S.APPROVED, S.HELD), (S.APPROVED, S.SUPERSEDED), (S.APPROVED, S.REJECTED),
    (S.APPROVED, S.VERIFYING),  # SUCCEEDED seen before our STARTED
    (S.APPROVED, S.FAILED),  # FAILED (or stopped) seen before our STARTED
    (S.APPROVED, S.CANCELED),  # our run canceled by CodePipeline: an exit, not a failure
    (S.DEPLOYING, S.VERIFYING), (S.DEPLOYING, S.FAILED),
    (S.DEPLOYING, S.SUPERSEDED), (S.DEPLOYING, S.CANCELED),  # our run superseded or canceled: exits
    (S.VERIFYING, S.PROMOTED), (S.VERIFYING, S.FAILED), (S.VERIFYING, S.ROLLED_BACK),
    (S.FAILED, S.ROLLED_BACK),
    (S.HELD, S.PENDING), (S.HELD, S.SOAKING), (S.HELD, S.AWAITING_APPROVAL), (S.HELD, S.APPROVED),
    (S.HELD, S.SUPERSEDED), (S.HELD, S.REJECTED),
}


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(ALL, ALL)), ids=lambda s: str(s))
def test_every_pair_of_states(src, dst):
    expected = (src, dst) in EXPECTED
    assert allowed(src, dst) is expected
    if expected:
        check(src, dst)  # does not raise
    else:
        with pytest.raises(Illegal) as err:
            check(src, dst)
        assert str(src) in str(err.value) and str(dst) in str(err.value)
        assert err.value.src is src and err.value.dst is dst
        assert isinstance(err.value, ValueError)


def test_the_pair_table_covers_every_state():
    assert len(ALL) == 14 and len(list(itertools.product(ALL, ALL))) == 196


def test_same_to_same_is_never_allowed_and_reads_as_a_duplicate():
    for state in ALL:
        assert not allowed(state, state)
        with pytest.raises(Illegal, match="already there"):
            check(state, state)


@pytest.mark.parametrize(("src", "dst", "why"), [
    (S.PROMOTED, S.DEPLOYING, "cannot go from promoted to deploying: promoted is terminal: nothing leaves it"),
    (S.HANDED_OFF, S.AWAITING_APPROVAL, "handed_off is terminal"),
    (S.ROLLED_BACK, S.PROMOTED, "rolled_back is terminal"),
    (S.DEPLOYING, S.HELD, "cannot go from deploying to held: from deploying it can only go to verifying, "
                          "superseded, canceled, failed"),
    (S.FAILED, S.PROMOTED, "from failed it can only go to rolled_back"),
    (S.PENDING, S.APPROVED, "from pending it can only go to soaking, awaiting_approval, held, rejected, superseded"),
])
def test_illegal_says_why(src, dst, why):
    with pytest.raises(Illegal) as err:
        check(src, dst)
    assert why in str(err.value)


def test_terminal_and_supersedable_sets():
    assert TERMINAL == {S.HANDED_OFF, S.PROMOTED, S.REJECTED, S.SUPERSEDED, S.CANCELED, S.ROLLED_BACK}
    assert S.FAILED not in TERMINAL
    assert SUPERSEDABLE == {S.PENDING, S.SOAKING, S.AWAITING_APPROVAL, S.APPROVED, S.HELD}
    for state in ALL:
        leaves = [dst for dst in ALL if allowed(state, dst)]
        assert (not leaves) is (state in TERMINAL), state
        # a waiting candidate is superseded by a newer one; a deploying one only by a newer pipeline run
        assert allowed(state, S.SUPERSEDED) is (state in SUPERSEDABLE | {S.DEPLOYING}), state


def test_everything_supersedable_can_also_be_rejected_and_nothing_leaves_an_exit():
    for state in SUPERSEDABLE:
        assert allowed(state, S.REJECTED)
    for dst in ALL:
        assert not allowed(S.REJECTED, dst) and not allowed(S.SUPERSEDED, dst) and not allowed(S.CANCELED, dst)


@pytest.mark.parametrize(("state", "expected"), [
    (S.PENDING, 0), (S.SOAKING, 1), (S.HANDED_OFF, 2), (S.AWAITING_APPROVAL, 2), (S.APPROVED, 3),
    (S.DEPLOYING, 4), (S.VERIFYING, 5), (S.PROMOTED, 6), (S.FAILED, 6), (S.ROLLED_BACK, 7), (S.REJECTED, 9),
    (S.SUPERSEDED, 9), (S.CANCELED, 9),
])
def test_rank(state, expected):
    assert rank(state) == expected
    assert rank(str(state)) == expected  # plain strings from a record work too


def test_held_has_no_rank_of_its_own():
    with pytest.raises(ValueError, match="held has no rank"):
        rank(S.HELD)


def test_no_allowed_transition_goes_backwards_except_into_an_exit():
    for src, dst in itertools.product(ALL, ALL):
        if not allowed(src, dst) or dst in (S.REJECTED, S.SUPERSEDED, S.CANCELED):
            continue
        # held ranks as the state it was held from: into a hold keeps the rank, out of it resumes there
        before = rank(src) if src is not S.HELD else rank(resume_target(dst))
        after = rank(dst) if dst is not S.HELD else rank(resume_target(src))
        if S.HELD in (src, dst):
            assert before == after, (src, dst)
        else:
            assert after > before, (src, dst)


def test_every_state_a_hold_can_be_put_on_is_one_it_resumes_to():
    for state in ALL:
        if allowed(state, S.HELD):
            assert resume_target(state) is state and allowed(S.HELD, state)


@pytest.mark.parametrize("state", ALL)
def test_resume_target(state):
    if state in (S.PENDING, S.SOAKING, S.AWAITING_APPROVAL, S.APPROVED):
        assert resume_target(state) is state
        assert resume_target(str(state)) is state
    else:
        with pytest.raises(Illegal) as err:
            resume_target(state)
        assert "a hold resumes only to pending, soaking, awaiting_approval, approved" in str(err.value)
        assert str(state) in str(err.value)


def test_unknown_states_are_refused():
    with pytest.raises(ValueError):
        allowed("pending", "launched")
    with pytest.raises(ValueError):
        rank("launched")


# ---- CodePipeline execution status ----

SPELLINGS = {
    "STARTED": ("STARTED", "InProgress"),
    "SUCCEEDED": ("SUCCEEDED", "Succeeded"),
    "FAILED": ("FAILED", "Failed"),
    "CANCELED": ("CANCELED", "Cancelled"),
    "STOPPED": ("STOPPED", "Stopped"),
    "SUPERSEDED": ("SUPERSEDED", "Superseded"),
    "RESUMED": ("RESUMED",),
    "STOPPING": ("STOPPING", "Stopping"),
}
EVERY_SPELLING = [(name, spelled) for name, spellings in SPELLINGS.items() for spelled in spellings]

# (state, status) -> next state; every pair not listed -> None
ON_EXECUTION: dict[tuple[State, str], State] = {
    (S.APPROVED, "STARTED"): S.DEPLOYING, (S.APPROVED, "RESUMED"): S.DEPLOYING,
    (S.APPROVED, "SUCCEEDED"): S.VERIFYING, (S.DEPLOYING, "SUCCEEDED"): S.VERIFYING,
    **{(state, bad): S.FAILED for state in (S.APPROVED, S.DEPLOYING) for bad in ("FAILED", "STOPPED")},
    # CodePipeline ended our run: not a failure of the revision (nothing marked bad, nothing rolled back)
    (S.APPROVED, "CANCELED"): S.CANCELED, (S.DEPLOYING, "CANCELED"): S.CANCELED,
    (S.APPROVED, "SUPERSEDED"): S.SUPERSEDED, (S.DEPLOYING, "SUPERSEDED"): S.SUPERSEDED,
}


@pytest.mark.parametrize(("state", "name", "spelled"),
                         [(state, name, spelled) for state in ALL for name, spelled in EVERY_SPELLING],
                         ids=lambda v: str(v))
def test_every_state_and_execution_status(state, name, spelled):
    expected = ON_EXECUTION.get((state, name))
    assert on_execution(state, spelled) is expected
    if expected is not None:
        assert allowed(state, expected)  # the mapping never asks for a transition the machine refuses


def test_the_execution_table_covers_every_pair():
    pairs = [(state, spelled) for state in ALL for _, spelled in EVERY_SPELLING]
    assert len(pairs) == 14 * 15  # 15 spellings of 8 statuses
    moves = [(s, st) for s, st in pairs if on_execution(s, st) is not None]
    # approved: started (2 spellings) + resumed + succeeded (2) + 4 endings (8); deploying: succeeded + endings
    assert len(moves) == (2 + 1 + 2 + 8) + (2 + 8)
    assert {s for s, _ in moves} == {S.APPROVED, S.DEPLOYING}


def test_duplicates_and_late_events_do_nothing():
    assert on_execution(S.DEPLOYING, "STARTED") is None  # our own STARTED, again
    assert on_execution(S.VERIFYING, "SUCCEEDED") is None
    assert on_execution(S.VERIFYING, "STARTED") is None  # a late STARTED after SUCCEEDED: not backwards
    assert on_execution(S.FAILED, "RESUMED") is None  # a retried execution: the rollback path owns it now
    assert on_execution(S.PROMOTED, "FAILED") is None
    assert on_execution(S.AWAITING_APPROVAL, "STARTED") is None  # not ours until approved


def test_no_execution_status_moves_a_candidate_backwards():
    for state, (_, spelled) in itertools.product(ALL, EVERY_SPELLING):
        dst = on_execution(state, spelled)
        if dst is not None and state is not S.HELD:
            assert rank(dst) > rank(state)


@pytest.mark.parametrize(("spelled", "name"), [
    ("InProgress", "STARTED"), ("inprogress", "STARTED"), ("In_Progress", "STARTED"), (" Succeeded ", "SUCCEEDED"),
    ("Cancelled", "CANCELED"), ("CANCELLED", "CANCELED"), ("canceled", "CANCELED"), ("Stopping", "STOPPING"),
])
def test_status_spellings(spelled, name):
    assert execution_status(spelled) == name


@pytest.mark.parametrize("status", ["", "DONE", "Succeed", "PENDING", None, 3])
def test_unknown_statuses_are_refused(status):
    with pytest.raises(ValueError, match="unknown CodePipeline execution status"):
        on_execution(S.DEPLOYING, status)


def test_random_event_sequences_only_walk_allowed_transitions():
    """Any order of (possibly repeated, reordered) execution events, from approved, only ever takes allowed steps,
    never goes backwards, and ends in verifying, failed, superseded or canceled once a final status was seen."""
    rng = random.Random(20261123)
    spellings = [spelled for _, spelled in EVERY_SPELLING]
    for _ in range(500):
        state, finals = S.APPROVED, False
        for status in rng.choices(spellings, k=rng.randint(1, 8)):
            dst = on_execution(state, status)
            finals = finals or execution_status(status) not in ("STARTED", "RESUMED", "STOPPING")
            if dst is not None:
                check(state, dst)
                assert rank(dst) > rank(state)
                state = dst
        assert state in ((S.VERIFYING, S.FAILED, S.SUPERSEDED, S.CANCELED) if finals else (S.APPROVED, S.DEPLOYING))
