"""Slack's request URLs, served by slack-bolt: checked at the door, ack inside Slack's 3 s, work in lazy listeners.

- The door (``door.py``, before Bolt sees anything): only the front-door account serves Slack (404 elsewhere);
  the Slack secret must be usable (503 while it is missing, empty or infra's placeholder); the signature is
  verified here, with the current signing secret or, during a rotation window, the previous one (Bolt verifies
  with one secret, so its own check is off); a missing, wrong, stale or non-numeric-timestamp signature is 401;
  the signed body must name the workspace and app policy pins (401). Every refusal is logged, measured and
  audited (an unusable secret once per container). Bolt's lazy-mode headers are dropped from anything but
  Bolt's own re-invocation of this function.
- ``ack`` answers at once: a parse error is answered in the ack itself (the grammar is pure and fast);
  everything else ("on it") is done by the lazy listener, which Bolt runs by invoking this same Lambda function
  asynchronously (``lambda:InvokeFunction`` on itself). The local world injects its own runner through
  ``use_lambda_client`` because there is no Lambda there. Our own command is acked and handed off without Bolt's
  dispatch (``_ack_at_once``: Bolt's request, ``Ack`` and lazy runner, the same invocation); the rest goes through
  Bolt, whose deep copy of a request for the lazy hand-off is replaced by a shallow one (``_lazy_request``).
- A lazy run is processed once per Slack trigger (the ledger), so a retried async invocation does not act twice.
- Answers go only to response_urls on Slack's host (``slack.response_url_ok``); a request naming another is
  refused and audited before any work.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from chalicelib import aws, capabilities, lambda_app
from chalicelib.decisions import service as decisions
from chalicelib.frontdoor import commands, door, grammar
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.policy import loader as policies
from chalicelib.slackkit import blocks, mrkdwn, slack
from chalicelib.slackkit.commands import Asked, ParseError
from chalicelib.state import audit, ledger

_lock = threading.Lock()
_state: dict[str, Any] = {"handler": None, "credentials": None, "lambda_client": None, "app": None}


def use_lambda_client(client: Any) -> None:
    """Replace the client Bolt uses to re-invoke this function for lazy listeners (the local world's runner)."""
    with _lock:
        _state["lambda_client"] = client
        _state["handler"] = None


def handle(chalice_app: Any) -> Any:
    _state["chalice_app"] = chalice_app  # its lambda_context bounds the ledger's in-progress lock
    request = chalice_app.current_request
    admitted = _admit(request)
    if isinstance(admitted, door.Refusal):
        return _refuse(request, admitted)
    handler = _handler(chalice_app, admitted)
    return _ack_at_once(handler, chalice_app, request) or handler.handle(request)


def _ack_at_once(handler: Any, chalice_app: Any, request: Any) -> Any:
    """Our slash command, acked and handed off as Bolt's dispatch would, without the dispatch; None for anything
    else (Bolt handles it).

    Bolt would match the command's listener (the first one registered), run ``_ack_command`` and hand
    ``_run_command`` to ``ChaliceLazyListenerRunner``. On the way it builds a per-request WebClient, authorizes,
    asks every listener whether it matches and injects arguments by name: more than half of what the ack costs over
    a bare route (bench/slack_ack.py), for nothing an ack needs (the door has admitted the request; the ack listener
    is pure). Here the request is Bolt's own (``to_bolt_request``: Bolt's body parser), the ack Bolt's ``Ack``, the
    hand-off Bolt's lazy runner with what it reads; the lazy invocation is Bolt's, dispatched as ever (it carries
    the lazy-mode headers, so it does not come here). ``tests/test_frontdoor.py`` compares the answer and the
    invocation with Bolt's own. Should the ack listener raise, Bolt handles the request as before."""
    from slack_bolt.adapter.aws_lambda.chalice_handler import to_bolt_request, to_chalice_response
    from slack_bolt.context.ack import Ack
    from slack_bolt.util.utils import get_name_for_callable

    if any(name in request.headers for name in door.LAZY_HEADERS):
        return None
    bolt_request = to_bolt_request(request, request.raw_body.decode("utf-8") if request.raw_body else "")
    if bolt_request.body.get("command") != policies.current().slack.command:
        return None
    ack = Ack()
    try:
        _ack_command(ack, bolt_request.body)
    except Exception:  # noqa: BLE001 - Bolt runs it again and answers as it does (its error handler, a 500)
        return None
    if ack.response is None:
        return None
    bolt_request.context["aws_lambda_function_name"] = chalice_app.lambda_context.function_name
    bolt_request.context["chalice_request"] = request.to_dict()
    bolt_request.lazy_only = True
    bolt_request.lazy_function_name = get_name_for_callable(_run_command)  # what Bolt's runner finds it by
    handler.app.listener_runner.lazy_listener_runner.start(function=_run_command, request=bolt_request)
    return to_chalice_response(ack.response)


def _admit(request: Any) -> slack.Credentials | door.Refusal:
    """The door's checks (see door.py), in order; the credentials when the request may go on to Bolt."""
    from slack_sdk.signature import Clock

    current = policies.current()
    refusal = door.not_the_front_door(current.account.name, current.slack.front_door)
    if refusal:
        return refusal
    _drop_lazy_headers(request)
    try:
        creds = slack.credentials()
    except slack.SlackSecretUnusable as exc:
        return _unusable(str(exc))
    refusal = door.unpinned(current.slack.team_id, current.slack.api_app_id)
    if refusal:
        return _unusable(refusal.reason, refusal.metric)
    body = request.raw_body.decode("utf-8", errors="replace") if request.raw_body else ""
    now = Clock().now()  # slack_sdk's clock, as Bolt's own check would read it
    # Bolt's lazy run of this function is a request already admitted once, re-invoked by this function itself (no
    # HTTP caller can make one): Lambda may deliver it, or retry it, up to its maximum event age later. Its replay
    # protection is the ledger (one lazy run per Slack trigger), not the 5-minute window.
    window = door.LAZY_RUN_WINDOW_SECONDS if door.self_invocation(request.to_original_event()) else None
    refusal = door.signature_problem(body, request.headers, creds.signing_secrets(datetime.fromtimestamp(now, UTC)),
                                     now, window=window)
    if refusal:
        return refusal
    named = door.named_in(body)
    return (door.foreign_workspace(named, current.slack.team_id, current.slack.api_app_id)
            or door.foreign_response_url(named, slack.response_url_ok) or creds)


def _drop_lazy_headers(request: Any) -> None:
    """Bolt's lazy-mode headers mean "run this listener now, without an ack": only Bolt's re-invocation of this
    function may set them. From anywhere else they are dropped (and the request served as Slack sent it)."""
    from chalice.app import CaseInsensitiveMapping

    found = [name for name in door.LAZY_HEADERS if name in request.headers]
    if not found or door.self_invocation(request.to_original_event()):
        return
    request.headers = CaseInsensitiveMapping({k: v for k, v in request.headers.items() if k not in door.LAZY_HEADERS})
    reason = f"Bolt's lazy-mode header(s) {', '.join(found)} from outside: dropped"
    logger.warning("slack request: lazy-mode headers dropped", extra={"headers": found})
    metrics.add_metric(name="SlackLazyHeadersDropped", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    audit.record(action="frontdoor.request", target=f"http{request.path}", outcome=audit.Outcome.REJECTED,
                 correlation_id=_correlation(request), capability="frontdoor", reason=reason)


def _unusable(reason: str, metric: str = "SlackSecretUnusable") -> door.Refusal:
    """The front door cannot serve Slack until an operator acts: say so loudly, audit it once per container."""
    logger.error(f"Slack front door unusable: {reason}")
    refusal = door.Refusal(503, reason, metric)
    with _lock:
        first = reason not in _audited_unusable
        _audited_unusable.add(reason)
    if first:
        audit.record(action="frontdoor.start", target="slack", outcome=audit.Outcome.FAILED,
                     correlation_id=f"frontdoor-start:{metric}", capability="frontdoor", reason=reason)
    return refusal


_audited_unusable: set[str] = set()  # reasons this container has audited already


def forget_unusable() -> None:
    """Audit the next unusable-front-door reason again (a new container; tests)."""
    with _lock:
        _audited_unusable.clear()


def _refuse(request: Any, refusal: door.Refusal) -> Any:
    from chalice import Response

    metrics.add_metric(name=refusal.metric, unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    if refusal.status != 503:  # an unusable front door was logged and audited in _unusable
        logger.warning("slack request refused", extra={"status": refusal.status, "reason": refusal.reason})
        audit.record(action="frontdoor.request", target=f"http{request.path}", outcome=audit.Outcome.REJECTED,
                     correlation_id=_correlation(request), capability="frontdoor", reason=refusal.reason)
    return Response(status_code=refusal.status, body={"error": refusal.reason},
                    headers={"Content-Type": "application/json"})


def _correlation(request: Any) -> str:
    context = request.context or {}
    return f"http:{context.get('requestId') or context.get('extendedRequestId') or 'unknown'}"


def _handler(chalice_app: Any, creds: slack.Credentials) -> Any:
    from slack_bolt.adapter.aws_lambda.chalice_handler import ChaliceSlackRequestHandler

    with _lock:  # a rotated secret (Powertools Parameters' cache expired) rebuilds the Bolt app
        if _state["handler"] is None or _state["credentials"] != creds or _state["app"] is not chalice_app:
            client = _state["lambda_client"] or aws.client("lambda")
            _state["handler"] = ChaliceSlackRequestHandler(_bolt(creds), chalice_app, lambda_client=client)
            _state["credentials"] = creds
            _state["app"] = chalice_app
        return _state["handler"]


def _form_or_payload(body: str, content_type: str | None) -> dict[str, Any]:
    """Bolt's body parser, but a form body is an interaction only when it has a ``payload`` *field*.

    ``slack_bolt.request.internals.parse_body`` (1.30.0) tests ``"payload" in body`` on the raw text, so a slash
    command whose text says "payload" (``/ops audit payload-svc``) parsed as ``{}``: no listener matched and Slack
    showed Bolt's 404. Installed as the parser of every ``BoltRequest`` (the ack and the lazy run alike)."""
    from urllib.parse import parse_qsl

    from slack_bolt.request.internals import parse_body

    parsed = parse_body(body, content_type)
    if parsed or not body or body.startswith("{") or content_type == "application/json":
        return parsed
    form = dict(parse_qsl(body, keep_blank_values=True))
    return parsed if "payload" in form else form


def _bolt(creds: slack.Credentials) -> Any:
    import slack_bolt.request.request as bolt_request
    from slack_bolt import App

    bolt_request.parse_body = _form_or_payload  # see _form_or_payload (the module's own name for the parser)

    # Bolt's own signature check is off: the door verified the request (with the previous secret too, while a
    # rotation lasts), which Bolt's single-secret check cannot.
    # No auth.test either (Bolt's single-team authorization calls it on the first request of each container, a
    # round-trip to Slack before the first ack): the workspace is the one policy pins and the door checked, the
    # token the secret's; a revoked token shows on the first Slack call the work makes (apology, audit, metric).
    # Off too, because no request they act on reaches Bolt (they check nothing the door relies on): ssl_check and
    # url_verification answer Slack's probes, which name no workspace (the door answers them 401), and the other
    # two look at Events API and workflow-function payloads, which this app has no route for.
    client = slack.web(creds.bot_token)
    client.token = None  # each request's client gets it from _authorize (Bolt ignores, and warns about, this one)
    app = App(signing_secret=creds.signing_secret, client=client, process_before_response=True,
              authorize=functools.partial(_authorize, creds.bot_token), request_verification_enabled=False,
              ssl_check_enabled=False, url_verification_enabled=False, ignoring_self_events_enabled=False,
              attaching_function_token_enabled=False,
              logger=logging.getLogger("switchboard.bolt"),
              name="http.py")  # the name Bolt would find with inspect.stack(): 0.1 s of every cold start
    runner = app.listener_runner
    runner._build_lazy_request = functools.partial(_lazy_request, runner)  # see _lazy_request
    app.command(policies.current().slack.command)(ack=_ack_command, lazy=[_run_command])
    app.action("decision_approve")(ack=_ack_action, lazy=[_approve])
    app.action("decision_reject")(ack=_ack_action, lazy=[_reject])
    # Buttons on incident cards (alerts): each runs the /ops command it stands for (RBAC, forwarding, answer).
    for action_id in capabilities.BUTTONS:  # cards' buttons that stand for a command (capabilities' manifests)
        app.action(action_id)(ack=_ack_action, lazy=[_command_button])
    # Last (Bolt runs the first listener that matches): whatever else Slack sends this app is answered with 200
    # and a short "not mine", never Bolt's 404 (which Slack shows the user as an error).
    anything = re.compile(".*")
    app.command(anything)(_not_mine_command)
    app.action(anything)(ack=_ack_action, lazy=[_not_mine_action])
    for register in (app.shortcut, app.view, app.options):
        register(anything)(_ack_action)
    return app


def _authorize(bot_token: str, enterprise_id: str | None, team_id: str | None, user_id: str | None) -> Any:
    from slack_bolt.authorization import AuthorizeResult

    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=bot_token)


def _lazy_request(runner: Any, request: Any, lazy_function_name: str) -> Any:
    """The request Bolt hands to a lazy listener, without Bolt's deep copy of it (for this one runner).

    Bolt's ``ThreadListenerRunner._build_lazy_request`` rebuilds the request (``to_copyable``: the body parsed
    again) and deep-copies it with its whole context (the Chalice event, the authorize result, the request's
    WebClient, ``ack``/``say``/``respond``...): more than a third of the warm ack's CPU (bench/slack_ack.py). The copy
    is for a lazy listener run in this process, on another thread. Here the lazy runner is always
    ``ChaliceLazyListenerRunner``, which only reads the body, query, headers and two context values, sends them
    to this function again (``lambda:InvokeFunction``, serialised at once) and drops the request: a shallow copy
    carries the same payload (``tests/test_frontdoor.py`` compares it with Bolt's), with headers of its own because
    that runner adds the lazy-mode headers to them. Any other lazy runner gets Bolt's own copy."""
    from slack_bolt.adapter.aws_lambda.chalice_lazy_listener_runner import ChaliceLazyListenerRunner

    if not isinstance(runner.lazy_listener_runner, ChaliceLazyListenerRunner):
        return type(runner)._build_lazy_request(runner, request, lazy_function_name)
    handed = copy.copy(request)
    handed.headers = dict(request.headers)
    handed.lazy_only = True
    handed.lazy_function_name = lazy_function_name
    return handed


def _not_mine_command(ack: Any, body: dict[str, Any]) -> None:
    ours = policies.current().slack.command
    ack(response_type="ephemeral", text=f"{mrkdwn.code(str(body.get('command', '?')), 40)} isn't mine: this app "
                                         f"answers {mrkdwn.code(ours)} (try {mrkdwn.code(ours + ' help')})")


def _not_mine_action(body: dict[str, Any]) -> None:
    url = body.get("response_url")
    action = ((body.get("actions") or [{}])[0]).get("action_id", "?")
    if url:
        slack.deliver("response_url", {"url": url, "response_type": "ephemeral", "replace_original": False,
                                       "text": f"the button {mrkdwn.code(str(action), 60)} isn't one of mine: "
                                               "nothing was done"},
                      correlation_id=f"slack:{body.get('trigger_id') or 'action'}", target="slack/unknown-action")


# ---- listeners ----

def _ack_command(ack: Any, body: dict[str, Any]) -> None:
    name = policies.current().slack.command
    try:
        grammar.parse(body.get("text", ""), name)
    except ParseError as exc:
        text = mrkdwn.safe(exc.message)
        if exc.usage is None:
            lines = grammar.usage(name).splitlines()
            ack(response_type="ephemeral", text=text, blocks=blocks.reply(text, [mrkdwn.code(line) for line in lines]))
        else:
            ack(response_type="ephemeral", text=text, blocks=blocks.error(exc.message, exc.usage))
        return
    ack(response_type="ephemeral", text=f"{mrkdwn.code(name + ' ' + body.get('text', ''), 200)} …on it")


def _ack_action(ack: Any) -> None:
    ack()


def _once(kind: str, trigger: str, work: Any, *, answer_to: str | None = None) -> Any:
    """Run ``work`` once per Slack trigger. If it fails: the person is told (an apology with an error id, on the
    response_url), it is logged with that id, measured (``LazyListenerFailed``) and audited, and the invocation
    fails (``lambda_app.fail``: Bolt swallows the exception), so Lambda retries it (the ledger forgot the attempt)
    and then dead-letters it."""
    def run(data: dict[str, Any]) -> dict[str, Any]:
        work()
        return {"done": True}

    context = getattr(_state.get("chalice_app"), "lambda_context", None)
    try:
        return ledger.once(run, context=context)(data={"id": f"slack-{kind}:{trigger}"})
    except Exception as exc:
        error_id = uuid.uuid4().hex[:10]
        lambda_app.fail(f"lazy {kind} listener failed (error id {error_id}): {type(exc).__name__}: {exc}")
        logger.exception("lazy listener failed", extra={"error_id": error_id, "kind": kind})
        metrics.add_metric(name="LazyListenerFailed", unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()
        audit.record(action=f"frontdoor.{kind}", target=f"slack/{kind}", outcome=audit.Outcome.FAILED,
                     correlation_id=f"slack:{trigger}", capability="frontdoor",
                     reason=f"error id {error_id}: {type(exc).__name__}: {exc}")
        if answer_to:
            slack.deliver("response_url", {
                "url": answer_to, "response_type": "ephemeral", "replace_original": False,
                "text": f":warning: Sorry, that failed on my side (error id `{error_id}`). It is retried "
                        "automatically; if nothing follows, tell the platform team and quote the error id."},
                correlation_id=f"slack:{trigger}", target=f"slack/{kind}")
        raise


def _run_command(body: dict[str, Any]) -> None:
    user = body["user_id"]
    asked = Asked(text=body.get("text", ""), user=user, groups=tuple(sorted(slack.groups_of(user))),
                  response_url=body["response_url"], channel=body.get("channel_id"),
                  request_id=f"slack:{body['trigger_id']}")
    logger.set_correlation_id(asked.request_id)
    _once("command", body["trigger_id"], lambda: commands.handle(asked, parse_error_answered=True),
          answer_to=body["response_url"])


def _click(body: dict[str, Any], verdict: str) -> None:
    user = body["user"]["id"]
    action = body["actions"][0]
    request_id = f"slack:{body.get('trigger_id') or action.get('action_ts')}"
    logger.set_correlation_id(request_id)

    container = body.get("container") or {}
    clicked_on = (str(container.get("channel_id") or (body.get("channel") or {}).get("id") or ""),
                  str(container.get("message_ts") or ""))  # the message the button was on, as Slack says

    def work() -> None:
        result = decisions.decide(action["value"], verdict, user=user, groups=slack.groups_of(user),
                                  correlation_id=request_id, message=clicked_on)
        slack.deliver("response_url", {
            "url": body["response_url"], "response_type": "ephemeral", "replace_original": False,
            "text": result.message}, correlation_id=request_id, target=f"decision/{action['value']}")

    _once("action", request_id, work, answer_to=body.get("response_url"))


def _command_button(body: dict[str, Any]) -> None:
    """A card's button that stands for a command (e.g. Ack / Silence 1h on an incident card): the same command typed
    in Slack, so the same RBAC, forwarding to the account that holds the subject, and ephemeral answer."""
    action = body["actions"][0]
    user = body["user"]["id"]
    request_id = f"slack:{body.get('trigger_id') or action.get('action_ts')}"
    logger.set_correlation_id(request_id)
    text = capabilities.button_command(action["action_id"], action.get("value", ""))
    if text is None:
        slack.deliver("response_url", {"url": body["response_url"], "response_type": "ephemeral",
                                       "replace_original": False, "text": "this button names no incident"},
                      correlation_id=request_id, target=f"slack/{user}")
        return
    asked = Asked(text=text, user=user, groups=tuple(sorted(slack.groups_of(user))),
                  response_url=body["response_url"], channel=(body.get("channel") or {}).get("id"),
                  request_id=request_id)
    _once("action", request_id, lambda: commands.handle(asked), answer_to=body.get("response_url"))


def _approve(body: dict[str, Any]) -> None:
    _click(body, "approved")


def _reject(body: dict[str, Any]) -> None:
    _click(body, "rejected")
