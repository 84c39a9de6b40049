"""The rotation capability's errors: one base, so a caller can catch everything rotation raises on purpose.

Raised inside the rotation function they fail the step, so Secrets Manager records a failed rotation (and retries
it); ``reason`` is one sentence fit for the audit log, the Lambda log and Slack (escaped by whoever shows it). No
reason ever contains a secret value.
"""

from __future__ import annotations


class RotationError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NotEnabled(RotationError):
    """Rotation is not enabled on the secret."""


class NotAVersion(RotationError):
    """The ClientRequestToken is not a version of the secret."""


class NotPending(RotationError):
    """The version is neither AWSCURRENT nor AWSPENDING: it is not being rotated."""


class NoKind(RotationError):
    """Neither policy nor tag says what kind of secret this is (or they disagree)."""


class Malformed(RotationError):
    """A secret value does not have the shape its kind needs."""


class Refused(RotationError):
    """A guardrail said no: a pending value that names another host or user, an unknown IAM key, ..."""


class Deferred(RotationError):
    """The rotation may not start now (freeze window, a paired secret rotating, rotation disabled in policy)."""


class TargetRejected(RotationError):
    """The target system (database, webhook, IAM) did not accept a value."""
