"""Sign in with Slack (OpenID Connect, authorisation code flow) and the console's session cookie.

```
browser ── GET /console/signin ──► 302 to <authorization_endpoint>?client_id&redirect_uri&state&nonce
           (Set-Cookie: a signed "login" token holding state, nonce, where to go; 10 minutes)
Slack   ── 302 /console/callback?code&state ──► state == the cookie's (constant time), code ─► token endpoint
           (client_id + client_secret) ─► id_token: RS256, verified with the issuer's JWKS (PyJWT), iss, aud =
           client_id, exp/iat, nonce == the cookie's ─► Set-Cookie: a signed "session" token (sub, name; short)
```

Both cookies are JWTs (HS256) signed with ``console_session_key`` from the Slack secret, HttpOnly, Secure,
SameSite=Lax. The issuer comes from settings (``SWITCHBOARD_OIDC_ISSUER``: Slack on AWS, the stand-in in the local
world); its discovery document and JWKS are read through the outbound adapter and cached, a JWKS miss on an
unknown ``kid`` refreshing it once.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt

from chalicelib.console.exceptions import ConsoleError, NotConfigured, SignInFailed

COOKIE = "sb_console"
LOGIN_SECONDS = 600
DISCOVERY_SECONDS = 3600
LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Client:
    """The Slack app's OIDC client and the key the console signs its cookies with (from the Slack secret)."""

    client_id: str
    client_secret: str
    session_key: str

    def __repr__(self) -> str:  # never a secret in a log line
        return f"Client(client_id={self.client_id!r}, client_secret='***', session_key='***')"


@dataclass(frozen=True)
class Session:
    user: str  # the Slack user id
    name: str
    expires: int


def client_from(secret: dict[str, Any]) -> Client:
    missing = [k for k in ("client_id", "client_secret", "console_session_key") if not secret.get(k)]
    if missing:
        raise NotConfigured(f"the Slack secret lacks {', '.join(missing)} (see README, 'The console on AWS')")
    if len(secret["console_session_key"]) < 32:
        raise NotConfigured("console_session_key in the Slack secret must be at least 32 characters")
    return Client(secret["client_id"], secret["client_secret"], secret["console_session_key"])


# ---- cookies: signed tokens ----

