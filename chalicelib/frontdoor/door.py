"""Who may knock on the front door: the checks a Slack request passes before Bolt sees it (pure functions).

``http.handle`` runs them in this order, and the first that says no answers the request:

1. ``not_the_front_door``: only the account policy names ``slack.front_door`` serves Slack (404). The others
   define no Slack route at all (app.py); this is the second lock on the same door.
2. The Slack secret must be usable (``slack.credentials()``: 503, measured, audited once per container).
3. ``unpinned``: the front door's policy must pin its workspace and app (503).
4. ``signature_problem``: v0 HMAC-SHA256 over ``v0:{timestamp}:{body}`` (slack_sdk's ``SignatureVerifier``),
   with the current signing secret or, during a rotation window, the previous one; a missing, non-numeric or
   stale (more than 5 minutes; for Bolt's lazy run of an admitted request, ``self_invocation``, Lambda's maximum
   event age) timestamp is a 401 like a wrong signature.
5. ``foreign_workspace``: the signed body's ``team_id`` and ``api_app_id`` must be the pinned ones (401).
6. ``foreign_response_url``: a ``response_url`` in the body must be on Slack's host (401): whoever forges a
   request must not choose where its answer goes.

Bolt's lazy-mode headers (``LAZY_HEADERS``) are Bolt's own mark on a request this function re-invokes itself
with (``lambda:InvokeFunction``); ``self_invocation`` tells such an event from one API Gateway delivers, whose
copies of those headers are dropped before anything reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

LAZY_HEADERS = ("x-slack-bolt-lazy-only", "x-slack-bolt-lazy-function-name")
WINDOW_SECONDS = 300  # Slack's: a signed request older (or newer) than this is a replay
# Bolt's lazy run (``self_invocation``) of a request admitted earlier: Lambda's maximum event age for an
# asynchronous invocation (6 hours), within which it may deliver or retry it
LAZY_RUN_WINDOW_SECONDS = 6 * 3600
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


@dataclass(frozen=True)
class Refusal:
    status: int  # the HTTP status Slack (or whoever called) gets
    reason: str  # one line for the log, the audit and the answer; never a secret
    metric: str  # the CloudWatch metric counted


def not_the_front_door(account: str, front_door: str | None) -> Refusal | None:
    if front_door == account:
        return None
    return Refusal(404, f"account {account} is not the Slack front door (slack.front_door: {front_door or 'none'})",
                   "SlackRequestsRefused")


def unpinned(team_id: str | None, api_app_id: str | None) -> Refusal | None:
    missing = [name for name, value in (("slack.team_id", team_id), ("slack.api_app_id", api_app_id)) if not value]
    if not missing:
        return None
    return Refusal(503, f"the front door's policy pins no workspace: set {' and '.join(missing)}",
                   "SlackFrontDoorUnusable")


class _At:
    """A fixed clock for slack_sdk's SignatureVerifier (the caller decides what now is)."""

    def __init__(self, now: float):
        self._now = now

    def now(self) -> float:
        return self._now


def signature_problem(body: str | bytes, headers: Mapping[str, str], secrets: Sequence[str],
                      now: float, window: float | None = None) -> Refusal | None:
    """None when ``body`` is signed, within the 5-minute window (or ``window`` seconds), by one of ``secrets``."""
    from slack_sdk.signature import SignatureVerifier

    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp, signature = lowered.get("x-slack-request-timestamp"), lowered.get("x-slack-signature")
    if not signature:
        return _unsigned("no X-Slack-Signature header")
    if timestamp is None:
        return _unsigned("no X-Slack-Request-Timestamp header")
    if not _TIMESTAMP.match(timestamp):
        return _unsigned(f"X-Slack-Request-Timestamp {timestamp[:20]!r} is not a number of seconds")
    if abs(now - int(timestamp)) > (WINDOW_SECONDS if window is None else window):
        away = "5 minutes" if window is None else f"{window:g} seconds"
        return _unsigned(f"X-Slack-Request-Timestamp is more than {away} away from now (a replay?)")
    at = _At(float(timestamp))  # the window is checked above (slack_sdk's verifier would apply its own 5 minutes)
    if not any(SignatureVerifier(secret, clock=at).is_valid(body=body, timestamp=timestamp, signature=signature)
               for secret in secrets):
        return _unsigned("the signature matches no signing secret")
    return None


def _unsigned(reason: str) -> Refusal:
    return Refusal(401, reason, "SlackRequestsRefused")


@dataclass(frozen=True)
class Named:
    """What a Slack request's body names: its workspace, its app, and where the answer goes."""

    team_id: str | None = None
    api_app_id: str | None = None
    response_url: str | None = None


def named_in(body: str) -> Named:
    """The form fields of a slash command, or the JSON ``payload`` of an interaction. Nothing for a body that is
    not what Slack sends. A field given twice counts as Bolt reads it (``slack_bolt.request.internals.parse_body``:
    the last one), so what the door checks is what the listeners act on."""
    form = dict(parse_qsl(body, keep_blank_values=True))
    if "payload" not in form:
        return Named(form.get("team_id"), form.get("api_app_id"), form.get("response_url"))
    try:
        payload: Any = json.loads(form["payload"])
    except ValueError:
        return Named()
    if not isinstance(payload, dict):
        return Named()
    team = payload.get("team")
    url = payload.get("response_url")
    return Named(team.get("id") if isinstance(team, dict) else None, _text(payload.get("api_app_id")), _text(url))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def foreign_workspace(named: Named, team_id: str, api_app_id: str) -> Refusal | None:
    if (named.team_id, named.api_app_id) == (team_id, api_app_id):
        return None
    return Refusal(401, f"request from workspace {str(named.team_id)[:20]!r}, app {str(named.api_app_id)[:20]!r}: "
                        f"this front door answers only {team_id}, {api_app_id}", "SlackRequestsRefused")


def foreign_response_url(named: Named, slacks: Callable[[str], bool]) -> Refusal | None:
    """A request whose answer would go anywhere but Slack (``slacks``: ``slack.response_url_ok``) is not Slack's."""
    if named.response_url is None or slacks(named.response_url):
        return None
    host = urlsplit(named.response_url).netloc[:60] or named.response_url[:60]
    return Refusal(401, f"response_url on {host!r} is not Slack's", "SlackRequestsRefused")


def self_invocation(event: Mapping[str, Any]) -> bool:
    """Bolt's lazy re-invocation of this function (ChaliceLazyListenerRunner: a direct ``lambda:InvokeFunction``
    whose payload has ``"method": "NONE"``). API Gateway's events never carry that key, and nothing an HTTP
    caller sends can add one, so only this function (or who else may invoke it) can make one."""
    return event.get("method") == "NONE" and "httpMethod" not in event
