"""Where a command runs: which environment it acts in, and so which account (this one or a peer).

Pure functions over the parsed command and the policy. A command acts in exactly the environments its manifest's
``where`` returns; each is served by this account or by the peer that has that environment and accepts commands
from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from chalicelib import capabilities
from chalicelib.commandline import Unresolvable
from chalicelib.policy.schema import Flow, Policy
from chalicelib.slackkit.commands import Command

__all__ = ["Target", "Unresolvable", "account_for", "authorised_in", "environments", "resolve"]


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
    """The environments a command acts in (empty: it acts nowhere in particular, e.g. help): its manifest's
    ``where`` (approve/reject name a decision, which lives in the front door: nowhere)."""
    _, spec = capabilities.COMMANDS[cmd.name]
    return spec.where(cmd, policy)


def authorised_in(cmd: Command, policy: Policy) -> str | None:
    """The environment whose roles allow the command, when not the one it acts in (``promote`` runs where the
    candidate soaks but is allowed by the roles of the environment it deploys to)."""
    _, spec = capabilities.COMMANDS[cmd.name]
    return spec.authorised_in(cmd, policy) if spec.authorised_in else None


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
