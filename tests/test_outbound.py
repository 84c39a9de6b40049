"""The outbound HTTP adapter's rules as tables (URLs, resolved addresses with a fake resolver), then real requests to
servers on loopback: the connection goes to the vetted address (no second lookup: the test network guard would
catch one), redirects are answers, bodies and waits are bounded, and TLS is checked against the URL's name."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chalicelib import outbound
from chalicelib.outbound import Refused, Target, Unreachable

# ---- rule 1 (and 2 for literal addresses): the URL ----

@pytest.mark.parametrize(("url", "loopback", "why"), [
    ("file:///etc/passwd", False, "is not https"),
    ("file:///etc/passwd", True, "is not https"),
    ("ftp://example.com/x", False, "is not https"),
    ("gopher://example.com/", True, "is not https"),
    ("http://hooks.example.com/x", False, "is not https"),
    ("http://hooks.example.com/x", True, "is not https (plain http only to loopback in the local world)"),
    ("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", False, "is not https"),
    ("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", True, "names the Lambda runtime API (127.0.0.1)"),
    ("https://127.0.0.1:9001/x", True, "names the Lambda runtime API (127.0.0.1)"),
    ("https://127.0.0.1/x", False, "names a loopback address (127.0.0.1)"),
    ("https://[::1]/x", False, "names a loopback address (::1)"),
    ("https://localhost/x", False, "names a loopback address"),
    ("https://169.254.169.254/latest/meta-data/", False, "names the instance metadata service (169.254.169.254)"),
    ("https://169.254.169.254/latest/meta-data/", True, "names the instance metadata service (169.254.169.254)"),
    ("https://169.254.170.2/v2/credentials", True, "names the instance metadata service (169.254.170.2)"),
    ("https://[fd00:ec2::254]/latest", True, "names the instance metadata service (fd00:ec2::254)"),
    ("https://[::ffff:169.254.169.254]/", True, "names the instance metadata service (::ffff:a9fe:a9fe)"),
    ("https://169.254.1.1/", False, "names a link-local address (169.254.1.1)"),
    ("https://[fe80::1]/", False, "names a link-local address (fe80::1)"),
    ("https://10.0.0.1/", False, "names a private address (10.0.0.1)"),
    ("https://172.16.5.4/", False, "names a private address (172.16.5.4)"),
    ("https://192.168.1.1/", True, "names a private address (192.168.1.1)"),
    ("https://100.64.0.1/", False, "names a private address (100.64.0.1)"),
    ("https://[fd12::1]/", False, "names a private address (fd12::1)"),
    ("https://[::ffff:10.0.0.1]/", False, "names a private address (::ffff:a00:1)"),
    ("https://[2002:a00:1::]/", False, "names a private address (2002:a00:1::)"),  # 6to4 carrying 10.0.0.1
    ("https://224.0.0.1/", False, "names a multicast address (224.0.0.1)"),
    ("https://240.0.0.1/", False, "names a reserved address (240.0.0.1)"),
    ("https://0.0.0.0/", True, "names an unspecified address (0.0.0.0)"),
    ("https://user:secret@hooks.example.com/", False, "has a user or password in it (put credentials in a secret)"),
    ("https://hooks.example.com/a b", False, "contains whitespace or control characters"),
    ("https://hooks.example.com/\u0000", False, "contains whitespace or control characters"),
    ("https://hooks.example.com/\u202egnp.exe", False,
     "contains characters that are not ASCII (percent-encode them; IDNA for a host name)"),
    ("https://b\u00fccher.example/", False,
     "contains characters that are not ASCII (percent-encode them; IDNA for a host name)"),
    ("https:///only/a/path", False, "names no host"),
    ("https://hooks.example.com:99999/", False, "is not a URL (Port out of range 0-65535)"),
    ("", False, "is empty"),
    ("https://" + "x" * 2041, False, "is longer than 2048 characters"),
])
def test_refused_urls(url, loopback, why):
    with pytest.raises(Refused) as refused:
        outbound.check(url, loopback=loopback)
    assert str(refused.value) == why


@pytest.mark.parametrize(("url", "loopback", "target"), [
    ("https://events.pagerduty.com/v2/enqueue", False, Target("https", "events.pagerduty.com", 443, "/v2/enqueue")),
    ("HTTPS://Hooks.Example.com:8443", False, Target("https", "hooks.example.com", 8443, "/")),
    ("https://hooks.example.com/x?a=1&b=2#frag", False, Target("https", "hooks.example.com", 443, "/x?a=1&b=2")),
    ("https://xn--bcher-kva.example/x%20y", False, Target("https", "xn--bcher-kva.example", 443, "/x%20y")),
    ("https://93.184.216.34/health", False, Target("https", "93.184.216.34", 443, "/health")),
    ("https://[2606:4700::1111]/", False, Target("https", "2606:4700::1111", 443, "/")),
    ("http://127.0.0.1:8080/hook", True, Target("http", "127.0.0.1", 8080, "/hook")),
    ("http://localhost:8080/hook", True, Target("http", "localhost", 8080, "/hook")),
    ("https://127.0.0.1:8443/", True, Target("https", "127.0.0.1", 8443, "/")),
    ("https://" + "x" * 2040, False, Target("https", "x" * 2040, 443, "/")),
])
def test_accepted_urls(url, loopback, target):
    assert outbound.check(url, loopback=loopback) == target


def test_the_lambda_runtime_api_is_refused_wherever_the_runtime_says_it_is(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9123")
    with pytest.raises(Refused, match="names the Lambda runtime API"):
        outbound.check("http://127.0.0.1:9123/2018-06-01/runtime/invocation/next", loopback=True)
    assert outbound.check("http://127.0.0.1:9124/", loopback=True).port == 9124


def test_the_switch_comes_from_the_settings(monkeypatch):
    from chalicelib.settings import get_settings

    monkeypatch.setenv("SWITCHBOARD_ALLOW_LOOPBACK_HTTP", "false")
    get_settings.cache_clear()
    try:
        with pytest.raises(Refused, match="is not https"):
            outbound.check("http://127.0.0.1:8080/")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert outbound.check("http://127.0.0.1:8080/").scheme == "http"  # the tests' environment: as the local world


# ---- rule 2: every resolved address, with a fake resolver ----

def resolver(*addresses: str, calls: list[str] | None = None) -> Any:
    def getaddrinfo(host, port, family=0, type=0, *rest):  # noqa: A002 - getaddrinfo's own names
        if calls is not None:
            calls.append(host)
        if not addresses:
            raise OSError("Name or service not known")
        return [(0, type, 6, "", (a, port) if ":" not in a else (a, port, 0, 0)) for a in addresses]
    return getaddrinfo


@pytest.mark.parametrize(("url", "answers", "loopback", "outcome"), [
    ("https://hooks.example.com/", ["93.184.216.34"], False, "93.184.216.34"),
    ("https://hooks.example.com/", ["2606:4700::1111", "93.184.216.34"], False, "2606:4700::1111"),
    ("https://hooks.example.com/", ["10.1.2.3"], False, "refused: resolves to a private address (10.1.2.3)"),
    ("https://hooks.example.com/", ["93.184.216.34", "169.254.169.254"], False,
     "refused: resolves to the instance metadata service (169.254.169.254)"),  # one bad address is enough
    ("https://hooks.example.com/", ["fd00:ec2::254"], True,
     "refused: resolves to the instance metadata service (fd00:ec2::254)"),
    ("https://rebind.example.com/", ["127.0.0.1"], False, "refused: resolves to a loopback address (127.0.0.1)"),
    ("https://rebind.example.com/", ["::ffff:127.0.0.1"], False,
     "refused: resolves to a loopback address (::ffff:7f00:1)"),
    ("https://hooks.example.com:9001/", ["127.0.0.1"], True,
     "refused: resolves to the Lambda runtime API (127.0.0.1)"),
    ("https://stand-in.test/", ["127.0.0.1"], True, "127.0.0.1"),
    ("http://localhost:8080/", ["127.0.0.1", "::1"], True, "127.0.0.1"),
    ("https://hooks.example.com/", [], False, "unreachable: hooks.example.com does not resolve (OSError)"),
])
def test_resolved_addresses(url, answers, loopback, outcome):
    target = outbound.check(url, loopback=loopback)
    try:
        found = str(outbound.resolve(target, loopback=loopback, resolver=resolver(*answers)))
    except Refused as exc:
        found = f"refused: {exc}"
    except Unreachable as exc:
        found = f"unreachable: {exc}"
    assert found == outcome


# ---- real requests, to servers on loopback ----

class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]
    answer: tuple[int, dict[str, str], bytes] = (200, {}, b"ok")

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append({"method": self.command, "path": self.path, "host": self.headers.get("Host", ""),
                          "body": self.rfile.read(length).decode()})
        status, headers, body = self.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


def serve(answer: tuple[int, dict[str, str], bytes] = (200, {}, b"ok"),
          tls: ssl.SSLContext | None = None) -> tuple[ThreadingHTTPServer, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (Recorder,), {"seen": seen, "answer": answer})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.fixture
def servers() -> Iterator[list[ThreadingHTTPServer]]:
    running: list[ThreadingHTTPServer] = []
    yield running
    for server in running:
        server.shutdown()
        server.server_close()


def test_the_connection_goes_to_the_vetted_address_with_the_urls_host(servers):
    server, seen = serve()
    servers.append(server)
    port = server.server_address[1]
    calls: list[str] = []
    answer = outbound.request("POST", f"http://localhost:{port}/hook?x=1", body=b'{"a":1}', loopback=True,
                              headers={"Content-Type": "application/json"}, resolver=resolver("127.0.0.1", calls=calls))
    assert (answer.status, answer.text) == (200, "ok")
    assert calls == ["localhost"]  # resolved once, by the adapter (the https test below shows no second lookup)
    assert seen == [{"method": "POST", "path": "/hook?x=1", "host": f"localhost:{port}", "body": '{"a":1}'}]


def test_a_name_that_resolves_somewhere_forbidden_is_never_connected_to(servers):
    server, seen = serve()
    servers.append(server)
    with pytest.raises(Refused, match=r"resolves to a loopback address \(127.0.0.1\)"):
        outbound.request("GET", f"https://hook.test:{server.server_address[1]}/", loopback=False,
                         resolver=resolver("127.0.0.1"))
    assert seen == []


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_the_answer_not_followed(servers, status):
    target, target_seen = serve()
    servers.append(target)
    server, seen = serve((status, {"Location": f"http://127.0.0.1:{target.server_address[1]}/steal"}, b""))
    servers.append(server)
    answer = outbound.request("POST", f"http://127.0.0.1:{server.server_address[1]}/keys", body=b"secret",
                              loopback=True)
    assert answer.status == status
    assert [s["path"] for s in seen] == ["/keys"] and target_seen == []


def _chunked(self: BaseHTTPRequestHandler) -> None:
    """5,000 bytes in chunks, no Content-Length: the limit can only be enforced while reading."""
    self.send_response(200)
    self.send_header("Transfer-Encoding", "chunked")
    self.end_headers()
    for _ in range(5):
        self.wfile.write(b"3e8\r\n" + b"x" * 1000 + b"\r\n")
    self.wfile.write(b"0\r\n\r\n")


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_limit_is_refused(servers, declared):
    server, _ = serve((200, {}, b"x" * 5000))
    servers.append(server)
    if not declared:
        server.RequestHandlerClass.do_GET = _chunked  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    with pytest.raises(Unreachable, match="127.0.0.1 answered more than 4096 bytes"):
        outbound.request("GET", url, loopback=True, max_body=4096)
    assert outbound.request("GET", url, loopback=True, max_body=5000).body == b"x" * 5000


def test_a_server_that_never_answers_is_unreachable(servers):
    release = threading.Event()

    class Silent(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            release.wait(10)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    try:
        with pytest.raises(Unreachable, match=r"127.0.0.1 did not answer \(ReadTimeoutError"):
            outbound.request("GET", f"http://127.0.0.1:{server.server_address[1]}/", loopback=True,
                             read_timeout=0.2)
    finally:
        release.set()


def test_nobody_listening_is_unreachable_and_the_message_has_no_path():
    from localworld.emulator import free_port

    with pytest.raises(Unreachable) as failed:
        outbound.request("GET", f"http://127.0.0.1:{free_port()}/token/s3cr3t", loopback=True)
    assert "did not answer (NewConnectionError" in str(failed.value) and "s3cr3t" not in str(failed.value)


# ---- TLS: the certificate is checked against the URL's host, though the connection is to an address ----

def _authority(tmp: Path, name: str) -> tuple[str, ssl.SSLContext]:
    """A CA (its PEM file) and a server context holding a certificate for ``name`` signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "switchboard test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (tmp / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "server.pem")
    return str(tmp / "ca.pem"), context


@pytest.mark.parametrize(("certified", "outcome"), [
    ("hook.test", "200 sni=hook.test host=hook.test"),
    ("other.test", "unreachable"),  # a certificate for another name: refused, though the address is right
])
def test_tls_is_verified_against_the_urls_host(servers, tmp_path, certified, outcome):
    ca, context = _authority(tmp_path, certified)
    sni: list[str | None] = []
    calls: list[str] = []
    context.sni_callback = lambda sock, name, ctx: sni.append(name)
    server, seen = serve(tls=context)
    servers.append(server)
    port = server.server_address[1]
    try:
        # hook.test exists only in the fake resolver: a second lookup (urllib3's) would trip the test network guard
        answer = outbound.request("GET", f"https://hook.test:{port}/health", loopback=True, ca_certs=ca,
                                  resolver=resolver("127.0.0.1", calls=calls))
        found = f"{answer.status} sni={sni[0]} host={seen[0]['host'].split(':')[0]}"
    except Unreachable as exc:
        assert "SSLError" in str(exc)
        found = "unreachable"
    assert found == outcome and calls == ["hook.test"]
