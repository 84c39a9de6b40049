"""Cards through the card queue, and deliver() within the send budget, against the rate-limited Slack stand-in: a
card is sent at once when its channel's budget allows, else it waits queued and the card drain (``slack_cards``,
``cardq.run``) sends its newest version; an older version never shows over a newer one; a 429 is waited out in the
queue, never in a sleeping Lambda; deliver() keeps what the budget says must wait and the drain sends it later."""

from __future__ import annotations

import json
import re

import pytest


class Wall:
    """The send budget's wall clock, moved by hand (``pacing.wall`` reads it); ``sleep`` moves it as a sleep would."""

    def __init__(self, at: float = 1_800_000_000.0):
        self.at = at
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += seconds


@pytest.fixture
def wall(front, monkeypatch):
    from chalicelib.slackkit import pacing

    clock = Wall()
    monkeypatch.setattr(pacing, "wall", clock)
    return clock


def _card(version: int, channel: str = "#team-web") -> dict:
    return {"channel": channel, "text": f"card v{version}", "blocks": []}


def shown(front, channel: str = "#team-web") -> list[list[int]]:
    """Each message of the channel: the versions Slack showed, in order (its history, then what it shows now)."""
    found = []
    for message in front.standin.messages(channel):
        texts = [h["text"] for h in message.history] + [message.text]
        found.append([int(m.group(1)) for t in texts if (m := re.fullmatch(r"card v(\d+)", t or ""))])
    return found


# ---- an older version never overwrites a newer one ----

# steps: an int commits that version (and tries to send it at once, as the intake does); "drain" is the card
# drain's run a second later; "later" moves the wall clock a second
@pytest.mark.parametrize(("steps", "slack_shows"), [
    ([1, 2, "drain"], [1, 2]),  # a post and its update: the channel's burst, both at once
    ([1, 2, 3, "drain"], [1, 2, 3]),  # the third waits for the budget: the drain sends it
    ([1, 2, 4, 3, "drain"], [1, 2, 4]),  # 3 arrives after 4: superseded, never sent
    ([1, 2, 3, 5, 4, "drain"], [1, 2, 5]),  # 3 waited, 5 replaced it before the drain; 4 came late
    ([3, 1, 2, "drain"], [3]),  # delivered out of order: the first to arrive was the newest
    ([1, "later", 1, "drain"], [1]),  # the same version again (a redelivery): committed once, sent once
    ([1, 2, "later", 2, 3, "drain"], [1, 2, 3]),
])
def test_an_older_version_never_shows_over_a_newer_one(front, wall, steps, slack_shows):
    from chalicelib.slackkit import cardq

    for step in steps:
        if step == "drain":
            wall.at += 1.0
            assert cardq.run(sleep=wall.sleep).errors == 0
        elif step == "later":
            wall.at += 1.0
        else:
            cardq.announce("prod", "incident/1", step, _card(step), correlation_id=f"c{step}")
    assert shown(front) == [slack_shows]
    assert cardq.queued() == []


def test_a_storm_of_updates_to_one_card_sends_the_newest_only_in_order(front, wall):
    from chalicelib.slackkit import cardq

    sent_at_once = [cardq.announce("prod", "incident/7", v, _card(v), correlation_id=f"c{v}").sent
                    for v in range(1, 31)]  # thirty versions within one second (the wall clock does not move)
    assert sum(sent_at_once) == 2  # the post and one update: the channel's burst; 28 versions waited
    assert shown(front) == [[1, 2]]
    assert len(cardq.queued()) == 1  # one card queued, holding only its newest version
    result = cardq.run(sleep=wall.sleep)  # the card drain: waits out the budget within its run, then sends
    assert result.sent == 1 and wall.slept and sum(wall.slept) <= 1.0
    assert shown(front) == [[1, 2, 30]]  # v3..v29 never sent: coalesced; never an older one after a newer
    assert len([c for c in front.standin.calls if c.method.startswith("chat.")]) == 3
    assert cardq.queued() == []


def test_a_429_from_slack_makes_the_card_wait_and_the_drain_delivers_it_within_its_minute(front, wall):
    from chalicelib.slackkit import cardq

    front.standin.fail_next("chat.postMessage", 429, retry_after=7)
    result = cardq.announce("prod", "incident/9", 1, _card(1), correlation_id="c1")
    assert (result.sent, result.ratelimited) == (0, 1)  # no sleeping here: the card waits in the queue
    assert front.standin.messages("#team-web") == [] and len(cardq.queued()) == 1
    assert cardq.drain().sent == 0  # not before its Retry-After
    result = cardq.run(sleep=wall.sleep)  # the slack_cards run: waits the 7 s out within its run
    assert result.sent == 1 and 6.0 <= sum(wall.slept) <= cardq.DRAIN_SECONDS
    assert shown(front) == [[1]] and cardq.queued() == []


