"""Build the CloudFormation of one or more accounts: ``python -m infra.package [STAGE ...]`` (``make package``).

For each stage (every stage of .chalice/config.json when none is named): load and validate the stage's policy,
run ``chalice package --stage STAGE --merge-template infra/app.yaml build/STAGE`` in the policy's region
(``account.region``: no AWS configuration is needed, and none is read), then complete ``build/STAGE/sam.yaml``
with infra/harden.py. The result is what ``aws cloudformation package``/``deploy`` take (README, "Deploying").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from chalicelib.policy.loader import Policy, PolicyError, load
from infra.harden import TemplateError, harden

ROOT = Path(__file__).resolve().parent.parent
APP_TEMPLATE = ROOT / "infra" / "app.yaml"
BUILD = ROOT / "build"


def chalice_config() -> dict[str, Any]:
    return json.loads((ROOT / ".chalice" / "config.json").read_text())


def stages() -> list[str]:
    return list(chalice_config()["stages"])


def stage_policy(stage: str) -> Policy:
    """The policy the stage deploys (its SWITCHBOARD_POLICY_FILE, relative to chalicelib/), validated in full."""
    config = chalice_config()
    if stage not in config["stages"]:
        raise SystemExit(f"unknown stage '{stage}': .chalice/config.json has {', '.join(config['stages'])}")
    env = {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}
    return load(ROOT / "chalicelib" / env["SWITCHBOARD_POLICY_FILE"])


def load_sam(path: Path) -> dict[str, Any]:
    # Chalice writes the long form (Fn::Sub, Ref): plain YAML
    return yaml.safe_load(path.read_text())


class _NoAliases(yaml.SafeDumper):
    """Writes a value used twice twice: CloudFormation takes no YAML anchors (the AWS CLI flattens them too)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_sam(template: dict[str, Any]) -> str:
    return yaml.dump(template, Dumper=_NoAliases, sort_keys=True, width=120)


# the `chalice` command, run by this interpreter (tests put a stand-in for the deployment zip in front of it)
CHALICE = [sys.executable, "-c", "import sys; from chalice.cli import main; sys.exit(main())"]
# AWS settings that would make packaging read a profile or credentials file: packaging needs none
AWS_CONFIGURATION = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
                     "AWS_SHARED_CREDENTIALS_FILE")


def chalice_env(region: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment `chalice package` runs in: no AWS configuration but the policy's region."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if k not in AWS_CONFIGURATION}
    return {**env, "AWS_DEFAULT_REGION": region, "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def package(stage: str, out: Path | None = None, chalice: list[str] = CHALICE) -> Path:
    """Build ``out`` (default build/STAGE) and return its template's path.

    Chalice runs in a process of its own for each stage: it imports app.py with the stage's environment, and
    app.py reads the stage's policy (the peer rule's pattern comes from it).
    """
    policy = stage_policy(stage)
    out = out or BUILD / stage
    subprocess.run([*chalice, "package", "--stage", stage, "--merge-template", str(APP_TEMPLATE), str(out)],
                   cwd=ROOT, env=chalice_env(policy.account.region), check=True)
    path = out / "sam.yaml"
    try:
        template = harden(load_sam(path), policy.limits)
    except TemplateError as exc:
        raise SystemExit(f"{path}: {exc}") from None
    path.write_text(dump_sam(template))
    return path


def summary(stage: str, path: Path) -> str:
    """One line: the stage, its template, its functions and the Lambda concurrency it reserves."""
    template = load_sam(path)
    reserved = [r["Properties"]["ReservedConcurrentExecutions"] for r in template["Resources"].values()
                if r["Type"] == "AWS::Serverless::Function"]
    # Lambda keeps at least 100 of an account's concurrency unreserved
    return (f"{stage}: {path.relative_to(ROOT)} ({len(reserved)} functions, {sum(reserved)} concurrent executions "
            f"reserved: the account's Lambda concurrency quota must be at least {sum(reserved) + 100})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.splitlines()[0])
    parser.add_argument("stages", nargs="*", metavar="STAGE", help="default: every stage of .chalice/config.json")
    args = parser.parse_args(argv)
    for stage in args.stages or stages():
        try:
            path = package(stage)
        except PolicyError as exc:
            raise SystemExit(str(exc)) from None
        print(summary(stage, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
