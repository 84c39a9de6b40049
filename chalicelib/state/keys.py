"""What every capability's DynamoDB code shares: sortable time stamps and the test for a lost conditional write.

``stamp`` is fixed-width UTC text: in sort keys, index keys and conditions, comparing two stamps as strings
compares the times. It is ``chalicelib.timefmt``'s (the one time format), named here for the stores.
"""

from __future__ import annotations

from chalicelib.timefmt import STAMP, parse_stamp, stamp

__all__ = ["STAMP", "conditional_failed", "parse_stamp", "stamp"]


def conditional_failed(exc: Exception) -> bool:
    """Did a PynamoDB write fail because its condition did not hold (and not for any other reason)?"""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"
