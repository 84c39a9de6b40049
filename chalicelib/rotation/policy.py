"""The rotation section of the policy (filled by the rotation capability, issue 7)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from chalicelib.policy.types import Section, Strict


class SecretKind(StrEnum):
    API_KEY = "api-key"
    POSTGRES_SINGLE = "postgres-single"
    POSTGRES_ALTERNATING = "postgres-alternating"
    IAM_ACCESS_KEY = "iam-access-key"


class RotatedSecret(Strict):
    kind: SecretKind
    max_age_days: int = Field(30, gt=0, le=365)


class RotationSection(Section):
    enabled: bool = False
    secrets: dict[str, RotatedSecret] = Field(default_factory=dict)
