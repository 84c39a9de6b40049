"""What every capability's DynamoDB code shares: sortable time stamps and the test for a lost conditional write.

``stamp`` is fixed-width UTC text: in sort keys, index keys and conditions, comparing two stamps as strings
compares the times.
"""

from __future__ import annotations

from datetime import UTC, datetime

STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime(STAMP)


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, STAMP).replace(tzinfo=UTC)


def conditional_failed(exc: Exception) -> bool:
    """Did a PynamoDB write fail because its condition did not hold (and not for any other reason)?"""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"