def test_a_wait_longer_than_the_run_is_left_for_the_next_run(front, wall):
    from chalicelib.slackkit import cardq

    front.standin.fail_next("chat.postMessage", 429, retry_after=50)
    cardq.announce("prod", "incident/3", 1, _card(1), correlation_id="c1")
    result = cardq.run(sleep=wall.sleep)
    assert result.sent == 0 and wall.slept == [] and len(cardq.queued()) == 1  # not slept: the next minute's run
    wall.at += 60.0
    assert cardq.run(sleep=wall.sleep).sent == 1
    assert shown(front) == [[1]]


def test_the_card_drain_function_runs_the_queue_in_the_front_door_only(front, wall, monkeypatch):
    from chalicelib.slackkit import cardq
    from tests.events import context
    from tests.frontdoor_kit import as_account

    front.standin.fail_next("chat.postMessage", 429, retry_after=2)
    cardq.announce("prod", "incident/4", 1, _card(1), correlation_id="c1")
    monkeypatch.setattr(cardq.time, "sleep", wall.sleep)
    scheduled = {"version": "0", "id": "tick-1", "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": "111122223333", "time": "2026-12-01T12:00:00Z", "region": "eu-west-1",
                 "resources": [], "detail": {}}
    assert front.app.slack_cards(scheduled, context()) == {"sent": 1}  # app.py's, as its schedule invokes it
    assert shown(front) == [[1]]
    as_account(monkeypatch, "prod")
    monkeypatch.setattr(cardq, "drain", lambda *a, **k: pytest.fail("nothing is queued outside the front door"))
    from chalicelib.capabilities import run_function

    assert run_function("slack_cards") == {}


# ---- deliver() within the budget ----

def test_deliver_under_a_spent_budget_keeps_the_message_and_the_drain_sends_it(front, wall):
    from chalicelib.slackkit import cardq, slack

    for n in (1, 2):  # the channel's burst
        assert slack.deliver("chat.postMessage", {"channel": "#team-web", "text": f"card v{n}"},
                             correlation_id=f"c{n}", target="channel/#team-web")
    assert not slack.deliver("chat.postMessage", {"channel": "#team-web", "text": "card v3"}, correlation_id="c3",
                             target="channel/#team-web")  # the budget says wait: kept, not slept
    assert shown(front) == [[1], [2]]
    [(origin, _, channel, _)] = cardq.queued()
    assert (origin, channel) == (cardq.DELIVER, "#team-web")
    from chalicelib.slackkit.store import OutboxItem

    assert list(OutboxItem.query(slack.OUTBOX)) == []  # not a failure: nothing for the five-minute outbox
    assert cardq.run(sleep=wall.sleep).sent == 1
    assert shown(front) == [[1], [2], [3]] and cardq.queued() == []


def test_deliver_never_sleeps_out_a_429_and_a_later_update_waits_behind_the_kept_one(front, wall):
    from chalicelib.slackkit import cardq, slack

    posted = slack.web().chat_postMessage(channel="#team-web", text="card v1")
    message = {"channel": posted["channel"], "ts": posted["ts"]}
    front.standin.fail_next("chat.update", 429, retry_after=5)
    assert not slack.deliver("chat.update", {**message, "text": "card v2"}, correlation_id="c2", target="t")
    wall.at += 10.0  # the Retry-After is over, but v2 still waits in the queue: v3 must not overtake it
    assert not slack.deliver("chat.update", {**message, "text": "card v3"}, correlation_id="c3", target="t")
    assert shown(front, posted["channel"]) == [[1]]
    assert len(cardq.queued()) == 1  # one kept call per message: v3 replaced v2
    assert cardq.run(sleep=wall.sleep).sent == 1
    assert shown(front, posted["channel"]) == [[1, 3]]  # v2 was never sent over v3
    assert slack.deliver("chat.update", {**message, "text": "card v4"}, correlation_id="c4", target="t")
    assert shown(front, posted["channel"]) == [[1, 3, 4]]


def test_a_response_url_spends_no_channel_budget(front, wall):
    from chalicelib.slackkit import budget, cardq, slack

    for n in (1, 2):
        slack.deliver("chat.postMessage", {"channel": "#team-web", "text": f"card v{n}"}, correlation_id="c",
                      target="t")
    url = front.standin.response_url("r1")
    assert slack.deliver("response_url", {"url": url, "text": "answer"}, correlation_id="c", target="t")
    assert budget.names_for_call("response_url", "#team-web") == [] and cardq.queued() == []
    assert [r["text"] for r in front.standin.responses(url)] == ["answer"]


