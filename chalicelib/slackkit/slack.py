"""The thin adapter to Slack: credentials, the Web API client, user groups, and deliveries that never get lost.

Part of the Slack platform: every module that talks to Slack itself uses it (the front door, keyed messages,
decisions, the console's sign-in).

- Credentials come from Secrets Manager through Powertools Parameters (cached ``secret_max_age_seconds``), with
  the client built by ``chalicelib.aws``. They are never logged.
- ``web()`` is slack_sdk's WebClient with its own retry handlers: 429 (honouring Retry-After), 5xx and
  connection errors, with backoff.
- ``deliver()`` sends one message (post, update, or to a response_url). A chat write spends the channel's send
  budget first; when the budget says wait (or Slack answers 429) it waits in the card queue for the card drain
  (``pacing.keep``), never in a sleeping Lambda. If it fails otherwise it is kept in the outbox (state table) and
  audited, and ``retry_outbox()`` (on a schedule) tries again.
"""

from __future__ import annotations

import secrets as pysecrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from chalicelib import aws
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.policy import loader as policy
from chalicelib.settings import get_settings
from chalicelib.slackkit.store import OutboxItem
from chalicelib.state import audit
from chalicelib.timefmt import parse_iso

OUTBOX = "outbox"
MAX_OUTBOX_ATTEMPTS = 12  # with a 5-minute schedule: an hour of trying before an item is marked dead
RESPONSE_URL_LIFETIME = timedelta(minutes=30)


PLACEHOLDER = "REPLACE_ME"  # noqa: S105 - what infra/account.yaml creates the secret with, never a real value


class SlackSecretUnusable(RuntimeError):
    """The Slack secret is missing, empty, a placeholder or malformed: the front door cannot serve Slack."""


@dataclass(frozen=True)
class Credentials:
    signing_secret: str
    bot_token: str
    # during a rotation of the signing secret in Slack: the old one, still accepted until ``previous_valid_until``
    previous_signing_secret: str | None = None
    previous_valid_until: datetime | None = None

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The signing secrets a request may be signed with at ``now``: the current one, then the previous one
        while its rotation window lasts."""
        previous = self.previous_signing_secret
        if previous and self.previous_valid_until is not None and now < self.previous_valid_until:
            return self.signing_secret, previous
        return (self.signing_secret,)

    def __repr__(self) -> str:  # never let a secret reach a log line through repr()
        return "Credentials(signing_secret='***', bot_token='***')"


@lru_cache(maxsize=1)
def _provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=aws.client("secretsmanager"))


def credentials() -> Credentials:
    """The Slack app's secrets; raises ``SlackSecretUnusable`` (naming the field, never its value) for a secret
    that is missing, not JSON, empty, still infra/account.yaml's placeholder, or with a malformed rotation window."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

    name = policy.current().slack.secret_name
    try:
        value = _provider().get(name, transform="json", max_age=get_settings().secret_max_age_seconds)
    except TransformParameterError:
        raise SlackSecretUnusable(f"secret {name} is not JSON") from None  # (its text is never quoted)
    except GetParameterError as exc:
        raise SlackSecretUnusable(f"secret {name} cannot be read: {_clip(exc)}") from None
    return parse_credentials(name, value)


def parse_credentials(name: str, value: Any) -> Credentials:
    """``credentials()``'s checks over the secret's JSON (pure)."""
    if not isinstance(value, dict):
        raise SlackSecretUnusable(f"secret {name} is not a JSON object")
    problems = [f"{k} is missing or empty" for k in ("signing_secret", "bot_token")
                if not isinstance(value.get(k), str) or not value[k].strip()]
    problems += [f"{k} is still the placeholder {PLACEHOLDER}" for k in ("signing_secret", "bot_token",
                                                                         "previous_signing_secret")
                 if isinstance(value.get(k), str) and value[k].strip() == PLACEHOLDER]
    previous, until = value.get("previous_signing_secret"), value.get("previous_valid_until")
    valid_until = None
    if previous is not None or until is not None:
        if not isinstance(previous, str) or not previous.strip():
            problems.append("previous_valid_until is set but previous_signing_secret is missing or empty")
        try:
            valid_until = parse_iso(str(until)) if until is not None else None
        except ValueError:
            valid_until = None
        if valid_until is None or valid_until.tzinfo is None:
            problems.append("previous_valid_until must be an ISO 8601 time with a time zone "
                            "(e.g. 2026-01-31T12:00:00Z)")
            valid_until = None
    if problems:
        raise SlackSecretUnusable(f"secret {name}: {'; '.join(problems)}")
    return Credentials(value["signing_secret"], value["bot_token"], previous or None, valid_until)


