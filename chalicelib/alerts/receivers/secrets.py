"""Receiver secrets from Secrets Manager, through Powertools Parameters (cached like the Slack secret, so a rotated
key takes effect within ``SWITCHBOARD_SECRET_MAX_AGE_SECONDS``). Values are never logged or put in errors."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from chalicelib import aws
from chalicelib.alerts.receivers.notification import ReceiverError
from chalicelib.settings import get_settings


@lru_cache(maxsize=1)
def _provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=aws.client("secretsmanager"))


def read(name: str) -> dict[str, Any]:
    """The secret as a dict: a JSON object as is, anything else as ``{"value": <the string>}``."""
    try:
        raw = _provider().get(name, max_age=get_settings().secret_max_age_seconds)
    except Exception as exc:  # noqa: BLE001 - say which secret, never its value
        raise ReceiverError(f"cannot read secret {name}: {type(exc).__name__}") from None
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    try:
        found = json.loads(raw)
    except ValueError:
        found = None
    return found if isinstance(found, dict) else {"value": str(raw).strip()}


def forget() -> None:
    _provider.cache_clear()
