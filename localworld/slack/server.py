"""A Slack stand-in for the local world: a loopback HTTP server that speaks enough of the Slack Web API.

By job: this module is the server (HTTP, the Web API methods that change messages, response_urls, faults);
``directory.py`` the workspace (channels, users, user groups), ``recorder.py`` what is kept and how to look at it,
``limits.py`` Slack's rate limits (on by default).

The real ``slack_sdk`` clients are pointed at it (``WebClient(base_url=standin.api_url)``,
``WebhookClient(standin.response_url())``); every request is recorded as a :class:`Call`, and the
state of posted messages is kept so tests and ``make run`` can see what Switchboard would have
posted, without any access to Slack.

Fidelity notes (mirroring Slack's documented behaviour):

* Web API errors are HTTP 200 with ``{"ok": false, "error": ...}``: ``unknown_method`` (checked first),
  ``not_authed`` (no token), ``invalid_auth`` (wrong token), ``channel_not_found``, ``no_text``,
  ``message_not_found``, ``invalid_blocks``/``invalid_blocks_format``, ``msg_too_long``.
* Tokens may arrive as ``Authorization: Bearer`` or as a ``token`` body field; both are redacted
  before anything is recorded.
* Channel names (``#team-web`` or ``team-web``) resolve to a stable fake id (``C`` + 10 hex);
  user ids (``U…``/``W…``) as a channel resolve to a stable DM id (``D…``).
  ``conversations.info`` needs an id, as on Slack.
* A ``response_url`` accepts at most 5 uses within 30 minutes (Slack's documented limit): the 6th
  use answers HTTP 404 ``used_url``, a late use 404 ``expired_url``, an id this server never issued
  404 ``expired_url``. A body that is not JSON answers 400 ``invalid_payload``; one with no
  text/blocks/attachments (and no ``delete_original``) answers 400 ``no_text``. Rejected uses do not
  count. ``replace_original``/``delete_original``/``response_type`` are recorded, not applied.
* A directory of users and user groups (:meth:`SlackStandIn.add_user`, :meth:`SlackStandIn.add_group`)
  backs ``users.info`` (``user_not_found`` for an id never registered; the bot user is built in),
  ``usergroups.list`` (``users`` only with ``include_users``; ``user_count`` is a string, as on
  Slack) and ``usergroups.users.list`` (``no_such_subteam`` for an unknown group).
* Rate limits (``limits.py``): per-method tiers and chat.postMessage's per-channel limit, answered 429
  ``ratelimited`` with ``Retry-After``; ``limits=Limits.off()`` turns them off.
* Faults (:meth:`SlackStandIn.fail_next`) make the next calls of a method fail before anything else
  happens: 429 answers ``{"ok": false, "error": "ratelimited"}`` with a ``Retry-After`` header, as the
  Web API does; 5xx answers that status. Failed calls are recorded with their status.
"""

from __future__ import annotations

import argparse
import copy
import email.parser
import email.policy
import ipaddress
import json
import secrets
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from localworld.slack.directory import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    TEAM_ID,
    TEAM_NAME,
    ApiError,
    Directory,
    _opt_str,
)
from localworld.slack.limits import Limits, RateLimiter
from localworld.slack.recorder import (
    Call,
    Recorder,
    _bearer,
    _MessageState,
    _redacted_body,
    _redacted_headers,
    log,
)

__all__ = ["APP_ID", "BOT_ID", "BOT_USER_ID", "TEAM_ID", "TEAM_NAME", "Limits", "SlackStandIn", "main", "parse_body"]

RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
MAX_TEXT_CHARS = 40_000
MAX_BLOCKS = 50
MAX_SECTION_TEXT_CHARS = 3000
MAX_HEADER_TEXT_CHARS = 150

_JSON_FIELDS = ("blocks", "attachments", "metadata")
_SUPPORTED = (
    "api.test",
    "auth.test",
    "chat.postMessage",
    "chat.update",
    "chat.delete",
    "chat.postEphemeral",
    "conversations.info",
    "users.info",
    "usergroups.list",
    "usergroups.users.list",
)


@dataclass
class _ResponseUrl:
    created: float
    uses: int = 0