# ---- promotion cards: versioned, with continues / grant_to, through the queue ----

def _promo(text: str) -> dict:
    return {"channel": "#team-web", "text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                                                         "text": text}}]}


def test_a_versioned_promotion_card_goes_on_across_accounts_and_a_late_version_is_dropped(front, wall):
    from chalicelib.slackkit import cardq

    key = "promotion:abc123def0"
    assert cardq.announce("stage", key, 1, _promo("soaking"), correlation_id="t", options={"grant_to": "prod"}).sent
    assert cardq.announce("prod", key, 1, _promo("awaiting approval"), correlation_id="t",
                          options={"continues": "stage"}).sent
    wall.at += 1.0
    assert cardq.announce("prod", key, 3, _promo("promoted"), correlation_id="t", options={"continues": "stage"}).sent
    late = cardq.announce("prod", key, 2, _promo("deploying"), correlation_id="t", options={"continues": "stage"})
    assert late.superseded and not late.sent  # an earlier step, late: never shown over "promoted"
    wall.at += 1.0
    cardq.announce("stage", key, 2, _promo("handed to prod"), correlation_id="t", options={"grant_to": "prod"})
    [card] = front.standin.messages("#team-web")
    assert card.text == "promoted"  # stage's late update of the card prod took over is dropped by keyed
    assert cardq.queued() == []


def test_a_versioned_card_that_takes_over_without_a_grant_is_refused(front, wall):
    from chalicelib.slackkit import cardq

    key = "promotion:abc123def0"
    cardq.announce("stage", key, 1, _promo("soaking"), correlation_id="t")  # no grant_to
    refused = cardq.announce("prod", key, 1, _promo("awaiting approval"), correlation_id="t",
                             options={"continues": "stage"})
    assert refused.refused and "did not grant" in refused.refused and not refused.sent
    assert [m.text for m in front.standin.messages("#team-web")] == ["soaking"]
    assert cardq.queued() == []  # refused once, audited, not retried every minute


# ---- first posts whose ts is needed (keyed messages, decision cards): within the budget, queued, never lost ----

def _spend(channel: str = "#team-web") -> None:
    """Spend the channel's send budget (its burst): the next write to it must wait."""
    from chalicelib.slackkit import budget, pacing

    while pacing.spend(budget.names_for("chat.postMessage", channel)) == 0.0:
        pass


def _ask(**overrides):
    from chalicelib.decisions import service as decisions
    from tests.frontdoor_kit import uid

    fields = {"capability": "scaling", "title": "web 4 -> 2 in prod", "summary": "scale web", "environment": "prod",
              "requester": uid("alice"), "author": "dan@acme.example", "channel": "#team-web",
              "correlation_id": "t", "payload": {"app": "web"}} | overrides
    return decisions.request(**fields)


def test_a_scaling_announcement_under_a_spent_budget_waits_queued_and_its_end_updates_the_same_message(front, wall):
    from chalicelib.slackkit import announcements, cardq

    _spend()
    key = "scaling/web/req-1"  # scaling's keyed announcements (unversioned): a change, then its end
    announcements.announce(channel="#team-web", text="card v1", key=key, correlation_id="c1")
    announcements.announce(channel="#team-web", text="card v2", key=key, correlation_id="c2")
    assert front.standin.messages("#team-web") == [] and len(cardq.queued()) == 1  # waiting, not lost nor slept
    assert cardq.run(sleep=wall.sleep).sent == 1 and wall.slept  # the drain waits out the budget, then posts
    assert shown(front) == [[2]]  # the newest, in arrival order (the counter gave them versions 1 and 2)
    wall.at += 1.0
    announcements.announce(channel="#team-web", text="card v3", key=key, correlation_id="c3")
    assert shown(front) == [[2, 3]] and cardq.queued() == []  # the end updates the message the drain posted


def test_a_peers_keyed_announcement_under_a_spent_budget_is_queued_and_posted_by_the_drain(front, wall, bus,
                                                                                           monkeypatch):
    from chalicelib.slackkit import announcements, cardq
    from tests.frontdoor_kit import PROD, as_account
    from tests.test_frontdoor_flows import deliver

    def say(text: str) -> dict:
        as_account(monkeypatch, "prod")
        announcements.announce(channel="#team-web", text=text, key="scaling/web/req-2", correlation_id="c")
        [event] = bus()
        as_account(monkeypatch, "shared-services")
        return deliver(event, PROD)

    _spend()
    assert say("card v1")["outcome"] == "processed"
    assert front.standin.messages("#team-web") == [] and len(cardq.queued()) == 1
    assert cardq.run(sleep=wall.sleep).sent == 1
    wall.at += 1.0
    say("card v2")
    assert shown(front) == [[1, 2]] and cardq.queued() == []


def test_a_429_on_a_keyed_messages_first_post_makes_it_wait_not_fail(front, wall):
    from chalicelib.slackkit import announcements, cardq

    front.standin.fail_next("chat.postMessage", 429, retry_after=5)
    announcements.announce(channel="#team-web", text="card v1", key="scaling/web/req-3", correlation_id="c1")
    assert front.standin.messages("#team-web") == [] and len(cardq.queued()) == 1  # no sleeping, no failure
    assert cardq.drain().sent == 0  # not before its Retry-After
    assert cardq.run(sleep=wall.sleep).sent == 1 and sum(wall.slept) >= 5.0
    wall.at += 1.0
    announcements.announce(channel="#team-web", text="card v2", key="scaling/web/req-3", correlation_id="c2")
    assert shown(front) == [[1, 2]] and cardq.queued() == []


def test_a_decision_card_under_a_spent_budget_is_posted_by_the_drain_and_its_buttons_decide(front, wall):
    from chalicelib.decisions import store as decision_store
    from chalicelib.slackkit import cardq

    _spend()
    item = _ask()
    assert item.state == "pending" and item.ts is None and front.standin.messages("#team-web") == []
    assert len(cardq.queued()) == 1  # the card's post waits in the card queue: the decision stays pending
    assert cardq.run(sleep=wall.sleep).sent == 1
    [card] = front.standin.messages("#team-web")
    stored = decision_store.get(item.id)
    assert (stored.channel, stored.ts) == (card.channel, card.ts)  # where its clicks decide
    wall.at += 1.0
    assert front.click("decision_approve", item.id, "bob").status_code == 200
    front.runner.drain()
    assert decision_store.get(item.id).state == "approved"
    [card] = front.standin.messages("#team-web")
    assert card.updated >= 1 and "Approved" in json.dumps(card.blocks)  # the drain's message shows the verdict


def test_a_keyed_decision_card_and_its_announcement_wait_in_order_and_land_on_one_message(front, wall):
    from chalicelib.decisions import store as decision_store
    from chalicelib.slackkit import announcements, cardq, keyed

    _spend()
    key = "scaling/web/req-4"
    item = _ask(key=key, decision_id="sca-req4abcd", blocks=[{"type": "section",
                                                               "text": {"type": "mrkdwn", "text": "asked"}}])
    announcements.announce(channel="#team-web", text="card v1", blocks=[{"type": "section", "text": {
        "type": "mrkdwn", "text": "body v1"}}], key=key, decision_id=item.id, correlation_id="c1")
    assert front.standin.messages("#team-web") == [] and len(cardq.queued()) == 2  # both wait
    cardq.run(sleep=wall.sleep)
    [card] = front.standin.messages("#team-web")  # one message: the card, with the later announcement's body
    assert "body v1" in json.dumps(card.blocks) and "decision_approve" in json.dumps(card.blocks)
    ref = keyed.message_ref("shared-services", key)
    stored = decision_store.get(item.id)
    assert (ref.channel, ref.ts, ref.decision_id) == (card.channel, card.ts, item.id)
    assert (stored.channel, stored.ts) == (card.channel, card.ts) and cardq.queued() == []
    wall.at += 1.0
    assert front.click("decision_reject", item.id, "bob").status_code == 200
    front.runner.drain()
    assert decision_store.get(item.id).state == "rejected"
    [card] = front.standin.messages("#team-web")
    assert "body v1" in json.dumps(card.blocks) and "decision_approve" not in json.dumps(card.blocks)


def test_two_first_posts_of_one_key_at_once_leave_one_message_with_the_newest_content(front, wall, monkeypatch):
    from chalicelib.slackkit import announcements, cardq, keyed, slack

    key = "scaling/web/req-5"
    real = keyed.saved_first

    def raced(origin, key_, answer, *args, **kwargs):  # another first post of the key is saved just before ours
        if keyed.message_ref(origin, key_) is None:
            other = slack.web().chat_postMessage(channel="#team-web", text="card v0")
            keyed.save_ref(origin, key_, other["channel"], other["ts"])
        return real(origin, key_, answer, *args, **kwargs)

    monkeypatch.setattr(keyed, "saved_first", raced)
    announcements.announce(channel="#team-web", text="card v1", key=key, correlation_id="c1")
    assert len(cardq.queued()) == 1  # ours was the duplicate: deleted, and v1 goes as the other's update
    wall.at += 1.0
    cardq.run(sleep=wall.sleep)
    ours, other = front.standin.messages("#team-web")
    assert ours.deleted and not other.deleted  # one message for the key, showing the newest content
    assert ([h["text"] for h in other.history] + [other.text]) == ["card v0", "card v1"] and cardq.queued() == []