def _sign(claims: dict[str, Any], key: str) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def _open(token: str, key: str, typ: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp", "typ"]})
    except jwt.PyJWTError as exc:
        raise SignInFailed(f"the {typ} cookie is not valid: {exc}") from None
    if claims.get("typ") != typ:
        raise SignInFailed(f"the cookie is not a {typ} cookie")
    return claims


def login_cookie(client: Client, next_page: str, now: float | None = None) -> tuple[str, str, str]:
    """(cookie value, state, nonce) for a sign-in about to start."""
    now = int(now if now is not None else time.time())
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    value = _sign({"typ": "login", "state": state, "nonce": nonce, "next": next_page, "iat": now,
                   "exp": now + LOGIN_SECONDS}, client.session_key)
    return value, state, nonce


def session_cookie(client: Client, user: str, name: str, seconds: int, now: float | None = None) -> str:
    now = int(now if now is not None else time.time())
    return _sign({"typ": "session", "sub": user, "name": name, "iat": now, "exp": now + seconds}, client.session_key)


def session_of(client: Client, value: str | None) -> Session | None:
    if not value:
        return None
    try:
        claims = _open(value, client.session_key, "session")
    except SignInFailed:
        return None
    return Session(str(claims["sub"]), str(claims.get("name") or claims["sub"]), int(claims["exp"]))


def seal_cursor(client: Client, session: Session, page: str, bound: dict[str, Any], after: dict[str, Any],
                now: float | None = None) -> str:
    """A next-page link's token: where each page part goes on, signed and bound to the person, the page and what
    the page was asked (environments, filters). Valid as long as the session that made it."""
    now = int(now if now is not None else time.time())
    return _sign({"typ": "cursor", "sub": session.user, "page": page, "bound": bound, "after": after,
                  "exp": max(session.expires, now + 60)}, client.session_key)


def open_cursor(client: Client, session: Session, page: str, bound: dict[str, Any], token: str) -> dict[str, Any]:
    """The parts' start keys a token carries, if it was sealed for this person, page and question; else
    ConsoleError (a forged or borrowed cursor shows nothing)."""
    try:
        claims = _open(token, client.session_key, "cursor")
    except SignInFailed:
        raise ConsoleError("this page link is not valid (expired or altered): start again from the first page") \
            from None
    if claims.get("sub") != session.user or claims.get("page") != page or claims.get("bound") != bound:
        raise ConsoleError("this page link was made for another person, page or filter: start again from the "
                           "first page")
    after = claims.get("after")
    if not isinstance(after, dict) or not all(isinstance(v, dict) for v in after.values()):
        raise ConsoleError("this page link is not valid: start again from the first page")
    return after


def cookie_header(value: str, seconds: int) -> str:
    return f"{COOKIE}={value}; Path=/; Max-Age={seconds}; HttpOnly; Secure; SameSite=Lax"


def cookie_of(header: str | None) -> str | None:
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


# ---- the provider: discovery, JWKS, the code exchange ----

class Provider:
    """One OIDC issuer (its discovery document and keys cached; "never fetched" counts as stale)."""

    def __init__(self, issuer: str, fetch: Any = None) -> None:
        self.issuer = issuer.rstrip("/")
        self._fetch = fetch or _fetch
        self._lock = threading.Lock()
        self._config: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None
        self._fetched_at: float | None = None

    def configuration(self) -> dict[str, Any]:
        with self._lock:
            stale = self._fetched_at is None or time.monotonic() - self._fetched_at > DISCOVERY_SECONDS
            if stale or self._config is None:
                config = self._fetch("GET", f"{self.issuer}/.well-known/openid-configuration")
                if config.get("issuer", "").rstrip("/") != self.issuer:
                    raise SignInFailed(f"the discovery document names issuer {config.get('issuer')!r}, "
                                       f"not {self.issuer!r}")
                self._config, self._jwks, self._fetched_at = config, None, time.monotonic()
            return self._config

    def _keys(self, refresh: bool = False) -> jwt.PyJWKSet:
        config = self.configuration()
        with self._lock:
            if self._jwks is None or refresh:
                self._jwks = self._fetch("GET", config["jwks_uri"])
            return jwt.PyJWKSet.from_dict(self._jwks)

    def key_for(self, token: str) -> Any:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise SignInFailed(f"the id_token is not a JWT: {exc}") from None
        for refresh in (False, True):  # an unknown kid: the issuer may have rotated its keys, fetch them once more
            keys = self._keys(refresh)
            found = next((k for k in keys.keys if k.key_id == kid), None)
            if found is not None:
                return found.key
        raise SignInFailed(f"the id_token's key {kid!r} is not in the issuer's JWKS")

    def authorize_url(self, client: Client, redirect_uri: str, state: str, nonce: str) -> str:
        endpoint = self.configuration()["authorization_endpoint"]
        return endpoint + "?" + urlencode({"response_type": "code", "scope": "openid profile", "client_id":
                                           client.client_id, "redirect_uri": redirect_uri, "state": state,
                                           "nonce": nonce})

    def exchange(self, client: Client, code: str, redirect_uri: str) -> str:
        answer = self._fetch("POST", self.configuration()["token_endpoint"], form={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": client.client_id, "client_secret": client.client_secret})
        if not answer.get("id_token"):
            raise SignInFailed(f"the token endpoint refused the code: {answer.get('error', 'no id_token')}")
        return str(answer["id_token"])


def _fetch(method: str, url: str, form: dict[str, str] | None = None) -> dict[str, Any]:
    from chalicelib import outbound

    body = urlencode(form).encode() if form is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
    try:
        answer = outbound.request(method, url, body=body, headers={**headers, "Accept": "application/json"})
    except outbound.OutboundError as exc:
        raise SignInFailed(f"{url}: {exc}") from None
    if answer.status != 200:
        raise SignInFailed(f"{url} answered {answer.status}")
    try:
        return json.loads(answer.text)
    except ValueError:
        raise SignInFailed(f"{url} did not answer JSON") from None


def verify_id_token(provider: Provider, client: Client, token: str, nonce: str) -> dict[str, Any]:
    """The id_token's claims, once its signature, issuer, audience, times and nonce hold."""
    key = provider.key_for(token)
    try:
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=client.client_id, issuer=provider.issuer,
                            leeway=LEEWAY_SECONDS, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    except jwt.PyJWTError as exc:
        raise SignInFailed(f"the id_token does not verify: {exc}") from None
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SignInFailed("the id_token's nonce is not the one this sign-in sent")
    return claims


def finish(provider: Provider, client: Client, login_value: str | None, code: str | None, state: str | None,
           redirect_uri: str) -> tuple[dict[str, Any], str]:
    """The callback: (id_token claims, the page to go to) or SignInFailed naming what did not hold."""
    if not login_value:
        raise SignInFailed("no sign-in in progress in this browser (cookie missing or expired): start again")
    login = _open(login_value, client.session_key, "login")
    if not state or not hmac.compare_digest(state, str(login["state"])):
        raise SignInFailed("the state does not match this browser's sign-in")
    if not code:
        raise SignInFailed("Slack returned no code")
    claims = verify_id_token(provider, client, provider.exchange(client, code, redirect_uri), str(login["nonce"]))
    return claims, str(login.get("next") or "")