@dataclass
class _Fault:
    status: int
    times: int
    retry_after: int | None
    error: str | None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SlackStandIn(Directory, Recorder):
    """A recording Slack Web API + response_url stand-in on loopback, with Slack's rate limits (``limits``)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "xoxb-local-world",  # noqa: S107 - the local world's fake bot token
        record_file: str | None = None,
        *,
        on_call: Callable[[Call], None] | None = None,
        limits: Limits | None = None,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the Slack stand-in binds loopback only, not {host!r}")
        Directory.__init__(self)
        Recorder.__init__(self, record_file, on_call)
        self.host = host
        self.port = port
        self.token = token
        self._clock: Callable[[], float] = time.monotonic
        self.limiter = RateLimiter(limits)
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._last_ts_us = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        from localworld.slack_oidc import OidcProvider

        self.oidc = OidcProvider(self)  # Sign in with Slack (OpenID Connect), for the console

    def set_limits(self, limits: Limits) -> None:
        """Enforce ``limits`` from now on (with fresh buckets)."""
        self.limiter = RateLimiter(limits)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SlackStandIn:
        if self._server is not None:
            return self
        standin = self

        class Handler(_Handler):
            owner = standin

        server = _Server((self.host, self.port), Handler)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, key: str = "") -> str:
        """A fresh response_url; ``key`` is an optional readable prefix of its id."""
        rid = secrets.token_hex(8)
        if key:
            rid = f"{quote(key, safe='')}-{rid}"
        with self._cond:
            self._response_urls[rid] = _ResponseUrl(created=self._clock())
        return f"{self.url}/response/{rid}"

    # -- fault injection ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status`` before doing anything.

        ``method`` is a Web API method (``"chat.postMessage"``) or ``"response_url"`` (any response_url).
        429 answers ``Retry-After: <retry_after or 1>`` (``retry_after=0`` is sent as 0) and, for the
        Web API, ``{"ok": false, "error": "ratelimited"}``; 5xx answers that status with
        ``{"ok": false, "error": error or "internal_error"}`` (Web API) or plain text (response_url).
        Faults queue up in the order given; :meth:`reset` drops those not used yet.
        """
        if status != 429 and not 500 <= status <= 599:
            raise ValueError(f"fail_next takes status 429 or 5xx, not {status}")
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        if retry_after is not None and retry_after < 0:
            raise ValueError(f"retry_after must not be negative, not {retry_after}")
        with self._cond:
            self._faults.setdefault(method, deque()).append(_Fault(status, times, retry_after, error))

    def _take_fault(self, method: str) -> _Fault | None:
        # caller holds self._cond
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    def reset(self, *, directory: bool = False) -> None:
        """Forget calls, messages, responses, pending faults and rate-limit use; issued response_urls stay valid with
        their uses reset. Registered users and groups stay (the world's directory) unless ``directory``.
        """
        with self._cond:
            self.forget_recorded()
            self._faults.clear()
            self.limiter.reset()
            if directory:
                self.forget_directory()
            now = self._clock()
            for r in self._response_urls.values():
                r.uses, r.created = 0, now

    # -- request handling (called from server threads) ---------------------------------------------

    def _handle_api(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one Web API call: (HTTP status, JSON body, extra response headers)."""
        token = _bearer(headers.get("Authorization")) or body.get("token")
        body = _redacted_body(body)
        with self._cond:
            status, extra = 200, {}
            fault = self._take_fault(method)
            limited = self._limited(method, body) if fault is None else None
            if limited is not None:
                response = {"ok": False, "error": "ratelimited"}
                status, extra = 429, {"Retry-After": str(limited)}
            elif fault is None:
                response = self._dispatch(method, token, body)
            elif fault.status == 429:
                response = {"ok": False, "error": "ratelimited"}
                status, extra = 429, {"Retry-After": str(_retry_after(fault))}
            else:
                response = {"ok": False, "error": fault.error or "internal_error"}
                status = fault.status
            self._record(Call(method, path, _redacted_headers(headers), body, time.time(), status, response))
            return status, copy.deepcopy(response), extra

    def _limited(self, method: str, body: dict[str, Any]) -> int | None:
        """Retry-After seconds when Slack's limits refuse this call now (``limits.py``), else None."""
        channel = _opt_str(body.get("channel"))
        return self.limiter.check(method, self._resolve_channel(channel) if channel else None)

    def _dispatch(self, method: str, token: str | None, body: dict[str, Any]) -> dict[str, Any]:
        if method not in _SUPPORTED:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        if method == "api.test":
            return {"ok": True, "args": copy.deepcopy(body)}
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != self.token:
            return {"ok": False, "error": "invalid_auth"}
        try:
            handler = getattr(self, "_api_" + method.replace(".", "_"))
            return {"ok": True, **handler(body)}
        except ApiError as e:
            return {"ok": False, "error": e.error}

    def _handle_response_url(
        self, rid: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, str, dict[str, str]]:
        """Answer one response_url use: (HTTP status, text body, extra response headers)."""
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            body = None
        recorded = body if isinstance(body, dict) else {"_raw": raw.decode("utf-8", "replace")}
        with self._cond:
            extra: dict[str, str] = {}
            fault = self._take_fault("response_url")
            if fault is None:
                status, text = self._use_response_url(rid, body)
                if status == 200:
                    self._responses.append((rid, copy.deepcopy(body)))
            elif fault.status == 429:
                status, text = 429, "rate_limited"
                extra = {"Retry-After": str(_retry_after(fault))}
            else:
                status, text = fault.status, fault.error or "internal_error"
            call = Call("response_url", path, _redacted_headers(headers), recorded, time.time(), status, text)
            self._record(call)
        return status, text, extra

    def _use_response_url(self, rid: str, body: Any) -> tuple[int, str]:
        entry = self._response_urls.get(rid)
        if entry is None:
            return 404, "expired_url"
        if self._clock() - entry.created > RESPONSE_URL_TTL_SECONDS:
            return 404, "expired_url"
        if entry.uses >= RESPONSE_URL_MAX_USES:
            return 404, "used_url"
        if not isinstance(body, dict):
            return 400, "invalid_payload"
        has_content = any(body.get(k) for k in ("text", "blocks", "attachments"))
        if not has_content and not body.get("delete_original"):
            return 400, "no_text"
        entry.uses += 1
        return 200, "ok"

    # -- the API methods (caller holds self._cond) ---------------------------------------------------

    def _api_auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://local-world.slack.com/",
            "team": TEAM_NAME,
            "user": "switchboard",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(body)
        text, blocks, attachments = _content(body)
        thread_ts = _opt_str(body.get("thread_ts"))
        msg = _MessageState(channel, self._next_ts(), text, blocks, attachments, thread_ts)
        self._messages[(channel, msg.ts)] = msg
        return {"channel": channel, "ts": msg.ts, "message": msg.as_slack()}

    def _api_chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        msg = self._existing(body)
        text, blocks, attachments = _content(body)
        msg.history.append({"text": msg.text, "blocks": msg.blocks, "attachments": msg.attachments})
        msg.text, msg.blocks = text, blocks
        if attachments is not None:
            msg.attachments = attachments
        msg.updated += 1
        message = msg.as_slack()
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {"channel": msg.channel, "ts": msg.ts, "text": msg.text, "message": message}

    def _api_chat_delete(self, body: dict[str, Any]) -> dict[str, Any]:
        msg = self._existing(body)
        msg.deleted = True
        return {"channel": msg.channel, "ts": msg.ts}

    def _api_chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(body)
        user = _opt_str(body.get("user"))
        if not user:
            raise ApiError("user_not_in_channel")
        text, blocks, attachments = _content(body)
        msg = _MessageState(channel, self._next_ts(), text, blocks, attachments,
                            _opt_str(body.get("thread_ts")), ephemeral_to=user)
        self._ephemerals.append(msg)
        return {"message_ts": msg.ts}

    def _api_conversations_info(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = _opt_str(body.get("channel")) or ""
        if not (CHANNEL_ID.match(cid)):
            raise ApiError("channel_not_found")
        is_im = cid.startswith("D")
        info: dict[str, Any] = {
            "id": cid,
            "created": 1732233600,
            "is_channel": cid.startswith("C"),
            "is_group": cid.startswith("G"),
            "is_im": is_im,
            "is_private": not cid.startswith("C"),
            "is_archived": False,
            "is_member": True,
        }
        if not is_im:
            name = self._channel_names.get(cid, f"channel-{cid.lower()}")
            info |= {
                "name": name,
                "name_normalized": name,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
            }
        return {"channel": info}

    # -- helpers ---------------------------------------------------------------------------------

    def _require_channel(self, body: dict[str, Any]) -> str:
        channel = _opt_str(body.get("channel"))
        if not channel:
            raise ApiError("channel_not_found")
        return self._resolve_channel(channel)

    def _existing(self, body: dict[str, Any]) -> _MessageState:
        channel = self._require_channel(body)
        msg = self._messages.get((channel, _opt_str(body.get("ts")) or ""))
        if msg is None or msg.deleted:
            raise ApiError("message_not_found")
        return msg

    def _next_ts(self) -> str:
        us = max(int(time.time() * 1_000_000), self._last_ts_us + 100)
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"


# -- pure helpers ------------------------------------------------------------------------------------


def _retry_after(fault: _Fault) -> int:
    return 1 if fault.retry_after is None else fault.retry_after


def _content(body: dict[str, Any]) -> tuple[str, list | None, list | None]:
    text = body.get("text")
    blocks = body.get("blocks")
    attachments = body.get("attachments")
    if not text and not blocks and not attachments:
        raise ApiError("no_text")
    text = "" if text is None else str(text)
    if len(text) > MAX_TEXT_CHARS:
        raise ApiError("msg_too_long")
    if blocks is not None:
        _check_blocks(blocks)
    if attachments is not None and not (
        isinstance(attachments, list) and all(isinstance(a, dict) for a in attachments)
    ):
        raise ApiError("invalid_attachments")
    return text, blocks, attachments


def _check_blocks(blocks: Any) -> None:
    if isinstance(blocks, str) or not isinstance(blocks, list):
        raise ApiError("invalid_blocks_format")
    if len(blocks) > MAX_BLOCKS:
        raise ApiError("invalid_blocks")
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ApiError("invalid_blocks")
        text = block.get("text")
        limit = {"section": MAX_SECTION_TEXT_CHARS, "header": MAX_HEADER_TEXT_CHARS}.get(block["type"])
        if limit and isinstance(text, dict) and len(str(text.get("text", ""))) > limit:
            raise ApiError("invalid_blocks")


def _decode_json_fields(body: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_FIELDS:
        value = body.get(key)
        if isinstance(value, str):
            try:
                body[key] = json.loads(value)
            except ValueError:
                pass  # left as a string: _check_blocks answers invalid_blocks_format
    return body


def parse_body(content_type: str, raw: bytes, query: str = "") -> dict[str, Any]:
    """Parse a Web API request the way Slack does: query string, then JSON / form / multipart body."""
    body: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.split(";", 1)[0].strip().lower()
    if raw:
        if ctype == "application/json":
            try:
                parsed = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                parsed = None
            if isinstance(parsed, dict):
                body.update(parsed)
        elif ctype == "multipart/form-data":
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
            )
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not name:
                    continue
                payload = part.get_payload(decode=True) or b""
                if part.get_filename():
                    body[name] = {"filename": part.get_filename(), "size": len(payload)}
                else:
                    body[name] = payload.decode("utf-8", "replace")
        else:  # slack_sdk's default: application/x-www-form-urlencoded
            body.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return _decode_json_fields(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of concurrent clients must not overflow the listen backlog

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: no tracebacks on stderr
        log.debug("Slack stand-in: error handling a request from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    owner: SlackStandIn
    protocol_version = "HTTP/1.1"
    server_version = "SlackStandIn/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no per-request noise
        log.debug("%s " + format, self.address_string(), *args)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Slack-Req-Id", secrets.token_hex(8))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, obj: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json; charset=utf-8", headers)

    def _text(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, text.encode("utf-8"), "text/plain; charset=utf-8", headers)

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch(self._read_body())

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch(b"")

    def _dispatch(self, raw: bytes) -> None:
        parts = urlsplit(self.path)
        headers = dict(self.headers.items())
        if self.owner.oidc.handles(parts.path):
            status, content_type, payload, extra = self.owner.oidc.handle(self.command, parts.path, parts.query, raw)
            self._send(status, payload, content_type, extra)
        elif parts.path.startswith("/api/"):
            method = parts.path[len("/api/"):].strip("/")
            body = parse_body(self.headers.get("Content-Type") or "", raw, parts.query)
            status, response, extra = self.owner._handle_api(method, parts.path, headers, body)
            self._json(response, status, extra)
        elif parts.path.startswith("/response/") and self.command == "POST":
            rid = parts.path[len("/response/"):].strip("/")
            status, text, extra = self.owner._handle_response_url(rid, parts.path, headers, raw)
            self._text(status, text, extra)
        else:
            self._text(404, "not_found")


def _summary(call: Call) -> str:
    body = call.body
    what = body.get("text") or ("<blocks>" if body.get("blocks") else "")
    where = body.get("channel") or call.path
    ok = call.response.get("ok") if isinstance(call.response, dict) else call.response
    return f"{call.method:<20} {where!s:<24} {ok!s:<5} {str(what)[:80]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localworld.slack_standin", description="Serve the Slack stand-in until Ctrl-C."
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--token", default="xoxb-local-world", help="the bot token to accept")
    parser.add_argument("--record-file", default=None, help="append every call here as JSON lines")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print a line per call")
    parser.add_argument("--no-limits", action="store_true", help="do not enforce Slack's rate limits")
    args = parser.parse_args(argv)

    def echo(call: Call) -> None:
        print(_summary(call), flush=True)

    stopping = threading.Event()
    # Handlers first, so a Ctrl-C (or SIGTERM) arriving at any moment after this ends the loop cleanly.
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    standin = SlackStandIn(args.host, args.port, args.token, args.record_file,
                           on_call=None if args.quiet else echo, limits=Limits.off() if args.no_limits else None)
    standin.start()
    try:
        print(f"Slack stand-in listening on {standin.url}  (WebClient base_url={standin.api_url})", flush=True)
        while not stopping.wait(1.0):
            pass
    finally:
        standin.stop()
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
