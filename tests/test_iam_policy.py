"""Each stage's IAM policy is generated from infra/iam_policy.py and names only this account's resources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.policy import load
from infra import iam_policy

ROOT = Path(__file__).resolve().parent.parent
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
STAGES = sorted(CONFIG["stages"])


def test_every_account_has_a_stage():
    assert STAGES == ["prod", "shared-services", "stage"]


@pytest.mark.parametrize("stage", STAGES)
def test_stage_config_is_least_privilege_and_complete(stage):
    cfg = CONFIG["stages"][stage]
    assert cfg["autogen_policy"] is False
    env = {**CONFIG["environment_variables"], **cfg["environment_variables"]}
    for key in ("SWITCHBOARD_ACCOUNT_NAME", "SWITCHBOARD_POLICY_FILE", "SWITCHBOARD_AUDIT_TABLE",
                "SWITCHBOARD_LEDGER_TABLE", "SWITCHBOARD_STATE_TABLE", "POWERTOOLS_LOG_LEVEL"):
        assert env.get(key), f"{stage} lacks {key}"
    assert load(ROOT / "chalicelib" / env["SWITCHBOARD_POLICY_FILE"]).account.name == env["SWITCHBOARD_ACCOUNT_NAME"]


@pytest.mark.parametrize("stage", STAGES)
def test_committed_policy_file_matches_the_generator(stage):
    committed = json.loads(iam_policy.path_for(stage).read_text())
    assert committed == iam_policy.render(stage), "run `python -m infra.iam_policy` and commit the result"


@pytest.mark.parametrize("stage", STAGES)
def test_policy_names_only_this_accounts_resources(stage):
    account_id = load(ROOT / "chalicelib" / "policies" / f"{stage}.yaml").account.id
    document = iam_policy.render(stage)
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and "*" not in statement["Action"]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Sid"] in UNSCOPABLE:  # AWS takes no resource for these actions
            assert resources == ["*"] and set(statement["Action"]) <= UNSCOPABLE[statement["Sid"]]
            continue
        for resource in resources:
            assert resource.split(":")[4] == account_id, resource


UNSCOPABLE = {
    "PromotionAlarms": {"cloudwatch:DescribeAlarms"},
    "RotationUnscoped": {"secretsmanager:GetRandomPassword", "secretsmanager:ListSecrets"},
    "ScalingDescribe": {"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribePolicies",
                        "application-autoscaling:DescribeScalableTargets"},
}
