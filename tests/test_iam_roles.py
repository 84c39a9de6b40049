"""Who may do what: every generated policy passes the IAM linter (parliament), and a table states, for each function
of each account, which dangerous actions it may perform. A function that gains one fails here.

The table is evaluated over the generated JSON by tests/iam_simulator.py (action and resource wildcards, the
condition operators the generator uses), so it tests the policies Chalice deploys, not the declarations.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from parliament import analyze_policy_string

from chalicelib.policy.loader import load
from infra import iam_policy
from tests.iam_simulator import allowed, decide

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["prod", "shared-services", "stage"]

# ---- the linter ----

# Findings parliament 1.6.4 makes that are wrong, each with the reason; anything else fails.
LINTER_ALLOWED = {
    # kms:ResourceAliases is a condition key of the KMS *key* resource type (AWS Service Authorization Reference,
    # and parliament's own iam_definition.json lists it there); parliament checks conditions against the action's
    # own keys only, so it calls every alias condition on Decrypt/Encrypt/GenerateDataKey/Sign unknown.
    ("UNKNOWN_CONDITION_FOR_ACTION", "kms:ResourceAliases"),
}


def _suppressed(finding) -> bool:
    return any(finding.issue == issue and key in str(finding.detail) for issue, key in LINTER_ALLOWED)


@pytest.mark.parametrize("stage", STAGES)
def test_every_generated_policy_passes_parliament(stage):
    problems = []
    for function in iam_policy.policies_for(stage):
        path = ROOT / ".chalice" / iam_policy.file_name(stage, function)
        analysed = analyze_policy_string(path.read_text(), include_community_auditors=True)
        problems += [f"{path.name}: {f.issue} {f.detail}" for f in analysed.findings if not _suppressed(f)]
    assert problems == []


def test_the_linter_is_live():
    """The same linter call finds what it should in a bad policy (so a clean result above means something)."""
    bad = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:CreateAccessKey", "s3:GetObject"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "*", "Condition": {
            "StringEquals": {"kms:NoSuchKey": "x"}}}]}
    issues = {f.issue for f in analyze_policy_string(json.dumps(bad), include_community_auditors=True).findings}
    assert {"RESOURCE_STAR", "UNKNOWN_CONDITION_FOR_ACTION"} <= issues


# ---- the dangerous actions ----

def cases(stage: str) -> dict[str, tuple[str, str, dict]]:
    """Short name -> (action, resource, request context) in this account."""
    policy = load(ROOT / "chalicelib" / "policies" / f"{stage}.yaml")
    r, a, env = policy.account.region, policy.account.id, policy.account.environment
    sent = sorted({str(f) for p in policy.peers.values() for f in p.send})
    tagged_secret = {"secretsmanager:ResourceTag/switchboard:rotation-kind": "api-key"}
    ecs_target = {"application-autoscaling:service-namespace": "ecs",
                  "application-autoscaling:scalable-dimension": "ecs:service:DesiredCount"}
    audit = f"arn:aws:dynamodb:{r}:{a}:table/switchboard-audit"
    return {
        "iam-key": ("iam:CreateAccessKey", f"arn:aws:iam::{a}:user/ci-deployer",
                    {"iam:ResourceTag/switchboard:rotation": "enabled"}),
        "iam-key-untagged": ("iam:CreateAccessKey", f"arn:aws:iam::{a}:user/admin", {}),
        "iam-key-other-tag": ("iam:CreateAccessKey", f"arn:aws:iam::{a}:user/admin",
                              {"iam:ResourceTag/switchboard:rotation": "disabled"}),
        "iam-policy": ("iam:AttachUserPolicy", f"arn:aws:iam::{a}:user/ci-deployer",
                       {"iam:ResourceTag/switchboard:rotation": "enabled"}),
        "iam-pass-role": ("iam:PassRole", f"arn:aws:iam::{a}:role/admin", {}),
        "audit-put": ("dynamodb:PutItem", audit, {}),
        "audit-update": ("dynamodb:UpdateItem", audit, {}),
        "audit-delete": ("dynamodb:DeleteItem", audit, {}),
        "audit-batch": ("dynamodb:BatchWriteItem", audit, {}),
        "audit-ttl": ("dynamodb:UpdateTimeToLive", audit, {}),
        "deploy": ("codepipeline:StartPipelineExecution", f"arn:aws:codepipeline:{r}:{a}:web-{env}", {}),
        "approve": ("codepipeline:PutApprovalResult", f"arn:aws:codepipeline:{r}:{a}:api-{env}/Prod/ApproveProd", {}),
        "secret-read": ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{r}:{a}:secret:svc/key-AbC123",
                        tagged_secret),
        "secret-write": ("secretsmanager:PutSecretValue", f"arn:aws:secretsmanager:{r}:{a}:secret:svc/key-AbC123",
                         tagged_secret),
        "secret-write-other-tag": ("secretsmanager:PutSecretValue",
                                   f"arn:aws:secretsmanager:{r}:{a}:secret:svc/key-AbC123",
                                   {"secretsmanager:ResourceTag/switchboard:rotation-kind": "whatever"}),
        "secret-rotate": ("secretsmanager:RotateSecret", f"arn:aws:secretsmanager:{r}:{a}:secret:svc/key-AbC123",
                          tagged_secret),
        "secret-untagged": ("secretsmanager:GetSecretValue",
                            f"arn:aws:secretsmanager:{r}:{a}:secret:db/root-AbC123", {}),
        "slack-secret": ("secretsmanager:GetSecretValue",
                         f"arn:aws:secretsmanager:{r}:{a}:secret:switchboard/slack-AbC123", {}),
        "asg": ("autoscaling:UpdateAutoScalingGroup",
                f"arn:aws:autoscaling:{r}:{a}:autoScalingGroup:0f1e:autoScalingGroupName/api", {}),
        "asg-other": ("autoscaling:UpdateAutoScalingGroup",
                      f"arn:aws:autoscaling:{r}:{a}:autoScalingGroup:0f1e:autoScalingGroupName/bastion", {}),
        "ecs": ("ecs:UpdateService", f"arn:aws:ecs:{r}:{a}:service/{env}/web", {}),
        "scalable-target": ("application-autoscaling:RegisterScalableTarget",
                            f"arn:aws:application-autoscaling:{r}:{a}:scalable-target/0ec1", ecs_target),
        "scalable-target-dynamodb": ("application-autoscaling:RegisterScalableTarget",
                                     f"arn:aws:application-autoscaling:{r}:{a}:scalable-target/0dd1",
                                     {**ecs_target, "application-autoscaling:service-namespace": "dynamodb"}),
        "invoke-api": ("lambda:InvokeFunction", f"arn:aws:lambda:{r}:{a}:function:switchboard-{stage}", {}),
        "invoke-rotation": ("lambda:InvokeFunction",
                            f"arn:aws:lambda:{r}:{a}:function:switchboard-{stage}-rotate_secret", {}),
        "invoke-other": ("lambda:InvokeFunction", f"arn:aws:lambda:{r}:{a}:function:billing", {}),
        "decrypt-via-secrets": ("kms:Decrypt", f"arn:aws:kms:{r}:{a}:key/1111",
                                {"kms:ViaService": f"secretsmanager.{r}.amazonaws.com",
                                 "kms:ResourceAliases": ["alias/app-secrets"]}),
        "decrypt-direct": ("kms:Decrypt", f"arn:aws:kms:{r}:{a}:key/2222",
                           {"kms:ResourceAliases": ["alias/switchboard"]}),
        "sign": ("kms:Sign", f"arn:aws:kms:{r}:{a}:key/3333", {"kms:ResourceAliases": ["alias/switchboard-signing"]}),
        "sign-other-key": ("kms:Sign", f"arn:aws:kms:{r}:{a}:key/4444", {"kms:ResourceAliases": ["alias/switchboard"]}),
        "put-events": ("events:PutEvents", f"arn:aws:events:{r}:{a}:event-bus/default",
                       {"events:source": "switchboard", "events:detail-type": f"Switchboard {sent[0]}"}),
        "put-events-other-source": ("events:PutEvents", f"arn:aws:events:{r}:{a}:event-bus/default",
                                    {"events:source": "aws.codepipeline",
                                     "events:detail-type": "CodePipeline Pipeline Execution State Change"}),
    }


NOBODY = {"iam-key-untagged", "iam-key-other-tag", "iam-policy", "iam-pass-role", "audit-update", "audit-delete",
          "audit-batch", "audit-ttl", "secret-write-other-tag", "secret-untagged", "asg-other",
          "scalable-target-dynamodb", "invoke-other", "decrypt-direct", "sign-other-key", "put-events-other-source"}
EVERYBODY = {"audit-put"}

# What each function may do beyond EVERYBODY (every other case, NOBODY's included, it may not).
_ANNOUNCE = {"put-events", "sign"}  # stage and prod say things in Slack through the front door
_SCALE = {"asg", "ecs", "scalable-target"}
_PROMOTE_PROD = {"deploy", "approve"}
_ROTATE_CMD = {"secret-rotate", "invoke-rotation"}
_ROTATE_DECIDE = {"secret-rotate", "invoke-rotation", "secret-read", "decrypt-via-secrets"}
_ROTATOR = {"secret-read", "secret-write", "decrypt-via-secrets"}
MAY = {
    "prod": {
        "on_codepipeline": _PROMOTE_PROD | _ANNOUNCE,
        "on_alarm": _PROMOTE_PROD | _SCALE | _ANNOUNCE,
        "on_ecs": _ANNOUNCE,  # every function feeds the console (audit.record -> a signed feed event)
        "on_autoscaling": _ANNOUNCE,
        "on_secrets": _ANNOUNCE,
        "on_schedule": _PROMOTE_PROD | _SCALE | _ANNOUNCE,
        "on_peer": _PROMOTE_PROD | _SCALE | _ROTATE_DECIDE | _ANNOUNCE,
        "scaling_tick": _SCALE | _ANNOUNCE,
        "promotion_tick": _PROMOTE_PROD | _ANNOUNCE,
        "alerts_flush": _ANNOUNCE,
        "slack_outbox": _ANNOUNCE,  # the console's feed
        "slack_cards": _ANNOUNCE,  # the console's feed (it returns at once: no card is queued outside the front door)
        "rotate_secret": _ROTATOR | _ANNOUNCE,  # the console's feed
        "rotation_watch": _ANNOUNCE,
    },
    "stage": {
        "on_codepipeline": _ANNOUNCE,  # stage is the source: it reads its pipelines, hands candidates to prod
        "on_alarm": _SCALE | _ANNOUNCE,
        "on_ecs": _ANNOUNCE,  # every function feeds the console (audit.record -> a signed feed event)
        "on_autoscaling": _ANNOUNCE,
        "on_secrets": _ANNOUNCE,
        "on_schedule": _SCALE | _ANNOUNCE,
        "on_peer": _SCALE | _ROTATE_DECIDE | _ANNOUNCE,
        "scaling_tick": _SCALE | _ANNOUNCE,
        "promotion_tick": _ANNOUNCE,
        "alerts_flush": _ANNOUNCE,
        "slack_outbox": _ANNOUNCE,  # the console's feed
        "slack_cards": _ANNOUNCE,  # the console's feed (it returns at once: no card is queued outside the front door)
        "rotate_secret": _ROTATOR | _ANNOUNCE,  # the console's feed
        "rotation_watch": _ANNOUNCE,
    },
    "shared-services": {  # the front door: it posts to Slack itself; no deploys, no scaling targets here
        "api_handler": {"slack-secret", "invoke-api", "put-events", "sign"} | _ROTATE_DECIDE,
        "on_codepipeline": set(),
        "on_alarm": set(),
        "on_ecs": set(),
        "on_autoscaling": set(),
        "on_secrets": {"slack-secret"},
        "on_schedule": set(),
        "on_peer": {"slack-secret"},
        "scaling_tick": set(),
        "promotion_tick": set(),
        "alerts_flush": {"slack-secret"},
        "slack_outbox": {"slack-secret", "put-events", "sign"} | _ROTATE_DECIDE,
        "slack_cards": {"slack-secret"},  # the card queue (state table) and Slack: nothing else
        "rotate_secret": _ROTATOR,
        "rotation_watch": {"slack-secret"},
    },
}


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_may_do_exactly_the_dangerous_things_the_table_says(stage):
    documents = iam_policy.policies_for(stage)
    assert set(MAY[stage]) == set(documents)
    table = cases(stage)
    assert NOBODY | EVERYBODY | {c for f in MAY.values() for s in f.values() for c in s} <= set(table)
    wrong = []
    for function, document in documents.items():
        for name, (action, resource, context) in table.items():
            expected = name in MAY[stage][function] | EVERYBODY
            if allowed(document, action, resource, context) != expected:
                wrong.append(f"{function} {'may not' if expected else 'may'} {name} ({action} {resource})")
    assert wrong == []


@pytest.mark.parametrize("stage", STAGES)
def test_the_audit_log_is_append_only_by_an_explicit_deny(stage):
    for function, document in iam_policy.policies_for(stage).items():
        for name in ("audit-update", "audit-delete", "audit-batch", "audit-ttl"):
            action, resource, context = cases(stage)[name]
            assert decide(document, action, resource, context) == "deny", (function, name)
        # ...a Deny no later Allow can undo
        widened = {"Statement": [*document["Statement"], {"Sid": "Oops", "Effect": "Allow", "Action": "dynamodb:*",
                                                          "Resource": "*"}]}
        assert decide(widened, "dynamodb:DeleteItem", cases(stage)["audit-put"][1]) == "deny"


def test_the_audit_code_only_puts_new_entries_and_reads():
    """IAM cannot tell a conditional put from an overwrite: the code must (audit.record puts with
    attribute_not_exists; nothing in chalicelib updates, deletes or batch-writes an AuditEntry)."""
    tree = ast.parse((ROOT / "chalicelib" / "state" / "audit.py").read_text())
    saves = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "save"]
    assert len(saves) == 1
    (condition,) = [k.value for k in saves[0].keywords if k.arg == "condition"]
    assert ast.unparse(condition) == "AuditEntry.target.does_not_exist()"
    for path in (ROOT / "chalicelib").rglob("*.py"):
        text = path.read_text()
        if "AuditEntry" not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Attribute) and node.attr in ("update", "delete", "batch_write", "delete_item"):
                assert "AuditEntry" not in ast.unparse(node.value) and "entry" not in ast.unparse(node.value), (
                    f"{path.relative_to(ROOT)} changes an audit entry: {ast.unparse(node)}")


def test_the_simulator_reads_wildcards_and_conditions_as_iam_does():
    document = {"Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:Get*"],
         "Resource": "arn:aws:secretsmanager:r:1:secret:a/b-??????",
         "Condition": {"StringEquals": {"secretsmanager:ResourceTag/k": ["x", "y"]}}},
        {"Effect": "Allow", "Action": "kms:Sign", "Resource": "arn:aws:kms:r:1:key/*",
         "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/s"}}},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
         "Condition": {"Null": {"aws:ResourceTag/t": "false"}}},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::secret/*"},
    ]}
    ok = "arn:aws:secretsmanager:r:1:secret:a/b-AbC123"
    key = "arn:aws:kms:r:1:key/9"
    assert decide(document, "secretsmanager:GetSecretValue", ok, {"secretsmanager:resourcetag/k": "y"}) == "allow"
    assert decide(document, "SecretsManager:getSecretValue", ok, {"secretsmanager:ResourceTag/k": "x"}) == "allow"
    assert decide(document, "secretsmanager:GetSecretValue", ok, {"secretsmanager:ResourceTag/k": "z"}) == "implicit"
    assert decide(document, "secretsmanager:GetSecretValue", ok, {}) == "implicit"
    assert decide(document, "secretsmanager:GetSecretValue", ok + "X",
                  {"secretsmanager:ResourceTag/k": "x"}) == "implicit"
    assert decide(document, "secretsmanager:PutSecretValue", ok, {"secretsmanager:ResourceTag/k": "x"}) == "implicit"
    assert decide(document, "kms:Sign", key, {"kms:ResourceAliases": ["alias/o", "alias/s"]}) == "allow"
    assert decide(document, "kms:Sign", key, {"kms:ResourceAliases": ["alias/o"]}) == "implicit"
    assert decide(document, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:ResourceTag/t": "1"}) == "allow"
    assert decide(document, "s3:GetObject", "arn:aws:s3:::b/k", {}) == "implicit"
    assert decide(document, "s3:GetObject", "arn:aws:s3:::secret/k", {"aws:ResourceTag/t": "1"}) == "deny"
    with pytest.raises(ValueError, match="NumericLessThan"):
        decide({"Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*",
                               "Condition": {"NumericLessThan": {"k": "1"}}}]}, "a:b", "x", {"k": "0"})
