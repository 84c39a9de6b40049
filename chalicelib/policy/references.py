"""Cross-reference checks: every name a policy uses must point at something it defines.

Like Alertmanager's "undefined receiver" check at load time: a typo fails validation, not the 3 a.m. alert.
Each problem carries the path of the entry that holds the bad reference and the path of the offending
value (for its line number).

Checks are grouped by the top-level section holding the reference (``check_core``, then one checker per
section in ``SECTIONS``), so a lazily loaded policy checks a section's references when it validates that
section; ``check`` runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.policy.schema import Policy, PolicyCore

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Dangling:
    path: Path  # where the error is reported
    message: str
    value_path: Path  # where the bad value sits (for the line number)


def check(policy: Policy) -> list[Dangling]:
    """Every dangling reference in the policy."""
    found = check_core(policy) + list(_keys(policy))
    for name in type(policy).lazy_sections():
        found.extend(check_section(policy, name, getattr(policy, name)))
    return found


def _keys(policy: PolicyCore) -> Iterator[Dangling]:
    """Pinned public keys parse (a peer without one can send nothing that is believed: its events are refused
    with that reason). Checked when the whole
    policy is validated (deploy, CLI, tests), not at a Lambda cold start: parsing keys needs `cryptography`,
    which only the peer handler imports (on its first event, where a bad key is refused with the same reason)."""
    from chalicelib.peering.envelope import check_public_key

    holders: list[tuple[Path, str | None]] = [(("account",), policy.account.public_key)]
    holders += [(("peers", name), peer.public_key) for name, peer in policy.peers.items()]
    for where, pem in holders:
        if pem is not None and (problem := check_public_key(pem)) is not None:
            yield Dangling(where, f"public_key: {problem}", (*where, "public_key"))


def check_core(policy: PolicyCore) -> list[Dangling]:
    """The core's own references (account ids, peer names)."""
    return list(_core(policy))


def check_section(policy: Policy, name: str, value: Any) -> list[Dangling]:
    """The references held by section ``name`` whose validated value is ``value`` (it may not be on ``policy``
    yet). Reads other sections of ``policy`` as it needs them."""
    return list(SECTIONS.get(name, _own)(policy, value))


def _core(policy: PolicyCore) -> Iterator[Dangling]:
    ids: dict[str, str] = {}
    for name, (acct_id, _) in policy.accounts().items():
        if acct_id in ids:
            where = ("account", "id") if name == policy.account.name else ("peers", name, "id")
            yield Dangling(where[:-1], f"account id {acct_id} is already used by '{ids[acct_id]}'", where)
        ids.setdefault(acct_id, name)
    if policy.account.name in policy.peers:
        yield Dangling(("peers", policy.account.name), "a peer cannot have this account's own name",
                       ("peers", policy.account.name))


def _account_ref(policy: PolicyCore, entry: Path, env: str, account: str) -> Iterator[Dangling]:
    accounts = policy.accounts()
    value = (*entry, "account")
    if account not in accounts:
        yield Dangling(entry, f"unknown account '{account}'", value)
    elif accounts[account][1] != env:
        yield Dangling(entry, f"account '{account}' is environment '{accounts[account][1]}', not '{env}'", value)


def _env_key(policy: PolicyCore, entry: Path, env: str) -> Iterator[Dangling]:
    if env not in policy.environments():
        yield Dangling(entry, f"unknown environment '{env}'", entry)


def _apps(policy: Policy, apps: Any) -> Iterator[Dangling]:
    for app_name, app in apps.items():
        base = ("apps", app_name)
        for env, pipe in app.pipelines.items():
            yield from _env_key(policy, (*base, "pipelines", env), env)
            yield from _account_ref(policy, (*base, "pipelines", env), env, pipe.account)
        for field in ("ecs_services", "asgs"):
            for env, refs in getattr(app, field).items():
                yield from _env_key(policy, (*base, field, env), env)
                for i, ref in enumerate(refs):
                    yield from _account_ref(policy, (*base, field, env, i), env, ref.account)


def _slack(policy: Policy, slack: Any) -> Iterator[Dangling]:
    environments = policy.environments()
    if slack.front_door is not None and slack.front_door not in policy.accounts():
        yield Dangling(("slack", "front_door"), f"unknown account '{slack.front_door}'", ("slack", "front_door"))
    for env in slack.roles:
        yield from _env_key(policy, ("slack", "roles", env), env)
    for i, env in enumerate(slack.four_eyes):
        # the default ("prod") is allowed to name no environment of a prod-less estate; a written one is checked
        if env not in environments and "four_eyes" in slack.model_fields_set:
            yield Dangling(("slack", "four_eyes", i), f"unknown environment '{env}'", ("slack", "four_eyes", i))


def _freezes(policy: Policy, freezes: Any) -> Iterator[Dangling]:
    environments = policy.environments()
    for i, freeze in enumerate(freezes):
        entry = ("freezes", i)
        if (freeze.weekly is None) == (freeze.dates is None):
            yield Dangling(entry, "a freeze is either 'weekly' or 'dates'", entry)
        if freeze.dates is not None and freeze.dates.end <= freeze.dates.start:
            yield Dangling(entry, "a freeze's 'to' must be after its 'from'", (*entry, "dates"))
        if freeze.dates is not None and (freeze.dates.start.tzinfo or freeze.dates.end.tzinfo):
            yield Dangling(entry, "freeze dates are local times in 'timezone': drop the offset", (*entry, "dates"))
        try:
            ZoneInfo(freeze.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            yield Dangling(entry, f"unknown time zone '{freeze.timezone}'", (*entry, "timezone"))
        for j, env in enumerate(freeze.environments):
            if env not in environments:
                yield Dangling(entry, f"unknown environment '{env}'", (*entry, "environments", j))


def _own(policy: Policy, section: Any) -> Iterator[Dangling]:
    """A capability's section checks its own references."""
    for path, message, value_path in section.dangling(policy):
        yield Dangling(path, message, value_path)


# The sections the policy document shares (schema.py, limits.py); a capability's section checks its own (``_own``).
SECTIONS: dict[str, Callable[[Policy, Any], Iterator[Dangling]]] = {
    "apps": _apps,
    "slack": _slack,
    "freezes": _freezes,
    "limits": _own,
}