def retry_handlers() -> list[Any]:
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )

    return [ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2)]


def web(token: str | None = None, *, wait_out_rate_limits: bool = True) -> Any:
    """The Web API client. ``wait_out_rate_limits=False``: without slack_sdk's 429 handler, so a 429 comes back to
    the caller (the card queue waits its Retry-After in the queue instead of in a sleeping Lambda)."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    base_url = get_settings().slack_api_url
    kwargs = {"base_url": base_url} if base_url else {}
    handlers = [h for h in retry_handlers()
                if wait_out_rate_limits or not isinstance(h, RateLimitErrorRetryHandler)]
    return WebClient(token=token or credentials().bot_token, retry_handlers=handlers, timeout=10, **kwargs)


# ---- who is in which user group (for RBAC) ----

_groups_lock = threading.Lock()
_groups: tuple[float, dict[str, frozenset[str]]] | None = None  # (monotonic time filled, members); None: never
GROUPS_MAX_AGE = 300.0


def fresh(filled_at: float | None, max_age: float, now: float) -> bool:
    """Whether a cache filled at monotonic time ``filled_at`` may still be used at ``now``. Never filled is stale,
    whatever the clock says: a fresh Lambda microVM starts ``time.monotonic()`` near 0."""
    return filled_at is not None and 0.0 <= now - filled_at <= max_age


def groups_of(user: str, client: Any = None) -> frozenset[str]:
    """The user-group ids the user belongs to (``usergroups.list`` with users, cached for 5 minutes)."""
    global _groups
    with _groups_lock:
        if _groups is None or not fresh(_groups[0], GROUPS_MAX_AGE, time.monotonic()):
            answer = (client or web()).usergroups_list(include_users=True)
            by_user: dict[str, set[str]] = {}
            for group in answer.get("usergroups", []):
                for member in group.get("users", []):
                    by_user.setdefault(member, set()).add(group["id"])
            _groups = (time.monotonic(), {u: frozenset(g) for u, g in by_user.items()})
        members = _groups[1]
    return members.get(user, frozenset())


def forget_groups() -> None:
    global _groups
    with _groups_lock:
        _groups = None


# ---- deliveries ----

SLACK_RESPONSE_URL_HOST = "hooks.slack.com"


def response_url_ok(url: str) -> bool:
    """Whether Switchboard may post to this response_url: Slack's (``https://hooks.slack.com/...``), or in the local
    world the Slack stand-in's (the scheme and host of ``SWITCHBOARD_SLACK_API_URL``, and then nothing else).
    Whoever forges a request must not choose where the answer goes."""
    try:
        parsed = urlsplit(url)
        port = parsed.port
    except ValueError:
        return False
    if parsed.username is not None or parsed.password is not None:
        return False
    local = get_settings().slack_api_url
    if local:
        stand_in = urlsplit(local)
        return (parsed.scheme, parsed.netloc) == (stand_in.scheme, stand_in.netloc)
    return parsed.scheme == "https" and parsed.hostname == SLACK_RESPONSE_URL_HOST and port is None


def _send(method: str, payload: dict[str, Any]) -> None:
    if method == "response_url":
        from slack_sdk.webhook import WebhookClient

        if not response_url_ok(payload["url"]):
            raise ValueError("response_url is not on Slack's host")

        body = {k: v for k, v in payload.items() if k not in ("url", "fallback")}
        answer = WebhookClient(payload["url"], retry_handlers=retry_handlers(), timeout=10).send_dict(body)
        if answer.status_code != 200:
            raise RuntimeError(f"response_url answered {answer.status_code}: {answer.body[:100]}")
        return
    send_with(web(), method, payload)


def send_with(client: Any, method: str, payload: dict[str, Any]) -> Any:
    """One chat write with ``client`` (a WebClient)."""
    if method == "chat.postMessage":
        return client.chat_postMessage(**payload)
    if method == "chat.update":
        return client.chat_update(**payload)
    if method == "chat.postEphemeral":
        return client.chat_postEphemeral(**payload)
    if method == "chat.delete":
        return client.chat_delete(**payload)
    raise ValueError(f"unknown delivery method {method}")


def deliver(method: str, payload: dict[str, Any], *, correlation_id: str, target: str) -> bool:
    """Send now (with slack_sdk's retries); on failure keep it in the outbox. True when delivered.

    A response_url that is not Slack's is never posted to (nor kept): refused, measured and audited."""
    if method == "response_url" and not response_url_ok(str(payload.get("url", ""))):
        host = urlsplit(str(payload.get("url", ""))).netloc[:100] or "none"
        reason = f"response_url host {host!r} is not Slack's: not posted"
        logger.warning("slack delivery refused", extra={"method": method, "reason": reason})
        metrics.add_metric(name="SlackResponseUrlRefused", unit=MetricUnit.Count, value=1)
        audit.record(action=f"slack.{method}", target=target, outcome=audit.Outcome.REJECTED,
                     correlation_id=correlation_id, capability="frontdoor", reason=reason)
        return False
    try:
        if method != "response_url":  # a write to a channel: within its send budget, never sleeping out a 429
            return _budgeted(method, payload, correlation_id=correlation_id)
        _send(method, payload)
        return True
    except Exception as exc:  # noqa: BLE001 - any failure: keep the message, never drop it
        reason = f"{type(exc).__name__}: {_clip(exc)}"
        now = datetime.now(UTC)
        OutboxItem(OUTBOX, f"{now.isoformat()}#{pysecrets.token_hex(4)}", method=method, payload=payload,
                   correlation_id=correlation_id, attempts=1, last_error=reason,
                   expires_at=now + timedelta(days=14)).save()
        logger.warning("slack delivery failed: kept in the outbox", extra={"method": method, "reason": reason})
        metrics.add_metric(name="SlackDeliveriesDeferred", unit=MetricUnit.Count, value=1)
        audit.record(action=f"slack.{method}", target=target, outcome=audit.Outcome.FAILED,
                     correlation_id=correlation_id, capability="frontdoor",
                     reason=f"kept in the outbox for retry: {reason}")
        return False


def _budgeted(method: str, payload: dict[str, Any], *, correlation_id: str) -> bool:
    """A chat write spends its channel's (and method's) send budget first. When the budget says wait, or Slack
    answers 429, the call is queued in the card queue (``pacing.keep``) and the card drain (every minute, pacing
    within its run) makes it: this Lambda never sleeps out a wait. A call on a message that already has a call
    waiting queues behind it (newest wins), so an older update never lands over a newer one."""
    from chalicelib.slackkit import pacing

    if pacing.waiting(method, payload):
        pacing.keep(method, payload, correlation_id=correlation_id)
        return False
    try:
        _within_budget(method, payload)
    except MustWait as wait:
        if wait.ratelimited:
            pacing.keep(method, payload, correlation_id=correlation_id, not_before=pacing.wall() + wait.seconds)
            logger.info("slack said 429: the call waits its Retry-After in the card queue",
                        extra={"method": method, "retry_after": wait.seconds})
        else:
            pacing.keep(method, payload, correlation_id=correlation_id)
            logger.info("slack delivery waits for the send budget",
                        extra={"method": method, "wait": round(wait.seconds, 2)})
        return False
    return True


class MustWait(Exception):  # noqa: N818 - a signal, not an error
    """The send budget says wait (or Slack answered 429): the post was not made, ``seconds`` from now it may be."""

    def __init__(self, seconds: float, *, ratelimited: bool = False):
        super().__init__(f"the send budget says wait {seconds:.2f} s")
        self.seconds = seconds
        self.ratelimited = ratelimited


def post_within_budget(payload: dict[str, Any]) -> Any:
    """A chat.postMessage whose answer (its ts) the caller needs: a keyed message's or a decision's card first post.
    It spends the channel's send budget like ``deliver()``; when the budget says wait, or Slack answers 429 (the
    buckets are then blocked for its Retry-After), it raises ``MustWait`` and the caller queues the post in the
    card queue (``cardq``). Never sleeps out a 429; other failures raise as they are."""
    return _within_budget("chat.postMessage", payload)


def _within_budget(method: str, payload: dict[str, Any]) -> Any:
    """One chat write within the send budget (``budget.names_for_call``), without slack_sdk's 429 handler: Slack's
    answer, or ``MustWait`` when the budget says wait or Slack answers 429 (the buckets then blocked for its
    Retry-After, and measured). Other failures raise as they are."""
    from slack_sdk.errors import SlackApiError

    from chalicelib.slackkit import budget, pacing

    names = budget.names_for_call(method, str(payload.get("channel") or "") or None)
    wait = pacing.spend(names)
    if wait > 0:
        raise MustWait(wait)
    try:
        return send_with(web(wait_out_rate_limits=False), method, payload)
    except SlackApiError as exc:
        retry_after = pacing.retry_after_of(exc)
        if retry_after is None:
            raise
        pacing.blocked(names, retry_after)
        metrics.add_metric(name="SlackRateLimited", unit=MetricUnit.Count, value=1)
        raise MustWait(retry_after, ratelimited=True) from exc


def retry_outbox(now: datetime | None = None) -> dict[str, int]:
    """Try every kept delivery again. Delivered ones leave the outbox; others count an attempt. Items that could not
    be processed at all raise (after the others were): the schedule's invocation fails, never silently. (The outbox
    schedule runs it from ``frontdoor/outbox.py``, with the card queue, fan-outs and decisions' work.)"""
    counts, errors = retry_kept(now)
    if errors:
        raise RuntimeError(f"{errors} outbox item(s) could not be processed; the others were ({counts})")
    return counts


def retry_kept(now: datetime | None = None) -> tuple[dict[str, int], int]:
    """``retry_outbox``'s work: (counts, how many items could not be processed)."""
    now = now or datetime.now(UTC)
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    errors = 0
    kept = [item for item in OutboxItem.query(OUTBOX) if not item.dead]
    superseded = _superseded(kept)
    for item in superseded:  # an older update of a message a newer kept one replaces: never sent over it
        item.delete()
        counts["superseded"] = counts.get("superseded", 0) + 1
        audit.record(action="slack.chat.update", target="slack", outcome=audit.Outcome.RECEIVED,
                     correlation_id=item.correlation_id, capability="frontdoor",
                     reason="superseded by a newer update of the same message kept in the outbox")
    gone = {item.sk for item in superseded}
    for item in kept:
        if item.sk in gone:
            continue
        try:
            _retry_one(item, now, counts)
        except Exception:  # noqa: BLE001 - each item on its own: the others still go; this one stays for next time
            errors += 1
            logger.exception("an outbox item could not be processed", extra={"item": item.sk})
            metrics.add_metric(name="OutboxItemErrors", unit=MetricUnit.Count, value=1)
    return counts, errors


def _superseded(items: list[Any]) -> list[Any]:
    """The kept chat.updates of a message that a later kept chat.update of the same message replaces (oldest first
    in, so the last one per message is the newest): only the newest is sent, in place of all of them."""
    newest: dict[tuple[str, str], Any] = {}
    older = []
    for item in items:
        if item.method != "chat.update":
            continue
        key = (str(item.payload.get("channel")), str(item.payload.get("ts")))
        if key in newest:
            older.append(newest[key])
        newest[key] = item
    return older


def _retry_one(item: Any, now: datetime, counts: dict[str, int]) -> None:
    """Retry one kept delivery: delivered, counted a failed attempt, or dead (kept and audited)."""
    method, payload = item.method, dict(item.payload)
    if method == "response_url" and now - parse_iso(item.sk.split("#")[0]) > RESPONSE_URL_LIFETIME:
        fallback = payload.get("fallback")
        if not fallback:
            item.update(actions=[OutboxItem.dead.set("response_url expired and no fallback")])
            counts["dead"] += 1
            return
        method, payload = "chat.postEphemeral", {**fallback, "text": payload.get("text", ""),
                                                 "blocks": payload.get("blocks")}
    try:
        _send(method, {k: v for k, v in payload.items() if k != "fallback"})
    except Exception as exc:  # noqa: BLE001
        attempts = item.attempts + 1
        dead = f"gave up after {attempts} attempts" if attempts >= MAX_OUTBOX_ATTEMPTS else None
        item.update(actions=[OutboxItem.attempts.set(attempts), OutboxItem.last_error.set(_clip(exc)),
                             OutboxItem.dead.set(dead) if dead else OutboxItem.dead.remove()])
        counts["dead" if dead else "failed"] += 1
        if dead:
            audit.record(action=f"slack.{item.method}", target="slack", outcome=audit.Outcome.FAILED,
                         correlation_id=item.correlation_id, capability="frontdoor", reason=dead)
        return
    item.delete()
    counts["delivered"] += 1
    audit.record(action=f"slack.{item.method}", target="slack", outcome=audit.Outcome.SUCCEEDED,
                 correlation_id=item.correlation_id, capability="frontdoor",
                 reason=f"delivered from the outbox after {item.attempts} failed attempt(s)")


def _clip(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
