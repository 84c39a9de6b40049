"""EventBridge patterns of the rules Chalice creates for each handler (data, so tests and the local world
read the same patterns the deployed rules use)."""

from __future__ import annotations

from typing import Any

from chalicelib.policy.schema import Policy

CODEPIPELINE: dict[str, Any] = {
    "source": ["aws.codepipeline"],
    "detail-type": [
        "CodePipeline Pipeline Execution State Change",
        "CodePipeline Stage Execution State Change",
        "CodePipeline Action Execution State Change",
    ],
}
# "CloudWatch Alarm Configuration Change" is deliberately not subscribed.
ALARM: dict[str, Any] = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change", "CloudWatch Alarm Contributor State Change"],
}
ECS: dict[str, Any] = {
    "source": ["aws.ecs"],
    "detail-type": ["ECS Deployment State Change", "ECS Service Action"],
}
AUTOSCALING: dict[str, Any] = {
    "source": ["aws.autoscaling"],
    "detail-type": [
        "EC2 Instance Launch Successful",
        "EC2 Instance Launch Unsuccessful",
        "EC2 Instance Terminate Successful",
        "EC2 Instance Terminate Unsuccessful",
    ],
}
SECRETS: dict[str, Any] = {
    "source": ["aws.secretsmanager"],
    "detail-type": ["AWS API Call via CloudTrail", "AWS Service Event via CloudTrail"],
}


def peer(policy: Policy) -> dict[str, Any]:
    """Switchboard events addressed to this account, from this account or a peer it accepts events from.

    The bus policy (infra/account.yaml) already admits only peer accounts; the rule matching on ``account``
    is the second fence, and the handler re-checks the flow against policy (the third).
    """
    return {
        "source": ["switchboard"],
        "account": policy.inbound_account_ids(),
        "detail": {"to_account": [policy.account.id]},
    }
