"""The IAM statements alerts needs in one account, derived from its policy (like Cloud Custodian's actions, which
declare their permissions): reading alarm tags, the receivers' secrets and SNS topics the policy names, nothing
else. ``infra/iam_policy.py`` adds them to the account's role. (DynamoDB, events:PutEvents for announcements
and the KMS key are already granted to every capability.)
"""

from __future__ import annotations

from typing import Any

from chalicelib.alerts.policy import section


def statements(policy: Any, stage: str | None = None) -> list[dict[str, Any]]:
    region, account = policy.account.region, policy.account.id
    alerts = section(policy)
    if alerts.route is None:
        return []
    secrets = sorted({r.pagerduty.secret for r in alerts.receivers.values() if r.pagerduty}
                     | {r.webhook.secret for r in alerts.receivers.values() if r.webhook and r.webhook.secret})
    topics = sorted({r.sns.topic_arn for r in alerts.receivers.values() if r.sns})
    found: list[dict[str, Any]] = [{
        # alerts: an alarm's tags when the event carries none (labels tag_*, severity), cached 10 minutes
        "Sid": "AlarmTags",
        "Effect": "Allow",
        "Action": ["cloudwatch:ListTagsForResource"],
        "Resource": f"arn:aws:cloudwatch:{region}:{account}:alarm:*",
    }]
    if secrets:
        found.append({
            # alerts: PagerDuty routing keys and webhook URLs/tokens (Powertools Parameters, cached)
            "Sid": "AlertReceiverSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-*" for name in secrets],
        })
    if topics:
        found.append({
            "Sid": "AlertTopics",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "Resource": topics,
        })
    return found
