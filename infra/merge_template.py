"""The template `make package` merges into Chalice's: infra/app.yaml, less what this stage's app does not define.

Only the Slack front door (policy ``slack.front_door``) has a REST API (app.py defines the Slack routes there
alone), so only its package has Chalice's ``APIHandler``; a merged reference to it anywhere else would not
deploy. Written as JSON (Chalice merges JSON or YAML alike).

    python -m infra.merge_template prod build/prod-merge.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_TEMPLATE = ROOT / "infra" / "app.yaml"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
FRONT_DOOR_ONLY = ("APIHandlerEventInvokeConfig",)  # resources about the REST API's function


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, ...) read as their long form."""


def _cfn_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def is_front_door(stage: str) -> bool:
    """Whether the stage's policy (named in .chalice/config.json) says it is the Slack front door."""
    from chalicelib.policy import load
    from chalicelib.settings import from_environ

    stages = json.loads(CHALICE_CONFIG.read_text())["stages"]
    if stage not in stages:
        raise SystemExit(f"no stage {stage!r} in {CHALICE_CONFIG} (stages: {', '.join(sorted(stages))})")
    env = stages[stage].get("environment_variables", {})
    settings = from_environ(env)
    policy = load(settings.policy_path)
    return policy.slack.front_door == policy.account.name


def for_stage(stage: str) -> dict[str, Any]:
    template = yaml.load(APP_TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not is_front_door(stage):
        for logical_id in FRONT_DOOR_ONLY:
            template["Resources"].pop(logical_id)
    return template


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m infra.merge_template STAGE OUTPUT.json", file=sys.stderr)
        return 2
    stage, output = argv
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(for_stage(stage), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
