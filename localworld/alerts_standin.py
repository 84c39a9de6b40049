"""Stand-ins for the alerts receivers that are not AWS or Slack: PagerDuty's Events API v2 and generic webhooks.

A loopback HTTP server (never deployed) that records every POST and answers as the real service would:

* ``POST /v2/enqueue`` (PagerDuty Events API v2): 202 ``{"status": "success", "dedup_key": …}``; a malformed
  event (routing key not 32 characters, unknown event_action, no dedup_key on acknowledge/resolve, a trigger
  without payload.summary/source/severity, a severity PagerDuty does not know) is 400 ``{"status": "invalid
  event", "errors": [...]}``. It keeps each dedup key's incident state (triggered/acknowledged/resolved).
* ``POST /hooks/<name>``: 200; when a token was registered for ``name``, the ``X-Switchboard-Signature`` must be
  ``v1=`` + HMAC-SHA256(token, ``<X-Switchboard-Timestamp>.<body>``), else 401.
* ``fail_next(path, status, times)`` makes the next calls fail with that status (429/5xx retries are tested).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAGERDUTY_PATH = "/v2/enqueue"
_SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    status: int


@dataclass
class _State:
    received: list[Received] = field(default_factory=list)
    incidents: dict[str, str] = field(default_factory=dict)  # dedup_key -> triggered|acknowledged|resolved
    tokens: dict[str, str] = field(default_factory=dict)  # hook name -> token
    faults: dict[str, list[int]] = field(default_factory=dict)


class ReceiversStandIn:
    def __init__(self, port: int = 0):
        self.port = port
        self.state = _State()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle ----

    def start(self) -> ReceiversStandIn:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True, name="receivers-standin").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.state = _State()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pagerduty_url(self) -> str:
        return self.url + PAGERDUTY_PATH

    def hook_url(self, name: str) -> str:
        return f"{self.url}/hooks/{name}"

    # ---- set-up and queries ----

    def require_token(self, hook: str, token: str) -> None:
        with self._lock:
            self.state.tokens[hook] = token

    def fail_next(self, path: str, status: int, times: int = 1) -> None:
        with self._lock:
            self.state.faults.setdefault(path, []).extend([status] * times)

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.state.received if path is None or r.path == path]

    def pagerduty(self) -> list[dict[str, Any]]:
        return [r.body for r in self.received(PAGERDUTY_PATH) if r.status == 202]

    def incident(self, dedup_key: str) -> str | None:
        with self._lock:
            return self.state.incidents.get(dedup_key)

    # ---- the services ----

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            faults = self.state.faults.get(path)
            if faults:
                status = faults.pop(0)
                self.state.received.append(Received(path, headers, None, raw, status))
                return status, {"status": "unavailable"}
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if path == PAGERDUTY_PATH:
            status, answer = self._pagerduty(body)
        elif path.startswith("/hooks/"):
            status, answer = self._hook(path[len("/hooks/"):], headers, raw, body)
        else:
            status, answer = 404, {"status": "not found"}
        with self._lock:
            self.state.received.append(Received(path, headers, body, raw, status))
        return status, answer

    def _pagerduty(self, body: Any) -> tuple[int, dict[str, Any]]:
        errors = []
        if not isinstance(body, dict):
            return 400, {"status": "invalid event", "errors": ["Event object is invalid"]}
        if not isinstance(body.get("routing_key"), str) or len(body["routing_key"]) != 32:
            errors.append("'routing_key' is invalid")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        if action in ("acknowledge", "resolve") and not body.get("dedup_key"):
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if action == "trigger":
            payload = body.get("payload") if isinstance(body.get("payload"), dict) else {}
            for key in ("summary", "source", "severity"):
                if not payload.get(key):
                    errors.append(f"'payload.{key}' is missing")
            if payload.get("severity") and payload["severity"] not in _SEVERITIES:
                errors.append("'payload.severity' is invalid")
            if len(str(payload.get("summary", ""))) > 1024:
                errors.append("'payload.summary' is too long")
        if errors:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        key = body.get("dedup_key") or hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
        with self._lock:
            state = self.state.incidents.get(key)
            if action == "trigger" and state in (None, "resolved"):
                self.state.incidents[key] = "triggered"
            elif action == "acknowledge" and state == "triggered":
                self.state.incidents[key] = "acknowledged"
            elif action == "resolve" and state in ("triggered", "acknowledged"):
                self.state.incidents[key] = "resolved"
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}

    def _hook(self, name: str, headers: dict[str, str], raw: bytes, body: Any) -> tuple[int, dict[str, Any]]:
        with self._lock:
            token = self.state.tokens.get(name)
        if token is not None:
            timestamp = headers.get("x-switchboard-timestamp", "")
            expected = "v1=" + hmac.new(token.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, headers.get("x-switchboard-signature", "")):
                return 401, {"status": "bad signature"}
        return 200, {"status": "ok"}


class _Handler(BaseHTTPRequestHandler):
    owner: ReceiversStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer = self.owner.handle(self.path, headers, raw)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
