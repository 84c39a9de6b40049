"""Named points between an effect and its record, where a test can make the handler die as a Lambda would.

``crashpoint(name)`` sits on the production code path and does nothing unless a test armed that name: then it
raises ``Crash``, a ``BaseException`` (like the process being killed, nothing in between catches it: no
``except Exception`` swallows it). Every name is listed in ``POINTS``; the crash-injection suite
(tests/test_crash_injection.py) makes one test case per name, so adding a point adds a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

POINTS: dict[str, str] = {
    # promotion (chalicelib/promotion/service.py through chalicelib/state/effects.py)
    "promotion.committed": "a promotion's new state, its pending effects and audit entries are committed; "
                           "no effect has run",
    "promotion.hand_off.performed": "the release candidate was sent to the target account; not marked done",
    "promotion.ask.performed": "the approval was asked for in Slack; not marked done",
    "promotion.start_pipeline.performed": "StartPipelineExecution returned; the execution id is not recorded",
    "promotion.answer_approval.performed": "the Manual Approval was answered; not marked done",
    "promotion.effects.done": "every effect is marked done; the card is not updated yet",
    # scaling (chalicelib/scaling/service.py)
    "scaling.committed": "the change is in the history, the request is recorded, the audit entry written; "
                         "the API call is not made",
    "scaling.apply.performed": "the ASG/ECS API call returned; the effect is not marked done",
    "scaling.effects.done": "the API call is marked done; not verified, announced or the request marked done",
    # rotation (chalicelib/rotation/protocol.py): Secrets Manager calls each step again until it succeeds
    "rotation.create.stored": "createSecret stored the AWSPENDING value; the step did not return",
    "rotation.set.applied": "setSecret made the target accept the pending value; the step did not return",
    "rotation.finish.moved": "finishSecret moved AWSCURRENT; AWSPENDING still on the token, no tidy-up yet",
}


class Crash(BaseException):  # noqa: N818 - it stands for the process dying, not an error to handle
    """The handler died here (only ever raised at an armed point)."""

    def __init__(self, point: str) -> None:
        super().__init__(f"simulated crash at {point}")
        self.point = point


_armed: dict[str, int] = {}  # point -> passes left before it fires


def crashpoint(name: str) -> None:
    if not _armed:
        return
    if name not in POINTS:
        raise KeyError(f"unknown crash point {name!r}")
    left = _armed.get(name)
    if left is None:
        return
    if left > 0:
        _armed[name] = left - 1
        return
    del _armed[name]  # fires once: the retry goes through
    raise Crash(name)


@contextmanager
def armed(name: str, *, skip: int = 0) -> Iterator[None]:
    """Test-only: the ``skip+1``-th pass through ``name`` raises ``Crash``; disarmed on leaving."""
    if name not in POINTS:
        raise KeyError(f"unknown crash point {name!r}")
    _armed[name] = skip
    try:
        yield
    finally:
        _armed.pop(name, None)


def fired(name: str) -> bool:
    """Inside ``armed``: has the point fired yet?"""
    return name not in _armed
