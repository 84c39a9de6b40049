"""Outbound HTTP: the one way Switchboard calls a URL that came from policy or a secret (promotion health checks,
alert webhooks and PagerDuty, the API-key consumer's webhook). AWS and Slack calls go through their SDKs instead.

The rules, in the order they are applied:

1. **The URL.** ``https`` only, a host name or an address, no user:password part, at most 2,048 characters, ASCII
   only (percent-encoded, IDNA host names), no whitespace or control characters. Plain ``http`` only to a
   loopback host, and only when the local world says so (``SWITCHBOARD_ALLOW_LOOPBACK_HTTP``; never on AWS).
2. **The address, after DNS.** The host is resolved once, and every address it resolves to must be public:
   link-local (169.254.0.0/16: the instance metadata service 169.254.169.254, ECS's 169.254.170.2), loopback,
   private (10/8, 172.16/12, 192.168/16, fc00::/7 with the IPv6 metadata service fd00:ec2::254), shared
   (100.64/10), multicast, reserved and unspecified addresses are refused, IPv4 inside IPv6 (``::ffff:a.b.c.d``,
   6to4, Teredo) included. With the local-world switch, loopback is allowed, except the Lambda runtime API
   (127.0.0.1:9001, or wherever ``AWS_LAMBDA_RUNTIME_API`` says).
3. **The connection goes to the vetted address.** urllib3 connects to that IP, sends the URL's host in the
   ``Host`` header and as TLS SNI, and checks the certificate against the host name: there is no second
   resolution a DNS-rebinding server could answer differently.
4. **No redirects.** A 3xx is the answer (a redirect must not carry a key or a signed body elsewhere, nor turn
   https into http).
5. **Bounded.** Connect and read timeouts, a total time for reading the body, and a body size limit.

``check(url)`` applies rule 1 and, for an address written in the URL, rule 2: the policy validator uses it (with
the switch off), so ``file:///etc/passwd`` or ``https://169.254.169.254/`` is refused with its YAML line.
``request()`` applies them all. Refusals raise ``Refused`` (retrying cannot help); failures to get an answer raise
``Unreachable``. Their messages never contain the URL's path or query (which may hold a token).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MAX_URL = 2048
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
TOTAL_READ = 20.0  # seconds for reading the whole body, however slowly it drips
MAX_BODY = 256 * 1024
LAMBDA_RUNTIME_PORT = 9001

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# getaddrinfo's shape: (host, port, family, type, proto, flags) -> [(family, type, proto, canonname, sockaddr)]
Resolver = Callable[..., list[tuple[Any, ...]]]

_METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254")}
_BAD_TEXT = re.compile(r"[\x00-\x20\x7f]")  # whitespace and control characters: nothing a URL needs
_DEFAULT_PORT = {"https": 443, "http": 80}


class OutboundError(RuntimeError):
    """An outbound call that did not happen or did not give an answer."""


class Refused(OutboundError):
    """The URL, or an address its host resolves to, is not one Switchboard calls. The message is a predicate
    ("is not https", "resolves to a private address (10.0.0.1)"), to follow "the URL" or the URL's owner."""


class Unreachable(OutboundError):
    """No answer: DNS, connection, TLS, timeout, or an answer too large. Retrying may help."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written, lower case, without brackets
    port: int
    path: str  # path and query, at least "/"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORT[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def loopback_allowed() -> bool:
    """The local world's switch (``SWITCHBOARD_ALLOW_LOOPBACK_HTTP``)."""
    from chalicelib.settings import get_settings

    return get_settings().allow_loopback_http


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None


