"""One base error for the peering package."""

from __future__ import annotations


class PeeringError(Exception):
    """Base error of chalicelib.peering."""


class Refused(PeeringError):
    """An envelope that must not be believed; ``reason`` says why, in one line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SendFailed(PeeringError, RuntimeError):
    """An envelope could not be signed or put on the bus."""
