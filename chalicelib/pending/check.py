"""May this approval result act here? A pure function over the stored request, the result and this policy.

Nothing in the result is trusted but what the front door vouches for: which decision, its verdict, and who clicked
(with the user groups the front door resolved for them). Everything else comes from what this account stored
when it asked: the subject, the role, the environment, how many approvers, the group, the requester and author.
The approvers are checked again with THIS account's policy: the front door's policy is not ours.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.decisions.store import USER_GROUP
from chalicelib.policy.schema import Policy, Role
from chalicelib.slackkit import rbac
from chalicelib.state.keys import stamp


@dataclass(frozen=True)
class Waiting:
    """The stored request, as plain data (``PendingRequest`` in models.py)."""

    id: str
    nonce: str
    capability: str
    digest: str
    environment: str
    role: str
    required: int
    requester: str
    valid_until: str  # stamp()
    state: str = "pending"  # pending | decided | done
    group: str | None = None
    four_eyes: bool = False
    author: str | None = None
    deadline: str | None = None  # stamp()
    decision_id: str | None = None  # once decided
    verdict: str | None = None  # once decided


@dataclass(frozen=True)
class Answer:
    """The parts of an approval result the check reads."""

    decision_id: str
    capability: str
    verdict: str  # approved | rejected | expired
    environment: str
    decided_by: str
    request_id: str | None  # the pending request the result names (None: it names none)
    nonce: str | None
    digest: str | None
    approvals: Sequence[str] = ()
    groups: Mapping[str, Sequence[str]] = field(default_factory=dict)  # user -> groups the front door resolved


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str
    approvers: tuple[str, ...] = ()  # the approvers that count here (approved)
    resume: bool = False  # the same result again, after a crash between commit and action


def refuse(reason: str) -> Verdict:
    return Verdict(False, reason)


def check(waiting: Waiting | None, answer: Answer, *, sender: str | None, policy: Policy, now: datetime) -> Verdict:
    front_door = policy.slack.front_door
    if sender is None or sender != front_door:
        return refuse(f"approval results are accepted only from the front door '{front_door}', not '{sender}'")
    if answer.request_id is None:
        return refuse("the result names no request this account asked for")
    if waiting is None:
        return refuse(f"no request '{answer.request_id}' was asked for here")
    if answer.capability != waiting.capability:
        return refuse(f"request {waiting.id} was asked by {waiting.capability}, not {answer.capability}")
    if not hmac.compare_digest(answer.nonce or "", waiting.nonce):
        return refuse(f"the nonce does not match request {waiting.id}")
    if not hmac.compare_digest(answer.digest or "", waiting.digest):
        return refuse(f"the subject does not match request {waiting.id}")
    if answer.environment != waiting.environment:
        return refuse(f"request {waiting.id} is for {waiting.environment}, not {answer.environment}")
    resume = False
    if waiting.state != "pending":
        same = (waiting.state == "decided" and waiting.decision_id == answer.decision_id
                and waiting.verdict == answer.verdict)
        if not same:
            return refuse(f"request {waiting.id} was already decided ({waiting.verdict} in {waiting.decision_id})")
        resume = True
    elif stamp(now) > waiting.valid_until:
        return refuse(f"request {waiting.id} expired at {waiting.valid_until}")

    if answer.verdict == "approved":
        found = approvers(waiting, answer, policy)
        return Verdict(found.ok, found.reason, found.approvers, resume) if found.ok else found
    if answer.verdict == "rejected":
        why = _not_allowed(waiting, answer.decided_by, _groups(answer, answer.decided_by), policy)
        if why is not None:
            return refuse(f"the rejection by {answer.decided_by} does not count here: {why}")
        return Verdict(True, f"rejected by {answer.decided_by}", (), resume)
    if answer.verdict == "expired":
        if waiting.deadline is None:
            return refuse(f"request {waiting.id} has no deadline: it cannot expire")
        return Verdict(True, "expired", (), resume)
    return refuse(f"unknown verdict {answer.verdict!r}")


def approvers(waiting: Waiting, answer: Answer, policy: Policy) -> Verdict:
    """The distinct approvers who hold the role here (and the group, and pass four eyes): at least ``required``."""
    if answer.decided_by not in answer.approvals:
        return refuse(f"the last approver {answer.decided_by} is not among the approvals")
    counted: list[str] = []
    notes: list[str] = []
    for user in dict.fromkeys(answer.approvals):  # each person once, in order
        why = _not_allowed(waiting, user, _groups(answer, user), policy)
        if why is None:
            why = _four_eyes(waiting, user, policy)
        if why is None:
            counted.append(user)
        else:
            notes.append(f"{user}: {why}")
    if len(counted) < waiting.required:
        missing = f" (not counted: {'; '.join(notes)})" if notes else ""
        return refuse(f"{len(counted)} of {waiting.required} required approvals count here{missing}")
    return Verdict(True, f"approved by {', '.join(counted)}", tuple(counted))


def _groups(answer: Answer, user: str) -> frozenset[str]:
    """The user groups the front door resolved for ``user``: only user-group ids (a user id among them would grant
    that user's roles)."""
    return frozenset(g for g in answer.groups.get(user, ()) if isinstance(g, str) and USER_GROUP.match(g))


def _not_allowed(waiting: Waiting, user: str, groups: frozenset[str], policy: Policy) -> str | None:
    allowed = rbac.authorise(policy, waiting.environment, Role(waiting.role), user, groups)
    if not allowed.allowed:
        return allowed.reason.replace("you need", "needs")
    if waiting.group and waiting.group not in groups:
        return f"not in user group {waiting.group}"
    return None


def _four_eyes(waiting: Waiting, user: str, policy: Policy) -> str | None:
    if not (waiting.four_eyes or waiting.environment in policy.slack.four_eyes):
        return None
    if user == waiting.requester:
        return "four eyes: the requester may not approve"
    if waiting.author:
        mine = {i.lower() for i in policy.slack.identities.get(user, ())}
        if waiting.author.lower() in mine or waiting.author == user:
            return "four eyes: the author may not approve"
    return None
