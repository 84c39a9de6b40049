"""The one place Switchboard builds boto3 clients.

Clients are created lazily on first use (nothing at import time, so cold start pays only for what an
invocation touches), cached per (service, region, endpoint), use adaptive retries, and honour
``AWS_ENDPOINT_URL`` so the same code talks to moto's server in the local world and to AWS in production.
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.settings import get_settings

_lock = threading.Lock()
_clients: dict[tuple[str, str, str | None], Any] = {}
_session: Any = None

RETRIES = {"mode": "adaptive", "max_attempts": 5}


def client(service: str, *, region: str | None = None) -> Any:
    settings = get_settings()
    key = (service, region or settings.region, settings.endpoint_url)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _build(*key)
            _clients[key] = found
    return found


def _build(service: str, region: str, endpoint_url: str | None) -> Any:
    global _session
    import boto3
    from botocore.config import Config

    if _session is None:
        _session = boto3.session.Session()
    config = Config(retries=dict(RETRIES), user_agent_extra="switchboard", connect_timeout=5, read_timeout=20)
    return _session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)


def client_as(service: str, *, access_key_id: str, secret_access_key: str, session_token: str | None = None,
              region: str | None = None) -> Any:
    """A client acting with other credentials (e.g. testing a freshly rotated IAM access key). Never cached:
    the credentials are the point, and they are short-lived."""
    import boto3
    from botocore.config import Config

    settings = get_settings()
    session = boto3.session.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                                    aws_session_token=session_token)
    config = Config(retries=dict(RETRIES), user_agent_extra="switchboard", connect_timeout=5, read_timeout=20)
    return session.client(service, region_name=region or settings.region, endpoint_url=settings.endpoint_url,
                          config=config)


def reset() -> None:
    """Forget every cached client and the session (credentials or endpoint changed; used by tests)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
