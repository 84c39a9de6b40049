"""The kinds of event Switchboard takes in (one EventBridge handler each)."""

from enum import StrEnum


class Kind(StrEnum):
    CODEPIPELINE = "codepipeline"
    ALARM = "alarm"
    ECS = "ecs"
    AUTOSCALING = "autoscaling"
    SECRETS = "secrets"
    PEER = "peer"
    SCHEDULE = "schedule"
