"""JSON POSTs for receivers (PagerDuty, webhooks) through the one outbound adapter (``chalicelib.outbound``: https
only, public addresses only, checked after DNS, no redirects, bounded time and body), with a few retries on
429/5xx and on no answer. A refused URL is never retried."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from chalicelib import outbound
from chalicelib.alerts.receivers.notification import ReceiverError

CONNECT_TIMEOUT = 5
TIMEOUT = 10
RETRIES = 2
BACKOFF = 0.5  # seconds, doubled each retry
MAX_ANSWER = 10_000  # bytes of an answer kept (PagerDuty's and webhooks' answers are small)


def _host(url: str) -> str:
    """The URL's host, to name it in a message (never its path or query, which may hold a token)."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def check_url(url: str) -> None:
    """The URL's own rules (scheme, host, a literal address); its resolved addresses are checked when it is called."""
    try:
        outbound.check(url)
    except outbound.Refused as exc:
        raise ReceiverError(f"refusing to send to {_host(url)}: the URL {exc}") from None


def post_json(url: str, body: dict[str, Any], headers: dict[str, str] | None = None,
              raw: bytes | None = None) -> tuple[int, str]:
    """POST; returns (status, body text) of a 2xx answer, else raises ReceiverError after the retries."""
    check_url(url)
    data = raw if raw is not None else json.dumps(body, separators=(",", ":")).encode()
    sent = {"Content-Type": "application/json", "User-Agent": "switchboard-alerts", **(headers or {})}
    last = ""
    for attempt in range(RETRIES + 1):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        try:
            answer = outbound.request("POST", url, body=data, headers=sent, connect_timeout=CONNECT_TIMEOUT,
                                      read_timeout=TIMEOUT, max_body=MAX_ANSWER)
        except outbound.Refused as exc:
            raise ReceiverError(f"refusing to send to {_host(url)}: the URL {exc}") from None
        except outbound.Unreachable as exc:
            last = str(exc)
            continue
        if 200 <= answer.status < 300:
            return answer.status, answer.text
        last = f"{_host(url)} answered HTTP {answer.status}: {answer.body[:300].decode(errors='replace')}"
        if 300 <= answer.status < 400:
            last = f"{_host(url)} answered HTTP {answer.status} (a redirect, not followed)"
            break
        if answer.status != 429 and answer.status < 500:
            break  # the request itself is wrong: retrying changes nothing
    raise ReceiverError(last)
