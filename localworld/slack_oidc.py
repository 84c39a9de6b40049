"""Sign in with Slack, as the Slack stand-in plays it: OpenID Connect's authorisation code flow on loopback.

The endpoints Slack serves (https://slack.com/.well-known/openid-configuration), with the same shapes:

- ``GET /.well-known/openid-configuration``: discovery (issuer = the stand-in's base URL);
- ``GET /openid/connect/authorize``: Slack would ask the person to sign in; here a page lists the directory's
  people (links, no script), or ``&user=<handle>`` picks one at once (the browser tests do that). Then it redirects
  to ``redirect_uri`` with ``code`` and the caller's ``state``;
- ``POST /api/openid.connect.token``: the code (once, within 10 minutes, for the same client and redirect_uri) for
  an ``id_token``: an RS256 JWT signed with the stand-in's key, with ``iss``, ``aud`` = client id, ``sub`` = the
  Slack user id, ``nonce``, ``https://slack.com/team_id``, name;
- ``GET /openid/connect/keys``: the JWKS that verifies it.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

LOCAL_CLIENT_ID = "1000000000.2000000000"  # the emulated Slack app's OIDC client
LOCAL_CLIENT_SECRET = "local-world-oidc-client-secret"  # noqa: S105 - the emulated workspace's, not a real one
LOCAL_SESSION_KEY = "local-world-console-session-key-0123456789abcdef"  # noqa: S105 - signs the console's cookies
TEAM = "T0ACME0001"
CODE_SECONDS = 600


@dataclass
class _Code:
    user: str
    name: str
    client_id: str
    redirect_uri: str
    nonce: str
    made: float


class OidcProvider:
    def __init__(self, standin: Any) -> None:
        self.standin = standin
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = "local-" + secrets.token_hex(4)
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()
        self.clients = {LOCAL_CLIENT_ID: LOCAL_CLIENT_SECRET}

    @property
    def issuer(self) -> str:
        return self.standin.url

    def handles(self, path: str) -> bool:
        return path.startswith(("/.well-known/openid-configuration", "/openid/connect/")) or \
            path == "/api/openid.connect.token"

    def handle(self, command: str, path: str, query: str, raw: bytes) -> tuple[int, str, bytes, dict[str, str]]:
        """(status, content type, body, headers) for one request."""
        if path == "/.well-known/openid-configuration":
            return self._json(self.configuration())
        if path == "/openid/connect/keys":
            return self._json(self.jwks())
        if path == "/openid/connect/authorize" and command == "GET":
            return self._authorize(dict(parse_qsl(query)))
        if path == "/api/openid.connect.token" and command == "POST":
            return self._token(dict(parse_qsl(raw.decode("utf-8"))))
        return 404, "text/plain", b"not_found", {}

    def configuration(self) -> dict[str, Any]:
        base = self.issuer
        return {"issuer": base, "authorization_endpoint": f"{base}/openid/connect/authorize",
                "token_endpoint": f"{base}/api/openid.connect.token", "jwks_uri": f"{base}/openid/connect/keys",
                "response_types_supported": ["code"], "scopes_supported": ["openid", "profile", "email"],
                "id_token_signing_alg_values_supported": ["RS256"], "subject_types_supported": ["public"]}

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**public, "kid": self._kid, "alg": "RS256", "use": "sig"}]}

    def _json(self, obj: Any, status: int = 200) -> tuple[int, str, bytes, dict[str, str]]:
        return status, "application/json; charset=utf-8", json.dumps(obj).encode(), {}

    def _authorize(self, q: dict[str, str]) -> tuple[int, str, bytes, dict[str, str]]:
        missing = [k for k in ("client_id", "redirect_uri", "state", "nonce") if not q.get(k)]
        if missing or q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
            why = f"missing {', '.join(missing)}" if missing else "response_type=code and scope openid are required"
            return 400, "text/plain", why.encode(), {}
        if q["client_id"] not in self.clients:
            return 400, "text/plain", b"invalid_client_id", {}
        handle = q.get("user")
        people = self.standin.directory_users()
        if not handle:
            links = "".join(f'<li><a href="?{html.escape(urlencode({**q, "user": h}))}">{html.escape(h)}</a></li>'
                            for h in sorted(people))
            page = f"<!doctype html><title>Sign in to Acme (stand-in)</title><h1>Sign in as</h1><ul>{links}</ul>"
            return 200, "text/html; charset=utf-8", page.encode(), {}
        if handle not in people:
            return 400, "text/plain", f"no user {handle!r} in the directory".encode(), {}
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(people[handle], handle, q["client_id"], q["redirect_uri"], q["nonce"],
                                      time.monotonic())
        target = q["redirect_uri"] + ("&" if "?" in q["redirect_uri"] else "?") + urlencode(
            {"code": code, "state": q["state"]})
        return 302, "text/plain", b"", {"Location": target}

    def _token(self, form: dict[str, str]) -> tuple[int, str, bytes, dict[str, str]]:
        client = form.get("client_id", "")
        if self.clients.get(client) is None or not secrets.compare_digest(self.clients[client],
                                                                         form.get("client_secret", "")):
            return self._json({"ok": False, "error": "invalid_client"})
        with self._lock:
            found = self._codes.pop(form.get("code", ""), None)
        if found is None or time.monotonic() - found.made > CODE_SECONDS:
            return self._json({"ok": False, "error": "invalid_code"})
        if found.client_id != client or found.redirect_uri != form.get("redirect_uri"):
            return self._json({"ok": False, "error": "bad_redirect_uri"})
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": client, "sub": found.user, "iat": now, "exp": now + 300,
                  "auth_time": now, "nonce": found.nonce, "https://slack.com/user_id": found.user,
                  "https://slack.com/team_id": TEAM, "name": found.name, "email": f"{found.name}@acme.example"}
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})
        return self._json({"ok": True, "access_token": "xoxp-local-" + secrets.token_hex(8), "token_type": "Bearer",
                           "id_token": token})
