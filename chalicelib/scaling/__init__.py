"""Scaling tweaks: ASG and ECS capacity by alarm, schedule and Slack, inside guardrails.

policy.py (the section) · cron.py · plan.py (the pure decision) · executor.py (AWS) · state.py (DynamoDB items) ·
service.py (one request end to end) · handlers.py (events, `/ops scale`, approvals) · ticks.py (schedules, restores) ·
messages.py (what Slack is told) · permissions.py (IAM statements for infra/iam_policy.py).
"""

# The policy package imports this package's section model while it loads: load it first, whichever module of this
# package is imported first (else the import of chalicelib.policy.types below would find it half-initialised).
import chalicelib.policy  # noqa: F401
