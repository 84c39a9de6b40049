"""The IAM statements promotion needs in one account, derived from its policy: read the executions of the
pipelines of this environment (source side: what a candidate is; target side: how a deploy went), start the target
pipelines pinned to a revision (trigger mode) or answer their Manual Approval action (approval mode), and see
which watched alarms are in ALARM (``DescribeAlarms``: this account's alarms; names are globs). Nothing
when ``promotion.enabled`` is off or no promoted app has a pipeline in this account.

``needs``: every entry point that moves a promotion (``service.advance``) may read pipelines and alarms, deploy or
roll back here, hand a candidate to the target account (``approvals.send_to``: ``PEER_SEND``) and ask or announce
(``ANNOUNCE``): pipeline and alarm events, a release candidate, the promotion's approvals decided, ``/ops
promote|hold|unhold``, the reconcile tick and its schedules. ECS events reach promotion but change nothing.
"""

from __future__ import annotations

from typing import Any

from chalicelib.policy.schema import Flow, Policy
from chalicelib.promotion.policy import Mode
from chalicelib.slackkit.permissions import ANNOUNCE, PEER_SEND


def statements(policy: Policy, stage: str | None = None) -> list[dict[str, Any]]:
    region, account, env = policy.account.region, policy.account.id, policy.account.environment
    section = policy.promotion
    if not section.enabled:
        return []
    read, start, approve = set(), set(), set()
    for app_name, path in sorted(section.paths.items()):
        app = policy.apps.get(app_name)
        ref = app.pipelines.get(env) if app else None
        if ref is None or ref.account != policy.account.name or env not in path:
            continue
        arn = f"arn:aws:codepipeline:{region}:{account}:{ref.name}"
        read.add(arn)
        if path.index(env) > 0:  # this environment is a target: deploys happen here
            deploy = section.settings(app_name).deploy
            start.add(arn)  # trigger mode, and every mode's rollback redeploy
            if deploy.mode is Mode.APPROVAL:
                approve.add(f"{arn}/{deploy.stage}/{deploy.action}")
    if not read:
        return []
    found: list[dict[str, Any]] = [
        {"Sid": "PromotionAlarms", "Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"],
         "Resource": f"arn:aws:cloudwatch:{region}:{account}:alarm:*"},
        {"Sid": "PromotionPipelinesRead", "Effect": "Allow",
         "Action": ["codepipeline:GetPipelineExecution", "codepipeline:ListPipelineExecutions",
                    "codepipeline:GetPipelineState", "codepipeline:GetPipeline"],
         "Resource": sorted(read)},
    ]
    if start:
        found.append({"Sid": "PromotionDeploy", "Effect": "Allow", "Action": ["codepipeline:StartPipelineExecution"],
                      "Resource": sorted(start)})
    if approve:
        found.append({"Sid": "PromotionApprove", "Effect": "Allow", "Action": ["codepipeline:PutApprovalResult"],
                      "Resource": sorted(approve)})
    return found


def needs(policy: Policy, stage: str | None = None) -> dict[str, list[Any]]:
    """Entry point (a ``Kind``, a ``Flow`` or a function of app.py) -> statements and groups."""
    found = statements(policy, stage)
    if not found:
        return {}
    moves = [*found, PEER_SEND, ANNOUNCE]
    return {"codepipeline": moves, "alarm": moves, "schedule": moves, "promotion_tick": moves,
            str(Flow.RELEASE_CANDIDATE): moves, str(Flow.COMMAND): moves, str(Flow.APPROVAL_RESULT): moves,
            "ecs": []}
