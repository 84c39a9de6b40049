"""Where a command runs: which environment it acts in, and so which account (this one or a peer).

Pure functions over the parsed command and the policy. A command acts in exactly the environments returned;
each is served by this account or by the peer that has that environment and accepts commands from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from chalicelib.frontdoor.grammar import Command
from chalicelib.policy.schema import Flow, Policy


class Unresolvable(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    environment: str
    account: str  # account name: policy.account.name (here) or a peer's name
    local: bool
    authorised_in: str | None = None  # the environment whose roles it needs, when not ``environment``

    @property
    def role_environment(self) -> str:
        return self.authorised_in or self.environment


def account_for(policy: Policy, environment: str) -> Target:
    if environment == policy.account.environment:
        return Target(environment, policy.account.name, True)
    for name, peer in sorted(policy.peers.items()):
        if peer.environment == environment and Flow.COMMAND in peer.send:
            return Target(environment, name, False)
    raise Unresolvable(f"no account for environment '{environment}' takes commands from here")


def environments(cmd: Command, policy: Policy) -> list[str]:
    """The environments a command acts in (empty: it acts nowhere in particular, e.g. help)."""
    args = cmd.args
    own = policy.account.environment
    if cmd.name == "help":
        return []
    if cmd.name in ("ack", "unsilence"):
        from chalicelib.alerts.ids import environment_of

        named = environment_of(args.get("incident") or args.get("id") or "")
        return [named or own]
    if cmd.name == "silences":
        return sorted({own} | {p.environment for p in policy.peers.values() if Flow.COMMAND in p.send})
    if cmd.name == "status":
        path = policy.promotion.paths.get(args.get("app") or "")
        return sorted({own, *path}) if path else [own]  # and each account of the app's path says what runs there
    if cmd.name in ("rotate", "deadletters", "redrive"):
        return [args.get("env") or own]
    if cmd.name == "audit":
        target = args.get("target")
        app = policy.apps.get(target) if target else None
        if app is not None:
            envs = set(app.pipelines) | set(app.ecs_services) | set(app.asgs)
        else:
            envs = {own} | {p.environment for p in policy.peers.values() if Flow.COMMAND in p.send}
        return sorted(envs)
    if cmd.name in ("promote", "hold", "unhold"):
        app = args["app"]
        if app not in policy.apps:
            raise Unresolvable(f"unknown app '{app}'")
        path = policy.promotion.paths.get(app)
        if not path:
            raise Unresolvable(f"app '{app}' has no promotion path in policy")
        if cmd.name != "promote":
            return [path[-1]]  # holds stop deploys: they live where the deploys happen
        target = policy.promotion.destination(app, args.get("env")) or ""
        if target not in policy.environments():
            raise Unresolvable(f"unknown environment '{target}'")
        source = policy.promotion.previous_environment(app, target)
        if source is None:
            raise Unresolvable(f"nothing promotes {app} to '{target}' (its path: {' → '.join(path)})")
        return [source]  # promotions start where the candidate soaks: the source environment's account
    if cmd.name == "scale":
        target = policy.scaling.targets.get(args["target"])
        if target is None:
            raise Unresolvable(f"unknown scaling target '{args['target']}'")
        return [policy.accounts()[target.account][1]]
    if cmd.name == "silence":
        named = {m.value for m in args["matchers"] if m.label in ("env", "environment") and m.op == "="}
        if len(named) > 1:
            raise Unresolvable("a silence names one environment at most")
        return sorted(named) or [own]
    # approve/reject name a decision, which lives in the front door
    return []


def authorised_in(cmd: Command, policy: Policy) -> str | None:
    """``promote`` runs where the candidate soaks but is allowed by the roles of the environment it deploys to."""
    if cmd.name == "promote":
        return policy.promotion.destination(cmd.args["app"], cmd.args.get("env"))
    return None


def resolve(cmd: Command, policy: Policy, *, here_only: bool = False) -> list[Target]:
    """Where the command acts. ``here_only`` (a command forwarded to this account): this environment or nowhere."""
    envs = environments(cmd, policy)
    unknown = [e for e in envs if e not in policy.environments()]
    if unknown:
        raise Unresolvable(f"unknown environment '{unknown[0]}'")
    if here_only:
        own = policy.account.environment
        if envs and own not in envs:
            raise Unresolvable(f"this account ({own}) does not serve {', '.join(envs)}")
        envs = [e for e in envs if e == own]
    role_env = authorised_in(cmd, policy)
    return [replace(account_for(policy, env), authorised_in=role_env) for env in envs]
