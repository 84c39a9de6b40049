"""Who may do what where: pure functions over the policy's ``slack.roles`` and a user's group ids.

``admin`` implies every role; holding any role implies ``viewer``. Roles are per environment: being an operator
in stage says nothing about prod.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.policy.schema import Policy, Role


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # why (shown to the user when denied; audited either way)


def roles_of(policy: Policy, environment: str, user: str, groups: Iterable[str] = ()) -> set[Role]:
    principals = {user, *groups}
    granted = policy.slack.roles.get(environment, {})
    return {role for role, members in granted.items() if principals & set(members)}


def has(held: set[Role], needed: Role) -> bool:
    return needed in held or Role.ADMIN in held or (needed is Role.VIEWER and bool(held))


def authorise(policy: Policy, environment: str, needed: Role | None, user: str,
              groups: Iterable[str] = ()) -> Decision:
    if needed is None:
        return Decision(True, "no role needed")
    held = roles_of(policy, environment, user, groups)
    if has(held, needed):
        return Decision(True, f"<@{user}> is {needed} in {environment}")
    having = f" (you have: {', '.join(sorted(held))})" if held else ""
    return Decision(False, f"you need the {needed} role in {environment}{having}")


def four_eyes(policy: Policy, environment: str, approver: str, requester: str | None,
              author: str | None) -> Decision:
    """In a four-eyes environment the approver is neither the requester nor the commit author."""
    if environment not in policy.slack.four_eyes:
        return Decision(True, f"{environment} does not require four eyes")
    if requester is not None and approver == requester:
        return Decision(False, "four eyes: you requested this, someone else must approve it")
    if author:
        mine = {i.lower() for i in policy.slack.identities.get(approver, ())}
        if author.lower() in mine:
            return Decision(False, "four eyes: you wrote this change, someone else must approve it")
    return Decision(True, "four eyes: approver is neither requester nor author")