def _embedded(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo's client), else the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


def _runtime_api(ip: IPAddress, port: int) -> bool:
    if ip.is_loopback and port == LAMBDA_RUNTIME_PORT:
        return True
    configured = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
    host, _, configured_port = configured.rpartition(":")
    found = _address(host.strip("[]")) if host else None
    return found is not None and _embedded(found) == ip and configured_port == str(port)


def why_refused(ip: IPAddress, port: int, *, loopback: bool) -> str | None:
    """Why Switchboard does not call ``ip:port`` (a noun phrase), or None when it may."""
    inner = _embedded(ip)
    if ip in _METADATA or inner in _METADATA:
        return "the instance metadata service"
    if _runtime_api(inner, port):
        return "the Lambda runtime API"
    for checked in (inner, ip) if inner != ip else (ip,):
        if checked.is_loopback:
            if not loopback:
                return "a loopback address"
            continue
        if checked.is_unspecified:
            return "an unspecified address"
        if checked.is_link_local:
            return "a link-local address"
        if checked.is_multicast:
            return "a multicast address"
        if checked.is_reserved:
            return "a reserved address"
        if checked.is_private or not checked.is_global:
            return "a private address"
    return None


def check(url: str, *, loopback: bool | None = None) -> Target:
    """Rule 1 (and rule 2 for an address written in the URL); no DNS. ``loopback`` defaults to the switch."""
    if loopback is None:
        loopback = loopback_allowed()
    if not isinstance(url, str) or not url:
        raise Refused("is empty")
    if len(url) > MAX_URL:
        raise Refused(f"is longer than {MAX_URL} characters")
    if _BAD_TEXT.search(url):
        raise Refused("contains whitespace or control characters")
    if not url.isascii():
        raise Refused("contains characters that are not ASCII (percent-encode them; IDNA for a host name)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"is not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT:
        raise Refused("is not https")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Refused("names no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("has a user or password in it (put credentials in a secret)")
    ip = _address(host)
    is_loopback_host = host == "localhost" or (ip is not None and ip.is_loopback)
    if scheme == "http" and not (loopback and is_loopback_host):
        raise Refused("is not https" + (" (plain http only to loopback in the local world)" if loopback else ""))
    port = port or _DEFAULT_PORT[scheme]
    if host == "localhost" and not loopback:
        raise Refused("names a loopback address")
    if ip is not None:
        why = why_refused(ip, port, loopback=loopback)
        if why:
            raise Refused(f"names {why} ({ip})")
    path = parts.path or "/"
    return Target(scheme, host, port, path + (f"?{parts.query}" if parts.query else ""))


def resolve(target: Target, *, loopback: bool, resolver: Resolver | None = None) -> IPAddress:
    """Rule 2: every address ``target.host`` resolves to is allowed; returns the one to connect to (the first)."""
    ip = _address(target.host)
    if ip is not None:
        found: list[IPAddress] = [ip]
    else:
        try:
            answers = (resolver or socket.getaddrinfo)(target.host, target.port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise Unreachable(f"{target.host} does not resolve ({type(exc).__name__})") from None
        found = _unique(a for a in (_address(str(answer[4][0])) for answer in answers) if a is not None)
        if not found:
            raise Unreachable(f"{target.host} resolves to no address")
    for address in found:
        why = why_refused(address, target.port, loopback=loopback)
        if why:
            raise Refused(f"resolves to {why} ({address})")
    if target.scheme == "http" and not all(a.is_loopback for a in found):
        raise Refused("is not https (plain http only to loopback in the local world)")
    return found[0]


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    seen: list[IPAddress] = []
    for address in addresses:
        if address not in seen:
            seen.append(address)
    return seen


def request(method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
            connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT,
            total_read: float = TOTAL_READ, max_body: int = MAX_BODY, read_body: bool = True,
            loopback: bool | None = None, resolver: Resolver | None = None, ca_certs: str | None = None) -> Answer:
    """One request under every rule above. Any status is an answer (3xx included: never followed); ``Refused`` or
    ``Unreachable`` otherwise. ``read_body=False`` reads only the status and headers (a health check)."""
    import urllib3

    if loopback is None:
        loopback = loopback_allowed()
    target = check(url, loopback=loopback)
    ip = resolve(target, loopback=loopback, resolver=resolver)
    timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
    common: dict[str, Any] = {"timeout": timeout, "retries": False, "maxsize": 1, "block": False}
    if target.scheme == "https":
        pool: Any = urllib3.HTTPSConnectionPool(
            str(ip), target.port, cert_reqs="CERT_REQUIRED", ca_certs=ca_certs,
            server_hostname=target.host, assert_hostname=target.host, **common)
    else:
        pool = urllib3.HTTPConnectionPool(str(ip), target.port, **common)
    try:
        response = pool.urlopen(method, target.path, body=body, headers={**(headers or {}), "Host": target.host_header},
                                redirect=False, retries=False, preload_content=False, assert_same_host=False)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        pool.close()
        raise Unreachable(f"{target.host} did not answer ({_reason(exc)})") from None
    try:
        data = _read(response, target, max_body, total_read) if read_body else b""
    finally:
        response.release_conn()
        pool.close()
    return Answer(response.status, data, dict(response.headers))


def _read(response: Any, target: Target, max_body: int, total_read: float) -> bytes:
    import urllib3

    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_body:
        raise Unreachable(f"{target.host} answered more than {max_body} bytes")
    started = time.monotonic()  # a difference of two readings only: a clock near 0 at boot does not matter
    chunks, size = [], 0
    try:
        while True:
            chunk = response.read(8192)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_body:
                raise Unreachable(f"{target.host} answered more than {max_body} bytes")
            if time.monotonic() - started > total_read:
                raise Unreachable(f"{target.host} took more than {total_read:g} s to answer")
            chunks.append(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise Unreachable(f"{target.host} did not finish its answer ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    """The error's kind and message, without the pool's "Host(host=…, port=…): " prefix; urllib3 (retries off)
    raises the connection's own error, whose message has no path or query."""
    text = str(exc)
    text = text.split("): ", 1)[1] if "): " in text else text
    return f"{type(exc).__name__}: {text}"[:300]
