"""Scaling tweaks: ASG and ECS capacity by alarm, schedule and Slack, inside guardrails.

manifest.py (the capability, declared) · policy.py (the section) · cron.py · plan.py (the pure decision) ·
executor.py (AWS) · store.py (DynamoDB items) · service.py (one request end to end) · handlers.py (events,
approvals) · commands.py (`/ops scale`) · ticks.py (schedules, restores) · messages.py (what Slack is told) ·
permissions.py (IAM statements for infra/iam_policy.py).
"""
