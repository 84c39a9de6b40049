"""Scaling tweaks: ASG and ECS capacity by alarm, schedule and Slack, inside guardrails."""
