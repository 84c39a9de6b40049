"""The organisation simulator at a small N (fast; no timing assertions): nothing lost, no channel above Slack's
limit, an older card version never shown over a newer one, the fan-out answered once."""

from __future__ import annotations

import pytest


@pytest.fixture
def simulated(aws):
    from localworld import simulate

    return simulate.run(6, rate=200.0, updates=3, workers=4, moto_url=aws.url, settle_timeout=120)


def test_a_small_organisation_loses_nothing_and_stays_under_slacks_limits(simulated):
    from localworld.slack.limits import CHANNEL_BURST

    report = simulated
    assert report.events == 6 * 3 + 2 * 5 + 6  # alarm cards, two promotions, one fan-out's replies
    assert report.lost == 0 and report.late == 0, report.lost_detail
    assert report.older_over_newer == 0
    assert 0 < report.max_calls_per_channel_second <= CHANNEL_BURST
    assert report.fanouts == 1 and report.fanout_replies == 1  # six accounts, one answer
    assert report.dynamodb_writes > 0 and 0 < report.hottest_share < 1


def test_the_storm_is_planned_per_card_in_order_with_some_overtaking():
    from localworld import simulate

    events = simulate.plan(10, rate=100.0, updates=4)
    cards = [e.card for e in events if e.card]
    assert len(cards) == 10 * 4 + 2 * 5
    delivered = {}
    overtaken = 0
    for origin, key, version in cards:
        overtaken += version < delivered.get((origin, key), 0)
        delivered[(origin, key)] = max(delivered.get((origin, key), 0), version)
    assert overtaken > 0  # EventBridge does not keep order: the front door must
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_bad_numbers_are_refused_naming_them():
    from localworld import simulate

    with pytest.raises(ValueError, match="--accounts must be positive, not 0"):
        simulate.run(0, rate=1.0)


@pytest.mark.parametrize(("messages", "queued", "late", "wrong"), [
    ([("[card a incident/1 v4]", False)], set(), 0, []),
    # a duplicate first post the card queue deleted shows nothing: the card is the one live message
    ([("[card a incident/1 v1]", True), ("[card a incident/1 v4]", False)], set(), 0, []),
    ([("[card a incident/1 v4]", False), ("[card a incident/1 v1]", True)], set(), 0, []),
    ([("[card a incident/1 v1]", False), ("[card a incident/1 v4]", False)], set(), 0,
     ["a incident/1: 2 messages in Slack (v1, v4)"]),
    ([("[card a incident/1 v2]", False)], set(), 0, ["a incident/1: Slack shows v2, newest v4"]),
    ([("[card a incident/1 v2]", False)], {("a", "incident/1")}, 1, []),  # still queued: late, not lost
    ([], set(), 0, ["a incident/1: Slack shows nothing, newest v4"]),
])
def test_what_slack_ends_up_showing_for_a_card(messages, queued, late, wrong):
    from localworld.simulate import card_outcomes

    assert card_outcomes(messages, {("a", "incident/1"): 4}, queued) == (late, wrong)
