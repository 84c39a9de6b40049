"""May a rotation of a secret start now? Pure over the policy, an instant and what is known about the secret's
group; asked by createSecret (before anything is generated), by ``/ops rotate`` and again when an approval lands.

- ``rotation.enabled`` is the account's switch: off, no new rotation starts (one already past createSecret is
  finished: stopping half-way is the unsafe option).
- A freeze window (``freezes:`` in policy) in force for this account's environment defers every new rotation.
- Paired secrets (``rotation.groups``) never start rotating closer together than the group's ``spacing``: a member
  is refused while another one is being rotated, or rotated less than ``spacing`` ago.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from chalicelib import freezes
from chalicelib.policy.schema import Policy
from chalicelib.rotation.facts import Facts
from chalicelib.rotation.secrets import AWSPENDING, SecretStore, describe_or_none, stages_of
from chalicelib.timefmt import seconds, shown

FactsOf = Callable[[str], Facts | None]


def _when(at: datetime) -> str:
    return shown(at)


def may_start(policy: Policy, name: str, now: datetime, facts_of: FactsOf) -> str | None:
    """Why a rotation of ``name`` may not start at ``now`` (one sentence), or None."""
    section = policy.rotation
    if not section.enabled:
        return "rotation is disabled in this account's policy (rotation.enabled)"
    env = policy.account.environment
    for freeze in freezes.active(policy, env, now):
        return f"freeze '{freeze.name}' is in force in {env}" + (f" ({freeze.reason})" if freeze.reason else "")
    found = section.group_of(name)
    if found is None:
        return None
    group_name, group = found
    spacing = timedelta(seconds=seconds(group.spacing))
    stuck_after = timedelta(seconds=seconds(section.pending_stuck_after))
    for other in group.secrets:
        facts = facts_of(other) if other != name else None
        if facts is None:
            continue
        if facts.rotating(now, stuck_after):
            return (f"{other} (group {group_name}) is being rotated; members start at least {group.spacing} "
                    "apart")
        if facts.last_rotated is not None and now - facts.last_rotated < spacing:
            return (f"{other} (group {group_name}) rotated at {_when(facts.last_rotated)}; {name} may start from "
                    f"{_when(facts.last_rotated + spacing)}")
    return None


def facts_from(store: SecretStore) -> FactsOf:
    """Facts read from Secrets Manager (metadata only; versions' dates only when a pending version exists)."""
    def facts_of(name: str) -> Facts | None:
        meta = describe_or_none(store, name)
        if meta is None:
            return None
        pending = any(AWSPENDING in stages for stages in stages_of(meta).values())
        return Facts.of(meta, store.versions(name) if pending else None)
    return facts_of
