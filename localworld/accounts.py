"""The emulated accounts, read from the same files a real deployment uses: one Chalice stage per account
(.chalice/config.json) and that stage's policy YAML. Nothing about the estate is restated here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chalicelib.policy.loader import Policy, load

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Account:
    name: str
    id: str
    region: str
    environment: str
    env: dict[str, str]  # the stage's environment variables, as `chalice deploy` would set them
    policy: Policy

    @property
    def peer_links(self) -> list[tuple[str, str]]:
        """(account id, region) of every peer this account may send Switchboard events to."""
        return [(p.id, p.region) for p in self.policy.peers.values() if p.send]

    @property
    def admitted_peer_ids(self) -> list[str]:
        return sorted(p.id for p in self.policy.peers.values() if p.receive)


def load_accounts(root: Path = ROOT) -> dict[str, Account]:
    config = json.loads((root / ".chalice" / "config.json").read_text())
    accounts: dict[str, Account] = {}
    for stage, stage_cfg in config["stages"].items():
        env = {**config.get("environment_variables", {}), **stage_cfg.get("environment_variables", {})}
        policy = load(root / "chalicelib" / env["SWITCHBOARD_POLICY_FILE"])
        accounts[stage] = Account(stage, policy.account.id, policy.account.region, policy.account.environment,
                                  env, policy)
    return accounts
