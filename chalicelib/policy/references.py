"""Cross-reference checks: every name a policy uses must point at something it defines.

Like Alertmanager's "undefined receiver" check at load time: a typo fails validation, not the 3 a.m. alert.
Each problem carries the path of the entry that holds the bad reference and the path of the offending
value (for its line number).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.policy.schema import Policy

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Dangling:
    path: Path  # where the error is reported
    message: str
    value_path: Path  # where the bad value sits (for the line number)


def check(policy: Policy) -> list[Dangling]:
    return list(_check(policy))


def _check(policy: Policy) -> Iterator[Dangling]:
    accounts = policy.accounts()
    environments = policy.environments()

    ids: dict[str, str] = {}
    for name, (acct_id, _) in accounts.items():
        if acct_id in ids:
            where = ("account", "id") if name == policy.account.name else ("peers", name, "id")
            yield Dangling(where[:-1], f"account id {acct_id} is already used by '{ids[acct_id]}'", where)
        ids.setdefault(acct_id, name)
    if policy.account.name in policy.peers:
        yield Dangling(("peers", policy.account.name), "a peer cannot have this account's own name",
                       ("peers", policy.account.name))

    def account_ref(entry: Path, env: str, account: str) -> Iterator[Dangling]:
        value = (*entry, "account")
        if account not in accounts:
            yield Dangling(entry, f"unknown account '{account}'", value)
        elif accounts[account][1] != env:
            yield Dangling(entry, f"account '{account}' is environment '{accounts[account][1]}', not '{env}'",
                           value)

    def env_key(entry: Path, env: str) -> Iterator[Dangling]:
        if env not in environments:
            yield Dangling(entry, f"unknown environment '{env}'", entry)

    for app_name, app in policy.apps.items():
        base = ("apps", app_name)
        for env, pipe in app.pipelines.items():
            yield from env_key((*base, "pipelines", env), env)
            yield from account_ref((*base, "pipelines", env), env, pipe.account)
        for field in ("ecs_services", "asgs"):
            for env, refs in getattr(app, field).items():
                yield from env_key((*base, field, env), env)
                for i, ref in enumerate(refs):
                    yield from account_ref((*base, field, env, i), env, ref.account)

    if policy.slack.front_door is not None and policy.slack.front_door not in accounts:
        yield Dangling(("slack", "front_door"), f"unknown account '{policy.slack.front_door}'",
                       ("slack", "front_door"))

    for env in policy.slack.roles:
        yield from env_key(("slack", "roles", env), env)
    for i, env in enumerate(policy.slack.four_eyes):
        # the default ("prod") is allowed to name no environment of a prod-less estate; a written one is checked
        if env not in environments and "four_eyes" in policy.slack.model_fields_set:
            yield Dangling(("slack", "four_eyes", i), f"unknown environment '{env}'", ("slack", "four_eyes", i))

    for app_name, path in policy.promotion.paths.items():
        if app_name not in policy.apps:
            yield Dangling(("promotion", "paths", app_name), f"unknown app '{app_name}'",
                           ("promotion", "paths", app_name))
        for i, env in enumerate(path):
            if env not in environments:
                yield Dangling(("promotion", "paths", app_name, i), f"unknown environment '{env}'",
                               ("promotion", "paths", app_name, i))

    for i, freeze in enumerate(policy.freezes):
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

    # the capabilities' own sections check their own references
    for section in (policy.alerts, policy.promotion, policy.scaling, policy.rotation):
        for path, message, value_path in section.dangling(policy):
            yield Dangling(path, message, value_path)

