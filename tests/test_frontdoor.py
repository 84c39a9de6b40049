"""The Slack front door end to end: Slack-signed HTTP requests through the Chalice app (Bolt), lazy listeners,
RBAC, four eyes, decisions, forwarding to peers, escaping, and Slack failures. Slack is the stand-in."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from chalicelib.decisions import service as decisions
from chalicelib.decisions import store as decision_store
from chalicelib.frontdoor import commands
from chalicelib.intake.pipeline import Kind, handle
from chalicelib.slackkit import keyed
from chalicelib.slackkit import slack as slack_adapter
from chalicelib.slackkit.commands import Asked
from chalicelib.slackkit.store import OutboxItem
from chalicelib.state import audit
from tests.events import context, signed
from tests.frontdoor_kit import BOT_TOKEN, PROD, SHARED, SIGNING_SECRET, answers, as_account, uid

ROOT = Path(__file__).resolve().parent.parent


# ---- verification ----

def test_signed_command_is_acked_then_answered_by_the_lazy_listener(front):
    response = front.command("status web")
    assert response.status_code == 200
    assert "…on it" in json.loads(response.body)["text"]
    assert front.standin.responses() == []  # the work is not done in the ack
    assert front.runner.drain() == 1
    [answer] = answers(front)
    assert "Status (shared-services)" in answer and "pipeline `web-prod`" in answer
    entries = [e for e in audit.for_target("app/web") if e.action == "frontdoor.status"]
    assert {e.actor for e in entries} == {uid("dave")} and {e.outcome for e in entries} == {"succeeded"}
    # answered here, and asked of each account on web's promotion path (they say what runs there)
    assert sorted(e.reason or "here" for e in entries) == ["forwarded to prod", "forwarded to stage", "here"]


def test_the_first_ack_of_a_container_calls_nobody(front):
    """No auth.test (Bolt's single-team authorization) or anything else before the first ack: Slack waits 3 s."""
    from chalicelib.frontdoor import http

    http.use_lambda_client(front.runner)  # a new container: the Bolt app is built by the next request
    front.standin.calls.clear()
    response = front.command("status web")
    assert response.status_code == 200 and "…on it" in json.loads(response.body)["text"]
    assert front.standin.calls == []
    assert front.runner.drain() == 1 and answers(front)
    assert "auth.test" not in {c.method for c in front.standin.calls}


@pytest.mark.parametrize("kind", ["command", "button"])
def test_a_lazy_listener_gets_the_payload_bolts_own_copy_would_send_without_the_copy(front, monkeypatch, kind):
    """Bolt deep-copies each request for its lazy listener; the front door hands ChaliceLazyListenerRunner a
    shallow copy instead (``http._lazy_request``). The invocation must carry exactly what Bolt's copy would. (A
    command goes this way when ``http._ack_at_once`` leaves it to Bolt.)"""
    import copy

    from slack_bolt.adapter.aws_lambda.chalice_lazy_listener_runner import ChaliceLazyListenerRunner
    from slack_bolt.listener import thread_runner
    from slack_bolt.util.utils import get_name_for_callable

    from chalicelib.frontdoor import http

    monkeypatch.setattr(http, "_ack_at_once", lambda *args: None)

    def send() -> Any:
        if kind == "command":
            return front.command("status web")
        return front.click("no_such_button", "x", "dave", message={"channel": "C0OPS00001", "ts": "1"})

    copies: list[Any] = []
    monkeypatch.setattr(thread_runner, "create_copy", lambda value: copies.append(value) or copy.deepcopy(value))
    assert send().status_code == 200
    assert copies == [] and len(front.runner.pending) == 1  # handed off, nothing deep-copied
    front.runner.pending.clear()

    bolts: list[dict[str, Any]] = []  # what Bolt's own copy of the same request sends
    start = thread_runner.ThreadListenerRunner._start_lazy_function

    def also_bolts_way(self: Any, function: Any, request: Any) -> None:
        copied = thread_runner.ThreadListenerRunner._build_lazy_request(self, request, get_name_for_callable(function))
        recorder = type("Recorder", (), {"invoke": lambda _, **kwargs: bolts.append(kwargs)})()
        ChaliceLazyListenerRunner(self.logger, recorder).start(function, copied)
        start(self, function, request)

    monkeypatch.setattr(thread_runner.ThreadListenerRunner, "_start_lazy_function", also_bolts_way)
    assert send().status_code == 200
    [(function_name, event)] = front.runner.pending
    [expected] = bolts
    assert (function_name, event) == (expected["FunctionName"], json.loads(expected["Payload"]))
    assert event["headers"]["x-slack-bolt-lazy-only"] == "1" and event["body"]
    assert front.runner.drain() == 1 and answers(front)  # the lazy listener answers from it


@pytest.mark.parametrize("text", ["status web", "promte web", "", "help"])
def test_our_command_is_acked_and_handed_off_as_bolts_dispatch_would(front, monkeypatch, text):
    """``http._ack_at_once`` answers our slash command without Bolt's dispatch: the same answer, and the same
    lazy invocation, as Bolt gives (its path is taken when ``_ack_at_once`` declines)."""
    from slack_bolt import App

    from chalicelib.frontdoor import http

    body = front.command_body(text)
    headers = front.signed(body)
    dispatched: list[Any] = []
    dispatch = App.dispatch
    monkeypatch.setattr(App, "dispatch", lambda self, request: dispatched.append(request) or dispatch(self, request))

    def send() -> tuple[Any, tuple[str, dict[str, Any]]]:
        response = front.client.http.post("/slack/commands", body=body, headers=headers)
        [invocation] = front.runner.pending
        front.runner.pending.clear()
        return response, invocation

    at_once, (function_at_once, event_at_once) = send()
    assert dispatched == []  # Bolt did not dispatch the ack
    monkeypatch.setattr(http, "_ack_at_once", lambda *args: None)
    bolts, (function_bolts, event_bolts) = send()
    assert len(dispatched) == 1
    assert (at_once.status_code, at_once.headers, json.loads(at_once.body)) == \
        (bolts.status_code, bolts.headers, json.loads(bolts.body))
    assert function_at_once == function_bolts
    assert event_at_once == event_bolts
    assert event_at_once["headers"]["x-slack-bolt-lazy-function-name"] == "_run_command"
    front.runner.pending.append((function_at_once, event_at_once))
    assert front.runner.drain() == 1 and dispatched[-1].lazy_only  # Bolt dispatches the lazy invocation


def test_a_command_that_is_not_ours_is_left_to_bolt(front, monkeypatch):
    from slack_bolt import App

    dispatched: list[Any] = []
    dispatch = App.dispatch
    monkeypatch.setattr(App, "dispatch", lambda self, request: dispatched.append(request) or dispatch(self, request))
    response = front.command("status web", command="/deploy")
    assert response.status_code == 200 and "isn't mine" in json.loads(response.body)["text"]
    assert len(dispatched) == 1 and not front.runner.pending


def test_a_signed_body_naming_a_second_response_url_is_refused(front):
    """Bolt reads the last of a repeated form field: the door checks that one too (the first is Slack's here)."""
    from urllib.parse import quote

    body = front.command_body("status web") + "&response_url=" + quote("https://evil.example/hook", safe="")
    response = front.client.http.post("/slack/commands", body=body, headers=front.signed(body))
    assert response.status_code == 401 and "'evil.example' is not Slack's" in json.loads(response.body)["error"]
    assert not front.runner.pending and front.standin.responses() == []


def test_a_command_whose_text_says_payload_is_still_a_command(front):
    """Bolt's own parser takes any form body containing the text "payload" for an interaction (and finds nothing)."""
    response = front.command("status payload-svc")
    assert response.status_code == 200 and "…on it" in json.loads(response.body)["text"]
    assert front.runner.drain() == 1
    [answer] = answers(front)
    assert "unknown app 'payload-svc'" in answer


def test_the_lazy_run_of_a_command_acked_long_ago_is_still_admitted(front, monkeypatch):
    """Lambda may deliver (or retry) Bolt's self-invocation minutes after the ack: only HTTP requests have 5 minutes;
    a late HTTP replay of the same signed request is still refused."""
    clock = {"now": 1_795_000_000.0}
    monkeypatch.setattr("slack_sdk.signature.Clock.now", lambda self: clock["now"])
    body = front.command_body("status web")
    headers = front.signed(body, int(clock["now"]))
    assert front.client.http.post("/slack/commands", body=body, headers=headers).status_code == 200
    clock["now"] += 20 * 60
    assert front.runner.drain() == 1
    [answer] = answers(front)
    assert "Status (shared-services)" in answer
    assert front.client.http.post("/slack/commands", body=body, headers=headers).status_code == 401


@pytest.mark.parametrize("tamper", ["forged", "missing", "no-timestamp", "body", "other-secret"])
def test_unverifiable_requests_are_refused_with_401_and_do_nothing(front, tamper):
    body = front.command_body("status")
    headers = front.signed(body)
    if tamper == "forged":
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    elif tamper == "missing":
        del headers["X-Slack-Signature"]
    elif tamper == "no-timestamp":
        del headers["X-Slack-Request-Timestamp"]
    elif tamper == "body":
        body = body.replace("status", "scale+web+0")
    elif tamper == "other-secret":
        headers = front.signed(body, secret="not-the-secret")
    response = front.client.http.post("/slack/commands", body=body, headers=headers)
    assert response.status_code == 401
    assert front.runner.pending == type(front.runner.pending)() and front.standin.responses() == []


@pytest.mark.parametrize(("offset", "status"), [(-300, 200), (-301, 401), (300, 200), (301, 401)])
def test_timestamp_window_edges(front, monkeypatch, offset, status):
    fixed = 1_795_000_000
    monkeypatch.setattr("slack_sdk.signature.Clock.now", lambda self: float(fixed))
    body = front.command_body("help")
    response = front.client.http.post("/slack/commands", body=body, headers=front.signed(body, fixed + offset))
    assert response.status_code == status


def test_a_request_replayed_after_five_minutes_is_refused(front, monkeypatch):
    clock = {"now": 1_795_000_000.0}
    monkeypatch.setattr("slack_sdk.signature.Clock.now", lambda self: clock["now"])
    body = front.command_body("help")
    headers = front.signed(body, int(clock["now"]))
    assert front.client.http.post("/slack/commands", body=body, headers=headers).status_code == 200
    clock["now"] += 301
    assert front.client.http.post("/slack/commands", body=body, headers=headers).status_code == 401


# ---- grammar errors are answered in the ack ----

@pytest.mark.parametrize(("text", "message"), [
    ("", "no command given"),
    ("promte web", "unknown command 'promte' (did you mean 'promote'?)"),
    ("scale web two", "'two' is not a count (use a whole number from 0 to 10000)"),
    ("hold web", "hold needs a reason"),
])
def test_unparseable_commands_get_an_ephemeral_usage_reply_in_the_ack(front, text, message):
    response = front.command(text)
    ack = json.loads(response.body)
    assert response.status_code == 200 and ack["response_type"] == "ephemeral" and ack["text"] == message
    front.runner.drain()
    assert front.standin.responses() == []  # answered once, in the ack
    [entry] = audit.for_target("slack")
    assert entry.outcome == "rejected" and entry.reason == message and entry.actor == uid("dave")


def test_help_lists_every_command(front):
    front.command("help")
    front.runner.drain()
    [answer] = answers(front)
    for word in ("promote", "hold", "unhold", "approve", "reject", "scale", "silence", "silences", "unsilence",
                 "ack", "rotate", "audit", "status"):
        assert f"/ops {word}" in answer


# ---- RBAC ----

@pytest.mark.parametrize(("user", "text", "reason"), [
    ("dave", "hold web code freeze", "you need the operator role in prod (you have: viewer)"),
    ("eve", "status", "you need the viewer role in shared"),
    ("eve", "audit web", "you need the viewer role in prod"),
    ("alice", "promote web --skip-soak", "you need the admin role in prod (you have: operator, viewer)"),
])
def test_denials_name_the_missing_role_and_are_audited(front, bus, user, text, reason):
    front.command(text, user=user)
    front.runner.drain()
    assert any(reason in a for a in answers(front))
    refused = [e for e in audit.for_day(__import__("datetime").date.today().isoformat()) if e.outcome == "refused"]
    assert any(e.reason == reason and e.actor == uid(user) for e in refused)
    assert not [e for e in bus() if e["detail"]["payload"]["user"] == uid(user) and reason.endswith("prod")
                and "prod" in reason]


def test_commands_for_another_environment_are_forwarded_to_that_peer(front, bus):
    front.command("hold web code freeze", user="alice")
    front.runner.drain()
    [event] = bus()
    assert event["source"] == "switchboard" and event["detail-type"] == "Switchboard command"
    detail = event["detail"]
    assert (detail["to_account"], detail["from_account"], detail["flow"]) == (PROD, "shared-services", "command")
    assert detail["payload"]["text"] == "hold web code freeze" and detail["payload"]["user"] == uid("alice")
    assert detail["payload"]["groups"] == ["S0ENG", "S0PLATFORM"]
    [entry] = [e for e in audit.for_target("app/web") if e.action == "frontdoor.hold"]
    assert entry.outcome == "succeeded" and entry.reason == "forwarded to prod"


def test_a_fan_out_command_goes_to_each_environment(front, bus):
    front.command("audit web 3", user="dave")
    front.runner.drain()
    assert sorted(e["detail"]["to_account"] for e in bus()) == ["222233334444", PROD]


def test_the_peer_reauthorises_with_its_own_policy_and_answers_slack(front, bus, monkeypatch):
    front.command("hold web code freeze", user="alice")
    front.command("audit web 3", user="dave")
    front.runner.drain()
    forwarded = [e for e in bus() if e["detail"]["to_account"] == PROD]
    as_account(monkeypatch, "prod")
    for event in forwarded:
        event["account"] = SHARED  # as EventBridge delivers it: from the front-door account
        outcome = handle(Kind.PEER, event, context())
        assert outcome["outcome"] == "processed", outcome["reason"]
    texts = answers(front)
    assert any("web held in prod" in t and "code freeze" in t for t in texts)  # promotion runs it in prod
    assert any("Audit in prod (prod) for web" in t for t in texts)


def test_invisible_characters_in_ops_text_are_neutralised_in_answers_and_the_audit_log(front, bus, monkeypatch):
    front.command("hold web code \u202eezeerf\u202c\u200b", user="alice")
    front.runner.drain()
    as_account(monkeypatch, "prod")
    for event in [e for e in bus() if e["detail"]["to_account"] == PROD]:
        event["account"] = SHARED
        assert handle(Kind.PEER, event, context())["outcome"] == "processed"
    texts = answers(front)
    assert any("web held in prod" in t and "code [U+202E]ezeerf[U+202C][U+200B]" in t for t in texts)
    entries = list(audit.for_day(__import__("datetime").date.today().isoformat()))
    [held] = [e for e in entries if e.action == "promotion.hold"]
    assert held.reason == "code [U+202E]ezeerf[U+202C][U+200B]" and held.actor == uid("alice")
    stored = json.dumps([audit.as_dict(e) for e in entries], default=str, ensure_ascii=False)
    assert not any(ch in stored + "".join(texts) for ch in "\u202e\u202c\u200b")


def test_a_peer_refuses_a_forwarded_command_its_policy_denies(front, bus, monkeypatch):
    front.command("audit web", user="dave")
    front.runner.drain()
    [event] = [e for e in bus() if e["detail"]["to_account"] == PROD]
    event["detail"]["payload"]["groups"] = []  # the front door says dave has no groups: prod's policy decides
    event = signed({**event, "account": SHARED})  # (re-signed: it is the front door that says so)
    as_account(monkeypatch, "prod")
    handle(Kind.PEER, event, context())
    assert any("Denied in prod: you need the viewer role in prod" in a for a in answers(front))


def test_a_peer_takes_commands_only_from_its_front_door(aws, monkeypatch):
    from chalicelib.policy.loader import current

    as_account(monkeypatch, "prod")
    policy = current()
    patched = policy.model_copy(update={"slack": policy.slack.model_copy(update={"front_door": "stage"})})
    monkeypatch.setattr("chalicelib.policy.loader.current", lambda: patched)
    event = {"version": "0", "id": "e1", "source": "switchboard", "detail-type": "Switchboard command",
             "account": SHARED, "region": "eu-west-1", "time": "2026-11-21T10:00:00Z", "resources": [],
             "detail": {"to_account": PROD, "from_account": "shared-services", "flow": "command", "payload": {
                 "text": "status", "user": "U0DAVE0001", "response_url": "https://hooks.slack.com/x",
                 "request_id": "r1"}}}
    outcome = handle(Kind.PEER, signed(event), context())
    assert outcome["results"][0]["outcome"] == "rejected"
    assert "accepted only from the front door 'stage', not 'shared-services'" in outcome["results"][0]["reason"]


def test_a_forwarded_response_url_must_be_slacks(aws, monkeypatch):
    as_account(monkeypatch, "prod")
    monkeypatch.delenv("SWITCHBOARD_SLACK_API_URL", raising=False)
    asked = Asked(text="status", user="U0DAVE0001", response_url="https://evil.example/x", request_id="r")
    assert not asked.response_url_ok()
    assert Asked(text="s", user="U0DAVE0001", response_url="https://hooks.slack.com/commands/T/1/x",
                 request_id="r").response_url_ok()


# ---- decisions: buttons, four eyes, double clicks ----

def request_decision(title: str = "web 9f2c1e7 to prod", summary: str = "promote web", author="bob@acme.example",
                     requester: str = "alice"):
    return decisions.request(capability="promotion", title=title, summary=summary, environment="prod",
                             requester=uid(requester), author=author, channel="#team-web", correlation_id="t")


@pytest.mark.parametrize(("requester", "user", "message"), [
    ("carol", "carol", "not allowed: four eyes: you requested this, someone else must approve it"),
    ("alice", "bob", "not allowed: four eyes: you wrote this change, someone else must approve it"),
    ("alice", "dave", "not allowed: you need the approver role in prod (you have: viewer)"),
    ("alice", "alice", "not allowed: you need the approver role in prod (you have: operator, viewer)"),
])
def test_four_eyes_and_roles_on_approval_clicks(front, requester, user, message):
    item = request_decision(requester=requester)
    assert front.click("decision_approve", item.id, user).status_code == 200
    front.runner.drain()
    assert [r["text"] for r in front.standin.responses()] == [message]
    assert decision_store.get(item.id).state == "pending"
    assert [e.outcome for e in audit.for_target(f"decision/{item.id}")][0] == "refused"


def test_a_click_decides_once_and_updates_the_card_in_place(front):
    item = request_decision()
    [card] = front.standin.messages("#team-web")
    front.click("decision_approve", item.id, "carol")
    front.click("decision_reject", item.id, "bob")
    front.runner.drain()
    decided = decision_store.get(item.id)
    assert (decided.state, decided.decided_by) == ("approved", uid("carol"))
    first, second = [r["text"] for r in front.standin.responses()]
    assert first == "approved web 9f2c1e7 to prod"
    assert second == f"already approved by <@{uid('carol')}> at {decided.decided_at}"
    [updated] = front.standin.messages("#team-web")
    assert updated.ts == card.ts and updated.updated == 1
    assert f"*Approved* by <@{uid('carol')}>" in json.dumps(updated.blocks)
    assert "decision_approve" not in json.dumps(updated.blocks)  # no buttons left


def test_approve_by_command_is_the_same_decision(front):
    item = request_decision()
    front.command(f"approve {item.id}", user="carol")
    front.command(f"reject {item.id} too late", user="bob")
    front.runner.drain()
    assert decision_store.get(item.id).state == "approved"
    assert any("already approved by" in a for a in answers(front))


@pytest.mark.parametrize(("action_id", "text"), [
    ("incident_ack", "ack prod.0123456789.1"),
    ("silence_1h", "silence environment=prod incident=prod.0123456789.1 for 1h Silence 1h button on the incident card"),
])
def test_incident_buttons_run_the_command_they_stand_for(front, bus, action_id, text):
    assert front.click(action_id, "prod.0123456789.1", "alice").status_code == 200
    front.runner.drain()
    [event] = bus()  # the incident lives in prod: forwarded there, after the front door's own RBAC
    assert event["detail"]["to_account"] == PROD and event["detail"]["payload"]["text"] == text
    assert event["detail"]["payload"]["user"] == uid("alice")


def test_an_incident_button_without_an_incident_id_is_answered(front, bus):
    front.click("incident_ack", "inc-42", "alice")
    front.runner.drain()
    [reply] = front.standin.responses()
    assert reply["text"] == "this button names no incident" and bus() == []


def test_a_click_with_a_bad_signature_is_refused(front):
    item = request_decision()
    from localworld.slack_user import click_body

    body = click_body("decision_approve", item.id, "carol", front.standin.response_url())
    response = front.client.http.post("/slack/interactive", body=body, headers=front.signed(body, secret="forged"))
    assert response.status_code == 401
    assert front.runner.pending == type(front.runner.pending)() and decision_store.get(item.id).state == "pending"


# ---- escaping ----

def test_outside_text_cannot_ping_or_link(front):
    item = request_decision(title="web <!channel>", summary="fix <https://evil.example|click here> & <@U0BOSS>")
    posted = json.dumps(front.standin.messages("#team-web")[0].blocks)
    assert "<!channel>" not in posted and "<https://evil" not in posted and "<@U0BOSS>" not in posted
    assert "&lt;https://evil.example|click here&gt; &amp; &lt;@U0BOSS&gt;" in posted
    response = front.command("status <!channel>")
    ack = json.dumps(json.loads(response.body))
    assert "<!channel>" not in ack and "&lt;!channel&gt;" in ack
    assert item.id


# ---- Slack failures ----

def test_rate_limited_then_delivered(front, monkeypatch):
    from chalicelib.slackkit import cardq, pacing
    from tests.test_frontdoor_cards import Wall

    wall = Wall()
    monkeypatch.setattr(pacing, "wall", wall)
    front.standin.fail_next("chat.postMessage", 429, retry_after=3)
    item = request_decision()  # the card's post waits its Retry-After in the card queue: no sleeping, no failing
    posts = [c for c in front.standin.calls if c.method == "chat.postMessage"]
    assert [c.status for c in posts] == [429] and item.state == "pending" and item.ts is None
    assert cardq.run(sleep=wall.sleep).sent == 1 and sum(wall.slept) >= 3.0  # the card drain posts it
    posts = [c for c in front.standin.calls if c.method == "chat.postMessage"]
    assert [c.status for c in posts] == [429, 200]
    [card] = front.standin.messages("#team-web")
    assert (decision_store.get(item.id).channel, decision_store.get(item.id).ts) == (card.channel, card.ts)


def test_server_error_then_delivered(front, monkeypatch):
    monkeypatch.setattr("slack_sdk.http_retry.builtin_interval_calculators.BackoffRetryIntervalCalculator"
                        ".calculate_sleep_duration", lambda self, count: 0.0)
    front.standin.fail_next("response_url", 500)
    front.command("status", user="dave")
    front.runner.drain()
    attempts = [c.status for c in front.standin.calls if c.method == "response_url"]
    assert attempts == [500, 200]


def test_a_delivery_that_keeps_failing_is_kept_and_retried_later(front, monkeypatch):
    monkeypatch.setattr("slack_sdk.http_retry.builtin_interval_calculators.BackoffRetryIntervalCalculator"
                        ".calculate_sleep_duration", lambda self, count: 0.0)
    front.standin.fail_next("response_url", 503, times=3)  # first try + 2 retries
    front.command("status web", user="dave")
    front.runner.drain()
    [kept] = list(OutboxItem.query("outbox"))
    assert kept.method == "response_url" and "503" in kept.last_error
    assert any(e.outcome == "failed" and "outbox" in e.reason for e in audit.for_target(f"slack/{uid('dave')}"))
    assert decisions.tick(slack_adapter.retry_outbox) == {"delivered": 1, "failed": 0, "dead": 0, "renotified": 0}
    assert list(OutboxItem.query("outbox")) == []
    assert "Status (shared-services)" in answers(front)[0]


# ---- secrets never reach a log ----

def test_the_signing_secret_and_token_never_reach_a_log(front):
    from chalicelib.observability import logger as powertools_logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    noisy = [root, logging.getLogger("switchboard"), logging.getLogger("slack_sdk"), logging.getLogger("slack_bolt")]
    old_levels = [lg.level for lg in noisy]
    for lg in noisy:
        lg.setLevel(logging.DEBUG)
    root.addHandler(handler)
    old_stream = powertools_logger.registered_handler.setStream(buffer)
    try:
        front.command("status web", user="dave")
        front.command("scale web banana", user="dave")
        item = request_decision()
        front.click("decision_approve", item.id, "carol")
        front.runner.drain()
    finally:
        root.removeHandler(handler)
        for lg, level in zip(noisy, old_levels, strict=True):
            lg.setLevel(level)
        powertools_logger.registered_handler.setStream(old_stream)
    logged = buffer.getvalue()
    assert "Incoming request" in logged and "chat.postMessage" in logged  # debug logging really was on
    assert SIGNING_SECRET not in logged and BOT_TOKEN not in logged
    assert repr(slack_adapter.credentials()) == "Credentials(signing_secret='***', bot_token='***')"


# ---- what is not ours, and what fails ----

def test_a_command_this_app_does_not_own_gets_a_polite_200(front):
    from localworld.slack_user import command_body

    body = command_body("deploy everything", "dave", front.standin.response_url(), command="/deploy")
    response = front.client.http.post("/slack/commands", body=body, headers=front.signed(body))
    assert response.status_code == 200
    text = json.loads(response.body)["text"]
    assert "`/deploy` isn't mine" in text and "`/ops help`" in text
    assert front.runner.drain() == 0  # nothing handed to a lazy listener


def test_a_button_this_app_does_not_own_gets_200_and_a_note(front):
    response = front.click("launch_missiles", "all", "dave")
    assert response.status_code == 200
    front.runner.drain()
    [note] = front.standin.responses()
    assert "`launch_missiles` isn't one of mine: nothing was done" in note["text"]


def test_a_failing_lazy_listener_apologises_with_an_error_id_and_fails_the_invocation(front, monkeypatch):
    """Bolt swallows a lazy listener's exception; Switchboard tells the person, audits it, and makes the Lambda
    invocation fail so Lambda retries it and then dead-letters it. The retry (the ledger forgot it) does the work."""
    calls = []

    def flaky(asked, **kwargs):
        calls.append(asked.text)
        if len(calls) == 1:
            raise RuntimeError("DynamoDB throttled")
        return ["succeeded"]

    monkeypatch.setattr(commands, "handle", flaky)
    assert front.command("status web").status_code == 200
    [(function, event)] = list(front.runner.pending)
    front.runner.drain()
    [apology] = front.standin.responses()
    error_id = apology["text"].split("error id `")[1].split("`")[0]
    assert "Sorry, that failed on my side" in apology["text"] and len(error_id) == 10
    [failure] = front.runner.errors  # the invocation raised: Lambda would retry it
    assert "InvocationFailed" in failure and error_id in failure
    [entry] = [e for e in audit.for_target("slack/command") if e.outcome == "failed"]
    assert error_id in entry.reason and "DynamoDB throttled" in entry.reason
    front.runner.pending.append((function, event))  # Lambda's retry of the same invocation
    front.runner.drain()
    assert calls == ["status web", "status web"] and len(front.runner.errors) == 1


def test_each_outbox_item_is_retried_on_its_own_and_a_broken_one_fails_the_run_loudly(front, monkeypatch):
    """One item that cannot be processed (here: its delete fails) neither stops the others nor goes unseen."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    for n, text in enumerate(("first", "second", "third")):
        OutboxItem("outbox", f"{(now + timedelta(seconds=n)).isoformat()}#0000000{n}", method="chat.postMessage",
                   payload={"channel": "#platform", "text": text}, correlation_id=text, attempts=1,
                   last_error="503", expires_at=now + timedelta(days=14)).save()
    items = list(OutboxItem.query("outbox"))
    assert len(items) == 3
    real_delete = OutboxItem.delete

    def delete(self, *args, **kwargs):
        if self.payload.get("text") == "second":
            raise RuntimeError("DynamoDB said no")
        return real_delete(self, *args, **kwargs)

    monkeypatch.setattr(OutboxItem, "delete", delete)
    with pytest.raises(RuntimeError, match="1 outbox item"):
        slack_adapter.retry_outbox()
    assert sorted(m.text for m in front.standin.messages("#platform")) == ["first", "second", "third"]
    assert [i.payload["text"] for i in OutboxItem.query("outbox")] == ["second"]  # kept for the next run


def test_two_first_announcements_of_one_key_make_one_card(front, monkeypatch):
    """Two invocations announce the same new key at once: both post, one ref is saved (a condition), the other
    removes its duplicate and updates the card instead."""
    keyed.announce_keyed("prod", "incident/1", {"channel": "#platform", "text": "opened"},
                                 correlation_id="a")
    real = keyed.message_ref
    seen = []

    def racing(origin, key):  # the second one read before the first one's ref was saved
        if not seen:
            seen.append(1)
            return None
        return real(origin, key)

    monkeypatch.setattr(keyed, "message_ref", racing)
    assert keyed.announce_keyed("prod", "incident/1", {"channel": "#platform", "text": "escalated"},
                                        correlation_id="b")
    shown = [m for m in front.standin.messages("#platform") if not m.deleted]
    assert [m.text for m in shown] == ["escalated"]
    assert real("prod", "incident/1").ts == shown[0].ts


def test_a_kept_answer_past_its_response_url_lifetime_goes_to_its_fallback_or_is_given_up(aws, monkeypatch):
    """A response_url lives 30 minutes (the item's key says when it was kept): a kept answer still within that is
    retried there; past it, it is posted ephemerally to its fallback (channel and user), or marked dead without one."""
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    kept = {"fresh": now - timedelta(minutes=29), "late": now - timedelta(minutes=31),
            "orphan": now - timedelta(minutes=31)}
    for text, at in kept.items():
        OutboxItem("outbox", f"{at.isoformat()}#{text}", method="response_url", correlation_id=text, attempts=1,
                   payload={"url": "https://hooks.slack.com/commands/T/1/x", "text": text, "blocks": [],
                            "fallback": {"channel": "C0OPS", "user": "U0DAVE0001"} if text != "orphan" else None},
                   expires_at=now + timedelta(days=14)).save()
    sent = []
    monkeypatch.setattr(slack_adapter, "_send", lambda method, payload: sent.append((method, payload)))
    assert slack_adapter.retry_outbox(now) == {"delivered": 2, "failed": 0, "dead": 1}
    assert sorted(sent, key=lambda s: s[1]["text"]) == [
        ("response_url", {"url": "https://hooks.slack.com/commands/T/1/x", "text": "fresh", "blocks": []}),
        ("chat.postEphemeral", {"channel": "C0OPS", "user": "U0DAVE0001", "text": "late", "blocks": []})]
    [dead] = list(OutboxItem.query("outbox"))
    assert (dead.payload["text"], dead.dead) == ("orphan", "response_url expired and no fallback")
