"""The scaling capability's errors: one base, so a caller can catch everything scaling raises on purpose."""

from __future__ import annotations


class ScalingError(Exception):
    """``reason`` is one sentence fit for the audit log and Slack (escaped by whoever shows it)."""

    def __init__(self, reason: str, code: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TargetMissing(ScalingError):
    """The group or service named in policy does not exist (any more)."""


class AwsError(ScalingError):
    """AWS refused or failed a call (validation, throttling after retries, access denied, …)."""


class NotVerified(ScalingError):
    """The change was made, but describing the target afterwards does not show it."""
