"""The console's HTTP side: one function per request, Chalice in, Chalice ``Response`` out (app.py only wires).

Every answer carries the security headers (a CSP with no script at all, no framing, no sniffing, no referrer,
no caching of pages). Every page needs a session; without one the browser is sent to sign in and brought back.
What a page shows is limited to the environments the person may view (``views.environments_for``); asking for
another one by URL (``?environment=prod``) is answered 403.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.console import auth, store, views
from chalicelib.console.exceptions import ConsoleError, NotConfigured, SignInFailed
from chalicelib.console.records import Kind
from chalicelib.observability import logger
from chalicelib.settings import get_settings
from chalicelib.timefmt import stamp

HERE = Path(__file__).resolve().parent
PAGES = ("estate", "incidents", "changes", "audit", "dora")
TITLES = {"estate": "Estate", "incidents": "Incidents", "changes": "Changes", "audit": "Audit", "dora": "DORA"}


def headers(content_type: str = "text/html; charset=utf-8", *, cache: bool = False) -> dict[str, str]:
    issuer = get_settings().oidc_issuer
    return {
        "Content-Type": content_type,
        "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
                                    f"form-action 'self' {issuer}; frame-ancestors 'none'; base-uri 'none'"),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "Cache-Control": "public, max-age=3600" if cache else "no-store",
    }


@lru_cache(maxsize=1)
def templates() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["short_time"] = lambda text: (text or "")[:16].replace("T", " ")
    return env


def render(name: str, **values: Any) -> str:
    return templates().get_template(name).render(pages=PAGES, titles=TITLES, **values)


def _response(body: str, status: int = 200, extra: dict[str, str] | None = None, **kw: Any) -> Any:
    from chalice import Response

    return Response(body=body, status_code=status, headers={**headers(**kw), **(extra or {})})


def _redirect(location: str, cookie: str | None = None) -> Any:
    extra = {"Location": location}
    if cookie is not None:
        extra["Set-Cookie"] = cookie
    return _response("", 302, extra)


def _error(status: int, title: str, message: str, session: auth.Session | None = None) -> Any:
    try:
        base = _BASE.get()
    except LookupError:
        base = "/console"
    return _response(render("error.html", title=title, message=message, session=session, page=None, base=base),
                     status)


_BASE: ContextVar[str] = ContextVar("console_base")


def base_url(request: Any) -> str:
    found = _base_url(request)
    _BASE.set(found)
    return found


def _base_url(request: Any) -> str:
    settings = get_settings()
    if settings.console_url:
        return settings.console_url.rstrip("/")
    if settings.in_lambda:
        raise NotConfigured("SWITCHBOARD_CONSOLE_URL is not set (the console's public address, for Slack's redirect)")
    return f"http://{request.headers.get('host', '127.0.0.1')}/console"  # the local world: loopback only


@lru_cache(maxsize=4)
def provider(issuer: str) -> auth.Provider:
    return auth.Provider(issuer)


def client() -> auth.Client:
    from chalicelib.policy import loader as policy
    from chalicelib.slackkit import slack

    name = policy.current().slack.secret_name
    return auth.client_from(slack._provider().get(name, transform="json",
                                                  max_age=get_settings().secret_max_age_seconds))


def handle(app: Any, page: str) -> Any:
    """One request to /console or /console/<page>."""
    request = app.current_request
    _BASE.set("/console")
    try:
        base_url(request)
        if page == "console.css":
            css = (HERE / "static" / "console.css").read_text()
            return _response(css, content_type="text/css; charset=utf-8", cache=True)
        if page == "signin":
            return _signin(request)
        if page == "callback":
            return _callback(request)
        if page == "signout":
            return _redirect(f"{base_url(request)}/signedout", auth.cookie_header("", 0))
        if page == "signedout":
            return _response(render("signedout.html", session=None, page=None, base=base_url(request)))
        if page not in PAGES:
            return _error(404, "Not found", f"There is no console page '{page[:40]}'.")
        return _page(request, page)
    except NotConfigured as exc:
        logger.error("console not configured", extra={"reason": str(exc)})
        return _error(503, "Console not configured", str(exc))
    except ConsoleError as exc:
        return _error(400, "Cannot show this", str(exc))


def _signin(request: Any) -> Any:
    wanted = (request.query_params or {}).get("next", "estate")
    next_page = wanted if wanted in PAGES else "estate"
    c = client()
    value, state, nonce = auth.login_cookie(c, next_page)
    url = provider(get_settings().oidc_issuer).authorize_url(c, f"{base_url(request)}/callback", state, nonce)
    return _redirect(url, auth.cookie_header(value, auth.LOGIN_SECONDS))


def _callback(request: Any) -> Any:
    query = request.query_params or {}
    c = client()
    base = base_url(request)
    try:
        claims, next_page = auth.finish(provider(get_settings().oidc_issuer), c,
                                        auth.cookie_of(request.headers.get("cookie")), query.get("code"),
                                        query.get("state"), f"{base}/callback")
    except SignInFailed as exc:
        logger.warning("console sign-in failed", extra={"reason": str(exc)})
        return _error(401, "Sign-in failed", str(exc))
    seconds = get_settings().console_session_seconds
    cookie = auth.session_cookie(c, str(claims["sub"]), str(claims.get("name") or claims["sub"]), seconds)
    return _redirect(f"{base}/{next_page if next_page in PAGES else 'estate'}", auth.cookie_header(cookie, seconds))


def _page(request: Any, page: str) -> Any:
    from chalicelib.policy import loader as policy
    from chalicelib.slackkit import slack

    base = base_url(request)
    session = auth.session_of(client(), auth.cookie_of(request.headers.get("cookie")))
    if session is None:
        return _redirect(f"{base}/signin?next={quote(page)}")
    current = policy.current()
    allowed = views.environments_for(current, session.user, slack.groups_of(session.user))
    query = dict(request.query_params or {})
    wanted = query.get("environment")
    if wanted:
        if wanted not in allowed:
            return _error(403, "Not yours to see", f"You have no role in {wanted[:40]}: the console shows it only "
                                                  "to people with a role there.", session)
        allowed = [wanted]
    bound = {"environments": allowed, "query": {k: query[k] for k in sorted(query) if k != "page"}}
    after = auth.open_cursor(client(), session, page, bound, query["page"]) if query.get("page") else {}
    values = {"session": session, "page": page, "base": base, "allowed": allowed, "environment": wanted,
              "every_environment": [e for e in views.environments(current) if e in allowed or not wanted]}
    values.update(build(page, current, allowed, query, after=after))
    more = values.pop("after")
    first = f"{base}/{page}" + (f"?{urlencode(bound['query'])}" if bound["query"] else "")
    token = auth.seal_cursor(client(), session, page, bound, more) if more else None
    values.update(next_page=token and f"{base}/{page}?" + urlencode({**bound["query"], "page": token}),
                  first_page=first, paged=bool(after))
    return _response(render(f"{page}.html", **values))


# What one page shows at most of each part (DynamoDB's Limit: items read, before the environment filter)
PAGE_SIZES = {"estate": 120, "flight": 30, "board": 50, "silences": 100, "scaling": 300, "secrets": 200,
              "audit": 100, "dora": 240}


def build(page: str, current: Any, allowed: list[str], query: dict[str, str], client: Any = None,
          now: Any = None, after: dict[str, Any] | None = None) -> dict[str, Any]:
    """The page's values: its one or two Queries (each of at most ``PAGE_SIZES[part]`` items, from ``after``),
    then the pure view; ``after``: where each part goes on (None: nothing more). bench/console.py times both."""
    now = now or views.utcnow()
    after = after or {}

    def read(name: str, pk: str, **kw: Any) -> store.Part:
        if after and name not in after:  # a next page: this part had nothing more
            return store.Part([], None)
        return store.part(pk, allowed, limit=PAGE_SIZES[name], after=after.get(name), client=client, **kw)

    if page == "estate":
        cells = read("estate", "estate", group=lambda sk: sk.rsplit("#", 1)[0])
        flight = read("flight", "flight", newest_first=True)
        return {"estate": views.estate(current, allowed, cells.items, flight.items),
                "after": _more(estate=cells, flight=flight)}
    if page == "incidents":
        board = read("board", "board", key=(">=", f"0#{stamp(now - views.RECENT)}"), newest_first=True)
        silences = read("silences", "silences", group=lambda sk: sk.removesuffix("#mutes"))
        return {"incidents": views.incidents(allowed, board.items, silences.items, now),
                "after": _more(board=board, silences=silences)}
    if page == "changes":
        scaling = read("scaling", "history#scaling", where="#at >= :since", names={"#at": "at"},
                       values={":since": {"S": stamp(now - timedelta(days=14))}},
                       group=lambda sk: sk.rsplit("#", 2)[0])
        secrets = read("secrets", "latest#secret", group=lambda sk: "#".join(sk.split("#", 3)[:3]))
        return {"changes": views.changes(allowed, scaling.items, secrets.items, now),
                "after": _more(scaling=scaling, secrets=secrets)}
    if page == "audit":
        filters = views.audit_filters(query)
        found = store.Part([], None) if after and "audit" not in after else store.history(
            Kind.AUDIT, allowed, filters=filters, after=after.get("audit"), limit=PAGE_SIZES["audit"], client=client)
        return {"rows": views.audit(allowed, found.items), "filters": filters, "after": _more(audit=found)}
    if page == "dora":
        found = read("dora", "dora", where="#week >= :start", names={"#week": "week"},
                     values={":start": {"S": stamp(views.dora_start(now))[:10]}},
                     group=lambda sk: sk.split("#", 1)[0])
        return {"dora": views.dora(allowed, found.items, now), "after": _more(dora=found)}
    raise ConsoleError(f"no page {page}")


def _more(**parts: store.Part) -> dict[str, Any]:
    """Where each part of the page goes on (the parts with nothing more are left out)."""
    return {name: p.after for name, p in parts.items() if p.after is not None}
