"""Slack's request URLs, served by slack-bolt: signature check and ack inside Slack's 3 s, work in lazy listeners.

- Verification is Bolt's (v0 HMAC-SHA256 over ``v0:{timestamp}:{body}``, constant-time compare, 5-minute window):
  a missing, wrong or stale signature is answered 401 before any listener runs.
- ``ack`` answers at once: a parse error is answered in the ack itself (the grammar is pure and fast);
  everything else ("on it") is done by the lazy listener, which Bolt runs by invoking this same Lambda function
  asynchronously (``lambda:InvokeFunction`` on itself). The local world injects its own runner through
  ``use_lambda_client`` because there is no Lambda there.
- A lazy run is processed once per Slack trigger (the ledger), so a retried async invocation does not act twice.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from chalicelib import aws
from chalicelib import policy as policies
from chalicelib.frontdoor import blocks, commands, decisions, grammar, mrkdwn, slack
from chalicelib.observability import logger
from chalicelib.state import ledger

_lock = threading.Lock()
_state: dict[str, Any] = {"handler": None, "credentials": None, "lambda_client": None}


def use_lambda_client(client: Any) -> None:
    """Replace the client Bolt uses to re-invoke this function for lazy listeners (the local world's runner)."""
    with _lock:
        _state["lambda_client"] = client
        _state["handler"] = None


def handle(chalice_app: Any) -> Any:
    _state["chalice_app"] = chalice_app  # its lambda_context bounds the ledger's in-progress lock
    return _handler(chalice_app).handle(chalice_app.current_request)


def _handler(chalice_app: Any) -> Any:
    from slack_bolt.adapter.aws_lambda.chalice_handler import ChaliceSlackRequestHandler

    creds = slack.credentials()  # cached by Powertools Parameters; a rotated secret rebuilds the Bolt app
    with _lock:
        if _state["handler"] is None or _state["credentials"] != creds:
            client = _state["lambda_client"] or aws.client("lambda")
            _state["handler"] = ChaliceSlackRequestHandler(_bolt(creds), chalice_app, lambda_client=client)
            _state["credentials"] = creds
        return _state["handler"]


def _bolt(creds: slack.Credentials) -> Any:
    from slack_bolt import App

    app = App(signing_secret=creds.signing_secret, client=slack.web(creds.bot_token), process_before_response=True,
              token_verification_enabled=False, logger=logging.getLogger("switchboard.bolt"))
    app.command(policies.current().slack.command)(ack=_ack_command, lazy=[_run_command])
    app.action("decision_approve")(ack=_ack_action, lazy=[_approve])
    app.action("decision_reject")(ack=_ack_action, lazy=[_reject])
    # Buttons on incident cards (alerts): each runs the /ops command it stands for (RBAC, forwarding, answer).
    for action_id in ("incident_ack", "silence_1h"):
        app.action(action_id)(ack=_ack_action, lazy=[_alert_button])
    return app


# ---- listeners ----

def _ack_command(ack: Any, body: dict[str, Any]) -> None:
    name = policies.current().slack.command
    try:
        grammar.parse(body.get("text", ""), name)
    except grammar.ParseError as exc:
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


def _once(kind: str, trigger: str, work: Any) -> Any:
    def run(data: dict[str, Any]) -> dict[str, Any]:
        work()
        return {"done": True}

    context = getattr(_state.get("chalice_app"), "lambda_context", None)
    return ledger.once(run, context=context)(data={"id": f"slack-{kind}:{trigger}"})


def _run_command(body: dict[str, Any]) -> None:
    user = body["user_id"]
    asked = commands.Asked(text=body.get("text", ""), user=user, groups=tuple(sorted(slack.groups_of(user))),
                           response_url=body["response_url"], channel=body.get("channel_id"),
                           request_id=f"slack:{body['trigger_id']}")
    logger.set_correlation_id(asked.request_id)
    _once("command", body["trigger_id"], lambda: commands.handle(asked, parse_error_answered=True))


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

    _once("action", request_id, work)


def _alert_button(body: dict[str, Any]) -> None:
    """Ack / Silence 1h on an incident card: the same command typed in Slack, so the same RBAC, forwarding to the
    account that holds the incident, and ephemeral answer."""
    from chalicelib.alerts.ids import button_command

    action = body["actions"][0]
    user = body["user"]["id"]
    request_id = f"slack:{body.get('trigger_id') or action.get('action_ts')}"
    logger.set_correlation_id(request_id)
    text = button_command(action["action_id"], action.get("value", ""))
    if text is None:
        slack.deliver("response_url", {"url": body["response_url"], "response_type": "ephemeral",
                                       "replace_original": False, "text": "this button names no incident"},
                      correlation_id=request_id, target=f"slack/{user}")
        return
    asked = commands.Asked(text=text, user=user, groups=tuple(sorted(slack.groups_of(user))),
                           response_url=body["response_url"], channel=(body.get("channel") or {}).get("id"),
                           request_id=request_id)
    _once("action", request_id, lambda: commands.handle(asked))


def _approve(body: dict[str, Any]) -> None:
    _click(body, "approved")


def _reject(body: dict[str, Any]) -> None:
    _click(body, "rejected")
