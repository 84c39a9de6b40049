"""The IAM statements alerts needs in one account, derived from its policy (like Cloud Custodian's actions, which
declare their permissions): reading alarm tags, the receivers' secrets and SNS topics the policy names, nothing
else.

``needs``: alarm events read tags and write incidents (nobody is notified from there); the flush, and the ``/ops
ack|silence|unsilence`` executors (which flush the incidents they touch), deliver: receivers' secrets, topics and
Slack cards (``ANNOUNCE``). Rotation's alerts (``secrets`` events) only write incidents.
"""

from __future__ import annotations

from typing import Any

from chalicelib.alerts.policy import section
from chalicelib.policy.schema import Flow
from chalicelib.slackkit.permissions import ANNOUNCE


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
            "Resource": [f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-??????" for name in secrets],
        })
    if topics:
        found.append({
            "Sid": "AlertTopics",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "Resource": topics,
        })
    return found


def needs(policy: Any, stage: str | None = None) -> dict[str, list[Any]]:
    """Entry point (a ``Kind``, a ``Flow`` or a function of app.py) -> statements and groups."""
    found = {s["Sid"]: s for s in statements(policy, stage)}
    if not found:
        return {}
    deliver = [found[sid] for sid in ("AlertReceiverSecrets", "AlertTopics") if sid in found]
    if any(r.slack for r in section(policy).receivers.values()):
        deliver.append(ANNOUNCE)
    return {"alarm": [found["AlarmTags"]], "alerts_flush": deliver, str(Flow.COMMAND): deliver, "secrets": []}
