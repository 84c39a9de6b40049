"""A front door that holds an organisation: the send budget (budget.py), cards coalesced (coalesce.py), the card queue
against the rate-limited Slack stand-in (cardq.py), and fan-out commands answered once (fanout.py)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from chalicelib.slackkit import budget, coalesce
from chalicelib.slackkit.budget import Bucket, State

ONE_A_SECOND = Bucket(rate=1.0, burst=1.0)
FIFTY_A_MINUTE = Bucket(rate=50 / 60, burst=50.0)


# ---- budget (pure) ----

@pytest.mark.parametrize(("bucket", "state", "now", "wait", "tokens_after"), [
    (ONE_A_SECOND, None, 100.0, 0.0, 0.0),  # never spent: full
    (ONE_A_SECOND, State(0.0, 100.0), 100.0, 1.0, 0.0),  # just spent: a second to wait
    (ONE_A_SECOND, State(0.0, 100.0), 100.5, 0.5, 0.5),  # half refilled
    (ONE_A_SECOND, State(0.0, 100.0), 101.0, 0.0, 0.0),  # refilled
    (ONE_A_SECOND, State(0.0, 100.0), 500.0, 0.0, 0.0),  # never more than the burst
    (FIFTY_A_MINUTE, None, 0.0, 0.0, 49.0),
    (ONE_A_SECOND, State(1.0, 100.0, blocked_until=130.0), 110.0, 20.0, 1.0),  # Slack said 429: wait it out
    (ONE_A_SECOND, State(0.0, 110.0), 100.0, 1.0, 0.0),  # spent by a clock 10 s ahead: no refill until ours gets there
    (ONE_A_SECOND, State(0.0, 10_000.0, blocked_until=10_000.0), 100.0, 0.0, 0.0),  # a wild clock is not believed
])
def test_take_spends_a_token_or_says_how_long_to_wait(bucket, state, now, wait, tokens_after):
    after, waited = budget.take(bucket, state, now)
    assert waited == pytest.approx(wait)
    assert after.tokens == pytest.approx(tokens_after)


def test_a_channel_gets_a_burst_of_two_then_one_write_a_second_whatever_the_method():
    state, sent, now = None, [], 0.0
    while now < 10.0:
        state, wait = budget.take(budget.bucket_for("channel:C1"), state, now)
        if wait == 0:
            sent.append(now)
        now = round(now + 0.1, 1)
    assert sent[:2] == [0.0, 0.1]  # a post and its first update, at once
    after = sent[2:]  # then one a second: the burst refills at the channel's rate, never faster
    assert len(sent) == 11 and after[0] >= 1.0 and all(b - a >= 1.0 - 1e-9 for a, b in zip(after, after[1:],
                                                                                            strict=False))
    per_second = Counter(int(t) for t in sent)
    assert max(per_second.values()) <= 3  # never above the Slack stand-in's burst, in any calendar second


def test_block_empties_the_bucket_until_retry_after():
    state = budget.block(ONE_A_SECOND, None, 100.0, retry_after=5)
    assert budget.take(ONE_A_SECOND, state, 104.0)[1] == pytest.approx(1.0)
    assert budget.take(ONE_A_SECOND, state, 105.0)[1] == pytest.approx(0.0)


@pytest.mark.parametrize(("method", "channel", "names"), [
    ("chat.postMessage", "C1", ["channel:C1"]),
    ("chat.update", "C1", ["channel:C1", "method:chat.update"]),
    ("chat.postEphemeral", "C1", ["channel:C1", "method:chat.postEphemeral"]),
    ("response_url", None, []),
])
def test_which_buckets_a_write_spends(method, channel, names):
    assert budget.names_for(method, channel) == names


# ---- coalesce (pure) ----

@pytest.mark.parametrize(("card", "incoming", "admitted"), [
    (None, 0, True),
    (coalesce.Card(version=2), 3, True),
    (coalesce.Card(version=3), 2, False),  # older: never overwrites the newer
    (coalesce.Card(version=3), 3, False),  # the same again (a redelivery): nothing new
    (coalesce.Card(version=3, sent=3), 4, True),
])
def test_admit_only_newer_versions(card, incoming, admitted):
    assert coalesce.admit(card, incoming) is admitted


def test_a_negative_version_is_refused_naming_it():
    with pytest.raises(ValueError, match="not -1"):
        coalesce.admit(None, -1)


@pytest.mark.parametrize(("card", "now", "is_due"), [
    (coalesce.Card(version=1), 0.0, True),
    (coalesce.Card(version=1, sent=1), 0.0, False),
    (coalesce.Card(version=2, sent=1), 0.0, True),
    (coalesce.Card(version=2, sent=1, lease_until=10.0), 5.0, False),  # another sender holds it
    (coalesce.Card(version=2, sent=1, lease_until=10.0), 11.0, True),  # ... and crashed: its lease ran out
    (coalesce.Card(version=2, not_before=10.0), 5.0, False),  # Retry-After
    (coalesce.Card(version=2, dead=True), 5.0, False),
])
def test_due(card, now, is_due):
    assert coalesce.due(card, now) is is_due


def test_after_failure_429_costs_no_attempt_others_back_off_then_die():
    card = coalesce.Card(version=2, attempts=3)
    assert coalesce.after_failure(card, retry_after=7, now=100.0) == coalesce.Card(2, None, None, 107.0, 3, False)
    worse = coalesce.after_failure(card, retry_after=None, now=100.0)
    assert (worse.attempts, worse.not_before, worse.dead) == (4, 116.0, False)
    last = coalesce.after_failure(coalesce.Card(2, attempts=coalesce.MAX_ATTEMPTS - 1), retry_after=None, now=0.0)
    assert last.dead is True


# ---- the card queue against the rate-limited stand-in ----

def _card(n: int, channel: str = "#team-web") -> dict:
    return {"channel": channel, "text": f"incident v{n}", "blocks": []}


def test_newest_version_only_and_an_older_one_never_overwrites(front):
    from chalicelib.slackkit import cardq

    assert cardq.commit("prod", "incident/1", 1, _card(1), correlation_id="c1")
    assert cardq.commit("prod", "incident/1", 3, _card(3), correlation_id="c3")
    assert not cardq.commit("prod", "incident/1", 2, _card(2), correlation_id="c2")  # late: superseded
    assert cardq.send("prod", "incident/1").sent == 1
    [message] = front.standin.messages("#team-web")
    assert message.text == "incident v3"  # v1 was never sent: coalesced
    assert cardq.commit("prod", "incident/1", 3, _card(3), correlation_id="c3")  # redelivered: already committed
    assert cardq.send("prod", "incident/1").sent == 0  # ... and already sent
    assert cardq.queued() == [] and len(front.standin.calls) == 1
    from chalicelib.state import audit

    [superseded] = [e for e in audit.for_target("message/prod/incident/1") if e.correlation_id == "c2"]
    assert "superseded" in superseded.reason


def test_one_write_a_second_per_channel_the_rest_waits_queued(front):
    from chalicelib.slackkit import cardq

    for n in range(4):
        cardq.commit("prod", f"incident/{n}", 1, _card(n), correlation_id=f"c{n}")
    result = cardq.drain()
    assert result.sent == 2 and result.wait is not None and result.wait > 0  # the channel's burst of two
    assert len(front.standin.messages("#team-web")) == 2
    assert len(cardq.queued()) == 2  # nothing lost: still queued, in order
    assert [k for _, k, _, _ in cardq.queued()] == ["incident/2", "incident/3"]


def test_a_429_is_honoured_the_card_stays_queued_and_goes_later(front, monkeypatch):
    from chalicelib.slackkit import cardq

    front.standin.fail_next("chat.postMessage", 429, retry_after=30)
    cardq.commit("prod", "incident/9", 1, _card(9), correlation_id="c9")
    result = cardq.send("prod", "incident/9")
    assert (result.sent, result.ratelimited) == (0, 1)
    assert cardq.send("prod", "incident/9").sent == 0  # not before its Retry-After
    assert len(cardq.queued()) == 1 and front.standin.messages("#team-web") == []
    later = cardq.time.time() + 31
    monkeypatch.setattr(cardq.time, "time", lambda: later)
    assert cardq.send("prod", "incident/9").sent == 1
    assert [m.text for m in front.standin.messages("#team-web")] == ["incident v9"]


def test_a_card_slack_keeps_refusing_goes_to_the_dead_letters_audited(front):
    import boto3

    from chalicelib.settings import get_settings
    from chalicelib.slackkit import cardq
    from chalicelib.slackkit.store import OutboxItem

    cardq.commit("prod", "incident/5", 4, _card(5), correlation_id="c5")
    boto3.client("dynamodb").update_item(  # it failed every time but once before
        TableName=get_settings().state_table, Key={"pk": {"S": "card#prod#incident/5"}, "sk": {"S": "card"}},
        UpdateExpression="SET attempts = :a", ExpressionAttributeValues={":a": {"N": str(coalesce.MAX_ATTEMPTS - 1)}})
    front.standin.fail_next("chat.postMessage", 500, times=3)  # slack_sdk retries twice
    assert cardq.send("prod", "incident/5").dead == 1
    [dead] = [i for i in OutboxItem.query("outbox") if i.dead]
    assert dead.payload["version"] == 4 and json.dumps(dead.payload["message"]) == json.dumps(_card(5))
    from chalicelib.state import audit

    assert any("gave up" in (e.reason or "") for e in audit.for_target("message/prod/incident/5"))
    assert cardq.queued() == []
    assert cardq.commit("prod", "incident/5", 5, _card(5), correlation_id="c6")  # a newer version: queued again
    assert cardq.send("prod", "incident/5").sent == 1


# ---- fan-out: one answer for many accounts ----

def test_aggregate_lists_each_answer_and_who_did_not_answer():
    from chalicelib.frontdoor import fanout

    message = fanout.aggregate("/ops status web", ["b", "a", "c"], {"a": "web 1.2\n2 tasks", "b": "web 1.3"},
                               timed_out=True)
    assert message["text"] == "/ops status web: 2 of 3 accounts answered"
    [head, body, note] = message["blocks"]
    assert body["text"]["text"] == "*a*: web 1.2 · 2 tasks\n*b*: web 1.3"
    assert note["elements"][0]["text"] == "no answer in time from c"


def test_aggregate_of_an_organisation_fits_one_message_and_counts_what_did_not():
    from chalicelib.frontdoor import fanout

    accounts = [f"acct-{i:04d}" for i in range(2000)]
    message = fanout.aggregate("/ops status web", accounts, {a: "x" * 200 for a in accounts})
    assert len(message["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if "text" in b)
    shown = sum(b["text"]["text"].count("acct-") for b in message["blocks"][1:] if "text" in b)
    note = message["blocks"][-1]["elements"][0]["text"]
    assert f"{2000 - shown} more answers did not fit" in note


def test_a_fan_out_is_answered_once_when_every_asked_account_answered(front):
    from chalicelib.frontdoor import fanout

    url = front.standin.response_url("fan")
    fanout.begin("req-1", expected=["stage", "prod", "dev"], response_url=url, title="/ops status web",
                 user="U0DAVE0001")
    assert fanout.add("req-1", "stage", "web 1.2 in stage", correlation_id="e1") == "recorded"
    assert fanout.add("req-1", "stage", "again", correlation_id="e2") == "refused"  # one answer per account
    assert fanout.add("req-1", "qa", "not asked", correlation_id="e3") == "refused"
    assert fanout.add("req-1", "prod", "web 1.1 in prod", correlation_id="e4") == "recorded"
    assert front.standin.responses(url) == []
    assert fanout.add("req-1", "dev", "web 1.3 in dev", correlation_id="e5") == "answered"
    [answer] = front.standin.responses(url)
    assert answer["text"] == "/ops status web: 3 of 3 accounts answered"
    assert "web 1.1 in prod" in json.dumps(answer["blocks"])
    assert fanout.add("req-1", "dev", "late", correlation_id="e6") == "refused"
    assert fanout.flush_due() == 0 and len(front.standin.responses(url)) == 1


def test_a_fan_out_past_its_deadline_answers_with_what_came(front):
    from datetime import UTC, datetime, timedelta

    from chalicelib.frontdoor import fanout

    url = front.standin.response_url("fan")
    fanout.begin("req-2", expected=["stage", "prod"], response_url=url, title="/ops status web", user="U0DAVE0001")
    fanout.add("req-2", "stage", "web 1.2 in stage", correlation_id="e1")
    assert fanout.flush_due() == 0  # not due yet
    assert fanout.flush_due(datetime.now(UTC) + fanout.DEADLINE + timedelta(seconds=1)) == 1
    [answer] = front.standin.responses(url)
    assert answer["text"] == "/ops status web: 1 of 2 accounts answered"
    assert "no answer in time from prod" in json.dumps(answer["blocks"])
    assert fanout.add("req-2", "prod", "too late", correlation_id="e2") == "refused"


def test_a_command_fanned_out_to_many_accounts_gets_one_answer_end_to_end(front, bus, monkeypatch):
    """Forwarded with ``reply_to``; each peer re-authorises with its own policy and replies to the front door with a
    signed envelope; the front door answers once on the response_url."""
    from chalicelib.frontdoor import fanout
    from chalicelib.intake.pipeline import Kind, handle
    from tests.events import context
    from tests.frontdoor_kit import STAGE, answers, as_account

    monkeypatch.setattr(fanout, "FANOUT_AT", 2)  # stage and prod stand for an organisation's many accounts
    front.command("audit web 3", user="dave")
    front.runner.drain()
    forwarded = bus()
    assert sorted(e["detail"]["to_account"] for e in forwarded) == [STAGE, "333344445555"]
    assert {e["detail"]["payload"]["reply_to"] for e in forwarded} == {forwarded[0]["detail"]["payload"]["request_id"]}
    for event in forwarded:  # each peer runs it (its own policy) and replies to the front door
        as_account(monkeypatch, "stage" if event["detail"]["to_account"] == STAGE else "prod")
        outcome = handle(Kind.PEER, {**event, "account": "111122223333"}, context())
        assert outcome["outcome"] == "processed", outcome
    assert answers(front) == []  # no account posted on the response_url itself
    replies = [e for e in bus() if e["detail"]["flow"] == "reply"]
    assert len(replies) == 2
    as_account(monkeypatch, "shared-services")
    for event in replies:  # as EventBridge delivers them: from each peer's account, signed with its key
        outcome = handle(Kind.PEER, {**event, "account": event["detail"]["envelope"]["sender"]}, context())
        assert outcome["outcome"] == "processed", outcome
    [answer] = answers(front)
    assert "2 of 2 accounts answered" in answer
    assert "Audit in stage (stage) for web" in answer and "Audit in prod (prod) for web" in answer


def test_the_outbox_sends_only_the_newest_kept_update_of_a_message(front):
    from chalicelib.slackkit import slack

    posted = slack.web().chat_postMessage(channel="#team-web", text="v1")
    front.standin.fail_next("chat.update", 500, times=6)  # two updates fail (each with slack_sdk's two retries)
    for n in (2, 3):
        assert not slack.deliver("chat.update", {"channel": posted["channel"], "ts": posted["ts"], "text": f"v{n}"},
                                 correlation_id=f"c{n}", target="t")
    counts = slack.retry_outbox()
    assert (counts["delivered"], counts["superseded"]) == (1, 1)
    [message] = front.standin.messages("#team-web")
    assert message.text == "v3" and message.updated == 1  # v2 was never sent over v3


def test_a_cards_post_and_its_updates_spend_one_channel_budget(front, monkeypatch):
    from chalicelib.slackkit import cardq

    frozen = cardq.time.time()
    monkeypatch.setattr(cardq.time, "time", lambda: frozen)
    cardq.commit("prod", "incident/7", 1, _card(1), correlation_id="c1")
    assert cardq.send("prod", "incident/7").sent == 1  # posted in #team-web (Slack answers with the channel's id)
    cardq.commit("prod", "incident/7", 2, _card(2), correlation_id="c2")
    assert cardq.send("prod", "incident/7").sent == 1  # its first update: the channel's burst of two
    cardq.commit("prod", "incident/7", 3, _card(3), correlation_id="c3")
    assert cardq.send("prod", "incident/7").waiting == 1  # the same channel's bucket: a second later
    monkeypatch.setattr(cardq.time, "time", lambda: frozen + 1.0)
    assert cardq.send("prod", "incident/7").sent == 1
    assert [m.text for m in front.standin.messages("#team-web")] == ["incident v3"]
