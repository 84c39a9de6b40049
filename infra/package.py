"""Build the CloudFormation of one or more accounts: ``python -m infra.package [STAGE ...]`` (``make package``).

For each stage (every stage of .chalice/config.json when none is named): load and validate the stage's policy,
run ``chalice package --stage STAGE --merge-template infra/app.yaml build/STAGE`` in the policy's region
(``account.region``: no AWS configuration is needed, and none is read), then complete ``build/STAGE/sam.yaml``
with infra/harden.py. The result is what ``aws cloudformation package``/``deploy`` take (README, "Deploying").

The deployment zip keeps only the botocore service models the code uses (``services_used``: derived from the
code, see there); botocore's models of the other ~430 services were two thirds of the zip.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import zipfile
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
    slim(out / "deployment.zip")
    path = out / "sam.yaml"
    try:
        template = harden(load_sam(path), policy.limits)
    except TemplateError as exc:
        raise SystemExit(f"{path}: {exc}") from None
    path.write_text(dump_sam(template))
    return path


def summary(stage: str, path: Path) -> str:
    """One line: the stage, its template, its functions, the Lambda concurrency it reserves, the zip's size."""
    template = load_sam(path)
    reserved = [r["Properties"]["ReservedConcurrentExecutions"] for r in template["Resources"].values()
                if r["Type"] == "AWS::Serverless::Function"]
    code = path.parent / "deployment.zip"
    # Lambda keeps at least 100 of an account's concurrency unreserved
    return (f"{stage}: {path.relative_to(ROOT)} ({len(reserved)} functions, {sum(reserved)} concurrent executions "
            f"reserved: the account's Lambda concurrency quota must be at least {sum(reserved) + 100}); "
            f"deployment.zip {code.stat().st_size / 1e6:.1f} MB")


# ---- botocore's service models: only those the code uses ----

CODE = (ROOT / "app.py", ROOT / "chalicelib")
# what makes a client: chalicelib.aws.client/client_as, boto3/Session .client/.resource, botocore's create_client
CLIENT_FACTORIES = {"client", "client_as", "resource", "create_client"}
BOTOCORE_DATA = "botocore/data/"


def available_services() -> set[str]:
    """Every service botocore has a model of (its loader: no AWS configuration is read)."""
    from botocore.loaders import create_loader

    return set(create_loader().list_available_services("service-2"))


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _first_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg in ("service", "service_name")), None)


def scan(source: str, services: set[str]) -> tuple[set[str], set[str], bool, list[int]]:
    """One module: (services its client calls name, services any of its calls names first, whether it imports
    PynamoDB, lines of client calls whose service is not written out)."""
    tree = ast.parse(source)
    named, mentioned, pynamodb, dynamic = set(), set(), False, []
    parameters = {a.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                  for a in node.args.args + node.args.kwonlyargs}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            pynamodb = pynamodb or any(m.split(".")[0] == "pynamodb" for m in modules)
        if not isinstance(node, ast.Call):
            continue
        first = _first_argument(node)
        literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        if literal in services:
            mentioned.add(literal)
        if _name(node.func) not in CLIENT_FACTORIES or first is None:
            continue
        if literal in services:
            named.add(literal)
        elif literal is None and not (isinstance(first, ast.Name) and first.id in parameters):
            dynamic.append(node.lineno)  # a parameter passed through is a factory: its callers are scanned
    return named, mentioned, pynamodb, dynamic


def services_used(code: tuple[Path, ...] = CODE, services: set[str] | None = None) -> set[str]:
    """The AWS services whose botocore models the deployed code needs, read from its source:

    - every client call (``aws.client("sqs")``, ``client("ecs")``, ``boto3.client(...)``, ``.resource(...)``,
      ``create_client(...)``) whose service is written out;
    - a client call whose service is computed (``client(action.service)``): every service named as the first
      argument of any call in that call's package (``Action("ecs", "update_service", ...)`` in scaling/plan.py);
    - PynamoDB's service (``pynamodb.constants.SERVICE_NAME``) when the code imports PynamoDB.

    Libraries that make clients of their own are given one by the code (Powertools' ``boto3_client=``, Bolt's
    ``lambda_client=``), so the code's calls cover them. tests/test_packaging.py creates every one of these
    clients from a packaged zip."""
    services = available_services() if services is None else services
    used: set[str] = set()
    by_package: dict[Path, set[str]] = {}
    computed: list[Path] = []
    for root in code:
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            named, mentioned, pynamodb, dynamic = scan(path.read_text(), services)
            used |= named
            by_package.setdefault(path.parent, set()).update(mentioned)
            if pynamodb:
                from pynamodb.constants import SERVICE_NAME

                used.add(SERVICE_NAME)
            if dynamic:
                computed.append(path.parent)
    for package in computed:
        used |= by_package[package]
    return used


def slim(deployment: Path, keep: set[str] | None = None) -> None:
    """Rewrite ``deployment`` without botocore's models of the services not in ``keep`` (default: the code's)."""
    keep = services_used() if keep is None else keep
    slimmed = deployment.with_suffix(".slim.zip")
    with zipfile.ZipFile(deployment) as source, zipfile.ZipFile(slimmed, "w", zipfile.ZIP_DEFLATED,
                                                                 compresslevel=9) as target:
        for info in source.infolist():
            rest = info.filename.removeprefix(BOTOCORE_DATA)
            if rest != info.filename and "/" in rest and rest.split("/", 1)[0] not in keep:
                continue  # a service's folder; the files at the top of botocore/data (endpoints...) all stay
            target.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    slimmed.replace(deployment)


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
