"""JSON over HTTPS for receivers (PagerDuty, webhooks): urllib, a short timeout, a few retries on 429/5xx and
connection errors. Plain http is refused except to loopback (the local world's stand-ins)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from chalicelib.alerts.receivers import ReceiverError

TIMEOUT = 10
RETRIES = 2
BACKOFF = 0.5  # seconds, doubled each retry
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return
    raise ReceiverError(f"refusing to send to {parts.scheme}://{parts.hostname or '?'}: only https (or loopback)")


def post_json(url: str, body: dict[str, Any], headers: dict[str, str] | None = None,
              raw: bytes | None = None) -> tuple[int, str]:
    """POST; returns (status, body text) of a 2xx answer, else raises ReceiverError after the retries."""
    check_url(url)
    data = raw if raw is not None else json.dumps(body, separators=(",", ":")).encode()
    last = ""
    for attempt in range(RETRIES + 1):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        request = urllib.request.Request(url, data=data, method="POST", headers={  # noqa: S310 - scheme checked
            "Content-Type": "application/json", "User-Agent": "switchboard-alerts", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 - scheme checked
                return answer.status, answer.read(10_000).decode(errors="replace")
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read(300).decode(errors='replace')}"
            if exc.code != 429 and exc.code < 500:
                break  # the request itself is wrong: retrying changes nothing
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    raise ReceiverError(f"{urlsplit(url).hostname} answered {last}")
