"""What the rotation capability knows about one secret, read from ``DescribeSecret``/``ListSecrets`` (pure).

No secret value is ever read here: the watch needs only metadata (and the KMS key's manager).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.rotation.secrets import AWSCURRENT, AWSPENDING, name_of, stages_of, tags_of

AWS_MANAGED_KEY = "alias/aws/secretsmanager"


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


@dataclass(frozen=True)
class Facts:
    arn: str
    name: str
    tags: dict[str, str]
    rotation_enabled: bool
    lambda_arn: str | None
    created: datetime | None
    last_rotated: datetime | None
    kms_key_id: str | None  # None: the AWS managed key (aws/secretsmanager)
    owning_service: str | None  # e.g. "rds": that service rotates it
    stages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pending_version: str | None = None  # a version labelled AWSPENDING that is not AWSCURRENT
    pending_created: datetime | None = None  # when that version was made (from ListSecretVersionIds)

    @classmethod
    def of(cls, meta: dict[str, Any], versions: list[dict[str, Any]] | None = None) -> Facts:
        stages = {v: tuple(s) for v, s in stages_of(meta).items()}
        pending = next((v for v, s in stages.items() if AWSPENDING in s and AWSCURRENT not in s), None)
        created = next((_utc(v.get("CreatedDate")) for v in versions or [] if v.get("VersionId") == pending), None)
        kms = meta.get("KmsKeyId")
        return cls(
            arn=meta["ARN"], name=meta.get("Name") or name_of(meta["ARN"]), tags=tags_of(meta),
            rotation_enabled=bool(meta.get("RotationEnabled")), lambda_arn=meta.get("RotationLambdaARN") or None,
            created=_utc(meta.get("CreatedDate")), last_rotated=_utc(meta.get("LastRotatedDate")),
            kms_key_id=None if kms in (None, "", AWS_MANAGED_KEY) else kms,
            owning_service=meta.get("OwningService"), stages=stages, pending_version=pending,
            pending_created=created)

    @property
    def current_version(self) -> str | None:
        return next((v for v, s in self.stages.items() if AWSCURRENT in s), None)

    def age(self, now: datetime) -> timedelta | None:
        """Since the last rotation, or since creation for a secret never rotated."""
        since = self.last_rotated or self.created
        return None if since is None else now - since

    def pending_stuck(self, now: datetime, after: timedelta) -> bool:
        """AWSPENDING sits on a version that is not current, for longer than a rotation takes. (Without its creation
        date it counts as stuck: the watch would rather ask once too often than never.)"""
        if self.pending_version is None:
            return False
        return self.pending_created is None or now - self.pending_created >= after

    def rotating(self, now: datetime, after: timedelta) -> bool:
        """A rotation is under way (AWSPENDING on another version, not yet stuck)."""
        return self.pending_version is not None and not self.pending_stuck(now, after)
