"""The Slack stand-in, driven by the real slack_sdk clients (no mocks of slack_sdk)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from localworld.slack_standin import Call, Limits, SlackStandIn, channel_id_for

TOKEN = "xoxb-local-world"
ROOT = Path(__file__).resolve().parent.parent

BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Deploy approved"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*web* -> prod"}},
]


@pytest.fixture
def standin(tmp_path):
    s = SlackStandIn(record_file=str(tmp_path / "calls.jsonl")).start()
    yield s
    s.stop()


@pytest.fixture
def client(standin):
    return WebClient(token=TOKEN, base_url=standin.api_url)


def test_post_blocks_by_channel_name_then_update_in_place(standin, client):
    posted = client.chat_postMessage(channel="#team-web", text="Deploy pending", blocks=BLOCKS)
    assert posted["ok"] is True
    cid = posted["channel"]
    assert cid == channel_id_for("#team-web") and cid.startswith("C") and len(cid) == 11
    assert posted["message"]["blocks"] == BLOCKS
    ts = posted["ts"]

    updated = client.chat_update(channel=cid, ts=ts, text="Deploy approved", blocks=BLOCKS[:1])
    assert updated["ok"] is True and updated["ts"] == ts and updated["text"] == "Deploy approved"

    [msg] = standin.messages("#team-web")
    assert standin.messages(cid) == standin.messages("team-web") == [msg]
    assert (msg.channel, msg.ts, msg.text, msg.blocks) == (cid, ts, "Deploy approved", BLOCKS[:1])
    assert msg.updated == 1 and msg.deleted is False
    assert msg.history == [{"text": "Deploy pending", "blocks": BLOCKS, "attachments": None}]
    assert [c.method for c in standin.calls] == ["chat.postMessage", "chat.update"]
    assert standin.calls[0].body["channel"] == "#team-web"


def test_ts_unique_and_increasing_threads_and_delete(standin, client):
    first = client.chat_postMessage(channel="C0123456789", text="one")["ts"]
    reply = client.chat_postMessage(channel="C0123456789", text="two", thread_ts=first)["ts"]
    sec, frac = reply.split(".")
    assert sec.isdigit() and len(frac) == 6 and float(reply) > float(first)

    assert client.chat_delete(channel="C0123456789", ts=first)["ok"] is True
    msgs = standin.messages("C0123456789")
    assert [(m.ts, m.deleted, m.thread_ts) for m in msgs] == [(first, True, None), (reply, False, first)]
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C0123456789", ts=first, text="too late")
    assert exc.value.response["error"] == "message_not_found"


def test_update_of_unknown_ts_is_message_not_found(standin, client):
    client.chat_postMessage(channel="#team-web", text="hi")
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="#team-web", ts="1.000000", text="nope")
    assert exc.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as exc:
        client.chat_delete(channel="#team-web", ts="1.000000")
    assert exc.value.response["error"] == "message_not_found"
    assert [m.text for m in standin.messages()] == ["hi"]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_post_validation_errors(standin, client):
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="#team-web")
    assert exc.value.response["error"] == "no_text"
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.postMessage", json={"text": "no channel"})
    assert exc.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="#team-web", blocks=[{"text": "no type"}])
    assert exc.value.response["error"] == "invalid_blocks"
    assert standin.messages() == []


def test_not_authed_and_invalid_auth(standin):
    with pytest.raises(SlackApiError) as exc:
        WebClient(base_url=standin.api_url).chat_postMessage(channel="#x", text="hi")
    assert exc.value.response["error"] == "not_authed"
    assert exc.value.response.status_code == 200
    with pytest.raises(SlackApiError) as exc:
        WebClient(token="xoxb-wrong", base_url=standin.api_url).auth_test()
    assert exc.value.response["error"] == "invalid_auth"
    assert standin.messages() == []
    assert [c.response["error"] for c in standin.calls] == ["not_authed", "invalid_auth"]


def test_unknown_method(client):
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.frobnicate", json={"channel": "#x"})
    assert exc.value.response["error"] == "unknown_method"


def test_auth_info_and_ephemeral(standin, client):
    auth = client.auth_test()
    assert auth["ok"] and auth["user_id"].startswith("U") and auth["team_id"].startswith("T")
    assert auth.headers["Content-Type"] == "application/json; charset=utf-8"

    cid = client.chat_postMessage(channel="#team-web", text="x")["channel"]
    info = client.conversations_info(channel=cid)["channel"]
    assert (info["id"], info["name"], info["is_channel"]) == (cid, "team-web", True)
    with pytest.raises(SlackApiError) as exc:
        client.conversations_info(channel="#team-web")  # as on Slack: ids only
    assert exc.value.response["error"] == "channel_not_found"

    standin.add_user("U0ABCDEF12", "dana")
    user = client.users_info(user="U0ABCDEF12")["user"]
    assert user["id"] == "U0ABCDEF12" and "profile" in user

    eph = client.chat_postEphemeral(channel=cid, user="U0ABCDEF12", text="only you")
    assert eph["ok"] and eph["message_ts"]
    [e] = standin.ephemerals("#team-web")
    assert (e.text, e.ephemeral_to, e.ts) == ("only you", "U0ABCDEF12", eph["message_ts"])
    assert [m.text for m in standin.messages()] == ["x"]  # ephemerals are not channel messages


def test_form_encoded_call_decodes_json_fields(standin, client):
    resp = client.api_call(
        "chat.postMessage",
        data={"channel": "#team-web", "text": "via form", "blocks": json.dumps(BLOCKS)},
    )
    assert resp["ok"] is True
    call = standin.calls[-1]
    ctype = {k.lower(): v for k, v in call.headers.items()}["content-type"]
    assert ctype.startswith("application/x-www-form-urlencoded")
    assert call.body["blocks"] == BLOCKS
    [msg] = standin.messages("#team-web")
    assert (msg.text, msg.blocks) == ("via form", BLOCKS)


def test_response_url_allows_five_uses(standin):
    url = standin.response_url("approve")
    assert url.startswith(standin.url + "/response/approve-")
    hook = WebhookClient(url)
    for i in range(5):
        r = hook.send(text=f"use {i}", replace_original=True)
        assert (r.status_code, r.body) == (200, "ok")
    sixth = hook.send(text="use 5")
    assert (sixth.status_code, sixth.body) == (404, "used_url")

    assert [b["text"] for b in standin.responses(url)] == [f"use {i}" for i in range(5)]
    assert standin.responses(standin.response_url()) == []
    assert [c.status for c in standin.calls] == [200] * 5 + [404]
    assert {c.method for c in standin.calls} == {"response_url"}


def test_response_url_unknown_expired_and_bad_payloads(standin):
    unknown = WebhookClient(standin.url + "/response/never-issued").send(text="x")
    assert unknown.status_code == 404

    url = standin.response_url()
    hook = WebhookClient(url)
    assert hook.send_dict({}).status_code == 400  # no_text; does not count as a use
    assert hook.send_dict({"delete_original": True}).status_code == 200

    standin._clock = lambda: float("inf")  # 30 minutes (and more) later
    late = hook.send(text="late")
    assert (late.status_code, late.body) == (404, "expired_url")
    assert standin.responses(url) == [{"delete_original": True}]


def test_tokens_are_redacted_in_calls_and_record_file(standin, client, tmp_path):
    client.chat_postMessage(channel="#team-web", text="hello")
    WebClient(token="xoxb-wrong-secret", base_url=standin.api_url).api_call("api.test")
    # Slack also takes the token as a form field (slack_sdk moves it to the header, so use requests).
    assert requests.post(standin.api_url + "auth.test", data={"token": TOKEN}, timeout=5).json()["ok"]
    WebhookClient(standin.response_url()).send(text="r")
    assert standin.calls[-2].response["ok"] is True  # token in the form body is accepted

    recorded = (tmp_path / "calls.jsonl").read_text()
    lines = [json.loads(line) for line in recorded.splitlines()]
    assert [line["method"] for line in lines] == [c.method for c in standin.calls]
    assert len(lines) == 4
    dumped = recorded + repr(standin.calls)
    assert TOKEN not in dumped and "xoxb-wrong-secret" not in dumped
    auth = {k.lower(): v for k, v in standin.calls[0].headers.items()}["authorization"]
    assert auth == "Bearer xoxb-***"
    assert standin.calls[2].body["token"] == "xoxb-***"


def test_wait_for_sees_calls_from_other_threads(standin, client):
    standin.set_limits(Limits.off())  # 20 posts at once in one channel: beyond Slack's per-channel limit
    assert standin.wait_for(lambda calls: len(calls) == 1, timeout=0) is False
    workers = [
        threading.Thread(target=client.chat_postMessage, kwargs={"channel": "#busy", "text": str(i)})
        for i in range(20)
    ]
    for w in workers:
        w.start()
    assert standin.wait_for(lambda calls: len(calls) == 20, timeout=10)
    for w in workers:
        w.join()
    msgs = standin.messages("#busy")
    assert len({m.ts for m in msgs}) == 20
    assert sorted(m.text for m in msgs) == sorted(str(i) for i in range(20))
    assert all(isinstance(c, Call) for c in standin.calls)

    standin.reset()
    assert standin.calls == [] and standin.messages() == [] and standin.responses() == []


def test_stop_releases_port():
    s = SlackStandIn().start()
    port = s.port
    WebClient(token=TOKEN, base_url=s.api_url).auth_test()
    s.stop()
    s.stop()  # idempotent
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    again = SlackStandIn(port=port).start()  # the port is free to serve again
    try:
        assert WebClient(token=TOKEN, base_url=again.api_url).auth_test()["ok"]
    finally:
        again.stop()


def test_binds_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        SlackStandIn(host="0.0.0.0")  # noqa: S104 - asserting it is refused


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
def test_module_entry_point_serves_until_ctrl_c():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "localworld.slack_standin", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert WebClient(token=TOKEN, base_url=url + "/api/").auth_test()["ok"]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert err == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- users and user groups ----


def test_usergroups_list_and_users_list(standin, client):
    standin.add_user("U0ALICE001", "alice", groups=["S0PLATFORM"])
    standin.add_user("U0BOB00001", "bob", groups=("S0PLATFORM", "S0ONCALL"))
    standin.add_group("S0PLATFORM", "platform")
    standin.add_group("S0ONCALL", "oncall", users=["U0CAROL001"])

    listed = client.usergroups_list(include_users=True)
    assert listed["ok"] is True
    groups = {g["id"]: g for g in listed["usergroups"]}
    assert set(groups) == {"S0PLATFORM", "S0ONCALL"}
    assert (groups["S0PLATFORM"]["handle"], groups["S0PLATFORM"]["name"]) == ("platform", "platform")
    assert groups["S0PLATFORM"]["users"] == ["U0ALICE001", "U0BOB00001"]
    assert groups["S0PLATFORM"]["user_count"] == "2"  # a string, as Slack sends it
    assert groups["S0ONCALL"]["users"] == ["U0BOB00001", "U0CAROL001"]
    assert all("users" not in g for g in client.usergroups_list()["usergroups"])

    members = client.usergroups_users_list(usergroup="S0ONCALL")
    assert (members["ok"], members["users"]) == (True, ["U0BOB00001", "U0CAROL001"])
    with pytest.raises(SlackApiError) as exc:
        client.usergroups_users_list(usergroup="S0NOSUCH")
    assert exc.value.response["error"] == "no_such_subteam"


def test_users_info_registered_and_unknown(standin, client):
    standin.add_user("U0ALICE001", "alice", real_name="Alice Liddell")
    standin.add_user("W0BOB00001", "bob")
    alice = client.users_info(user="U0ALICE001")["user"]
    assert (alice["id"], alice["name"], alice["real_name"]) == ("U0ALICE001", "alice", "Alice Liddell")
    assert alice["profile"]["display_name"] == "alice"
    bob = client.users_info(user="W0BOB00001")["user"]
    assert (bob["name"], bob["real_name"]) == ("bob", "bob")
    with pytest.raises(SlackApiError) as exc:
        client.users_info(user="U0NOBODY01")
    assert exc.value.response["error"] == "user_not_found"
    assert exc.value.response.status_code == 200


def test_reset_keeps_directory_unless_asked(standin, client):
    standin.add_user("U0ALICE001", "alice", groups=["S0PLATFORM"])
    standin.fail_next("users.info", 500)
    standin.reset()
    assert client.users_info(user="U0ALICE001")["user"]["name"] == "alice"  # the fault was dropped too
    assert client.usergroups_users_list(usergroup="S0PLATFORM")["users"] == ["U0ALICE001"]

    standin.reset(directory=True)
    with pytest.raises(SlackApiError) as exc:
        client.users_info(user="U0ALICE001")
    assert exc.value.response["error"] == "user_not_found"
    assert client.usergroups_list(include_users=True)["usergroups"] == []


def test_directory_rejects_bad_ids(standin):
    with pytest.raises(ValueError, match="user id"):
        standin.add_user("alice", "alice")
    with pytest.raises(ValueError, match="group id"):
        standin.add_user("U0ALICE001", "alice", groups=["platform"])
    with pytest.raises(ValueError, match="user id"):
        standin.add_group("S0PLATFORM", "platform", users=["alice"])


# ---- fault injection ----

NO_WAIT = FixedValueRetryIntervalCalculator(0.0)


def test_ratelimited_then_retried_posts_once(standin):
    standin.fail_next("chat.postMessage", 429, retry_after=0)  # slack_sdk sleeps Retry-After + [0, 1) s
    client = WebClient(token=TOKEN, base_url=standin.api_url,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    posted = client.chat_postMessage(channel="#team-web", text="hello")
    assert posted["ok"] is True and posted.status_code == 200
    assert [(c.method, c.status) for c in standin.calls] == [("chat.postMessage", 429), ("chat.postMessage", 200)]
    assert standin.calls[0].response == {"ok": False, "error": "ratelimited"}
    assert [m.text for m in standin.messages("#team-web")] == ["hello"]


def test_server_error_then_retried(standin):
    standin.fail_next("chat.postMessage", 500)
    client = WebClient(token=TOKEN, base_url=standin.api_url,
                       retry_handlers=[ServerErrorRetryHandler(max_retry_count=1, interval_calculator=NO_WAIT)])
    assert client.chat_postMessage(channel="#team-web", text="hello")["ok"] is True
    assert [c.status for c in standin.calls] == [500, 200]
    assert standin.calls[0].response == {"ok": False, "error": "internal_error"}
    assert len(standin.messages()) == 1


def test_ratelimited_without_retry_handlers_surfaces(standin, client):
    standin.fail_next("chat.postMessage", 429, retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="#team-web", text="hello")
    response = exc.value.response
    assert response.status_code == 429
    assert response["error"] == "ratelimited"
    assert {k.lower(): v for k, v in response.headers.items()}["retry-after"] == "7"
    assert standin.messages() == []
    assert client.chat_postMessage(channel="#team-web", text="again")["ok"] is True  # one fault only


def test_faults_count_queue_and_stay_per_method(standin, client):
    standin.fail_next("chat.postMessage", 503, times=2, error="service_unavailable")
    standin.fail_next("chat.postMessage", 429)
    assert client.auth_test()["ok"] is True  # other methods are not affected
    statuses = []
    for _ in range(4):
        try:
            client.chat_postMessage(channel="#team-web", text="x")
            statuses.append(200)
        except SlackApiError as e:
            statuses.append((e.response.status_code, e.response["error"]))
    assert statuses == [(503, "service_unavailable")] * 2 + [(429, "ratelimited"), 200]
    assert standin.calls[3].headers.get("Authorization") == "Bearer xoxb-***"  # faults are redacted too
    with pytest.raises(ValueError):
        standin.fail_next("chat.postMessage", 404)
    with pytest.raises(ValueError):
        standin.fail_next("chat.postMessage", 500, times=0)


def test_response_url_server_error_then_retried(standin):
    url = standin.response_url("approve")
    standin.fail_next("response_url", 500)
    hook = WebhookClient(url, retry_handlers=[ServerErrorRetryHandler(max_retry_count=1, interval_calculator=NO_WAIT)])
    r = hook.send(text="approved", replace_original=True)
    assert (r.status_code, r.body) == (200, "ok")
    assert [(c.method, c.status, c.response) for c in standin.calls] == [
        ("response_url", 500, "internal_error"), ("response_url", 200, "ok"),
    ]
    assert [b["text"] for b in standin.responses(url)] == ["approved"]  # the failed try used nothing


def test_response_url_ratelimited_without_retry(standin):
    url = standin.response_url()
    standin.fail_next("response_url", 429, retry_after=3)
    r = WebhookClient(url).send(text="x")
    assert r.status_code == 429
    assert {k.lower(): v for k, v in r.headers.items()}["retry-after"] == "3"
    assert standin.responses(url) == []


# ---- Slack's rate limits (localworld/slack/limits.py), on by default ----


def test_posting_in_one_channel_beyond_its_limit_is_ratelimited_with_retry_after(standin, client):
    from localworld.slack.limits import CHANNEL_BURST

    for i in range(CHANNEL_BURST):  # a short burst goes through
        assert client.chat_postMessage(channel="#busy", text=str(i))["ok"] is True
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="#busy", text="one too many")
    assert exc.value.response.status_code == 429 and exc.value.response["error"] == "ratelimited"
    assert int(exc.value.response.headers["Retry-After"]) >= 1
    assert client.chat_postMessage(channel="#quiet", text="another channel has its own allowance")["ok"] is True
    assert [c.status for c in standin.calls] == [200] * CHANNEL_BURST + [429, 200]
    assert len(standin.messages("#busy")) == CHANNEL_BURST  # the refused one changed nothing


def test_a_tier_limits_its_method_across_channels(standin, client):
    from localworld.slack.limits import TIER_PER_MINUTE

    standin.set_limits(Limits(tier_per_minute={**TIER_PER_MINUTE, 2: 2}))  # usergroups.list is Tier 2
    assert client.usergroups_list()["ok"] and client.usergroups_list()["ok"]
    with pytest.raises(SlackApiError) as exc:
        client.usergroups_list()
    assert exc.value.response.status_code == 429
    assert int(exc.value.response.headers["Retry-After"]) == 30  # one call in 30 s at 2 a minute
    assert client.users_info(user="UL0CA1B0T01")["ok"] is True  # another method, another bucket


def test_limits_off_lets_everything_through(standin, client):
    standin.set_limits(Limits.off())
    for i in range(10):
        client.chat_postMessage(channel="#busy", text=str(i))
    assert all(c.status == 200 for c in standin.calls)


def test_retry_handler_honours_retry_after_and_the_post_lands_once(standin):
    from localworld.slack.limits import CHANNEL_BURST

    calculator = FixedValueRetryIntervalCalculator(0.0)  # the stand-in's Retry-After is still what it answers
    client = WebClient(token=TOKEN, base_url=standin.api_url,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3, interval_calculator=calculator)])
    for i in range(CHANNEL_BURST + 1):
        client.chat_postMessage(channel="#busy", text=str(i))
    assert len(standin.messages("#busy")) == CHANNEL_BURST + 1
    assert [c.status for c in standin.calls].count(429) >= 1


def test_bucket_refills_at_its_rate_and_holds_at_most_its_burst():
    from localworld.slack.limits import Bucket

    bucket = Bucket(rate=1.0, burst=2)
    assert [bucket.take(0.0), bucket.take(0.0)] == [0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(1.0)
    assert bucket.take(0.5) == pytest.approx(0.5)  # refused calls take nothing
    assert bucket.take(1.0) == 0.0
    assert bucket.take(100.0) == 0.0 and bucket.take(100.0) == 0.0 and bucket.take(100.0) > 0  # never above burst
