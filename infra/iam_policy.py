"""Generate .chalice/policy-<stage>.json: the least-privilege role of one Switchboard instance.

Every statement names the capability that needs it, so the role grows with the code and no further.
`python -m infra.iam_policy` rewrites the files; tests/test_iam_policy.py fails when they drift from
this declaration, from the table names in .chalice/config.json or from the account ids in policy YAML.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"


def statements(account_id: str, region: str, env: dict[str, str], secret_name: str) -> list[dict[str, Any]]:
    arn = f"arn:aws:dynamodb:{region}:{account_id}:table"
    tables = [env["SWITCHBOARD_AUDIT_TABLE"], env["SWITCHBOARD_LEDGER_TABLE"], env["SWITCHBOARD_STATE_TABLE"]]
    return [
        {   # Lambda's own logs (Powertools Logger JSON lines and Metrics EMF records).
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:/aws/lambda/switchboard-*",
        },
        {   # intake: the ledger (Powertools Idempotency) and the audit log; capabilities: the state table.
            "Sid": "State",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                       "dynamodb:Query", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"],
            "Resource": [f"{arn}/{t}" for t in tables] + [f"{arn}/{t}/index/*" for t in tables],
        },
        {   # Tables and the dead-letter queue are encrypted with the account's Switchboard key: use it only
            # through DynamoDB and SQS (Lambda puts failed async invocations on the queue with this role).
            "Sid": "StateEncryption",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": f"arn:aws:kms:{region}:{account_id}:key/*",
            "Condition": {
                "StringEquals": {"kms:ViaService": [f"dynamodb.{region}.amazonaws.com", f"sqs.{region}.amazonaws.com",
                                                    f"secretsmanager.{region}.amazonaws.com"]},
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/switchboard"},
            },
        },
        {   # frontdoor: the Slack signing secret and bot token (Powertools Parameters, cached).
            "Sid": "SlackSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": f"arn:aws:secretsmanager:{region}:{account_id}:secret:{secret_name}-*",
        },
        {   # frontdoor: Bolt runs lazy listeners by invoking the API function itself, asynchronously.
            "Sid": "SlackLazyListeners",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            # `chalice deploy` names it switchboard-<stage>; `chalice package` into the README's stack
            # `switchboard-app` lets CloudFormation name it switchboard-app-APIHandler-<suffix>.
            "Resource": [f"arn:aws:lambda:{region}:{account_id}:function:switchboard-{env['SWITCHBOARD_ACCOUNT_NAME']}",
                         f"arn:aws:lambda:{region}:{account_id}:function:switchboard-app-APIHandler-*"],
        },
        {   # frontdoor (and later promotion): Switchboard events go on this account's own default bus; the
            # peer-link rules (infra/peer-link.yaml, their own role) carry them to peers.
            "Sid": "PeerEvents",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": f"arn:aws:events:{region}:{account_id}:event-bus/default",
        },
        {   # Failed asynchronous invocations go to the dead-letter queue (Lambda uses the function's role).
            "Sid": "DeadLetters",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": f"arn:aws:sqs:{region}:{account_id}:switchboard-dead-letters",
        },
    ]


def render(stage: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from chalicelib.policy import load

    config = json.loads((CHALICE_DIR / "config.json").read_text())
    env = {**config["environment_variables"], **config["stages"][stage]["environment_variables"]}

    policy = load(ROOT / "chalicelib" / env["SWITCHBOARD_POLICY_FILE"])
    found = statements(policy.account.id, policy.account.region, env, policy.slack.secret_name)
    # each landed capability declares what it calls, derived from this account's policy
    for module in CAPABILITY_PERMISSIONS:
        found += importlib.import_module(module).statements(policy, stage)
    return {"Version": "2012-10-17", "Statement": found}


CAPABILITY_PERMISSIONS = ["chalicelib.alerts.permissions", "chalicelib.promotion.permissions",
                          "chalicelib.rotation.permissions", "chalicelib.scaling.permissions"]


def path_for(stage: str) -> Path:
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    return CHALICE_DIR / config["stages"][stage]["iam_policy_file"]


def main() -> int:
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    for stage in config["stages"]:
        path_for(stage).write_text(json.dumps(render(stage), indent=2) + "\n")
        print(f"wrote {path_for(stage).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
