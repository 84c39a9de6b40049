"""One card per promotion across accounts: prod goes on in the message stage posted under the same key (through
the real front door and the Slack stand-in)."""

from __future__ import annotations

import json

from chalicelib.decisions import service as decisions
from chalicelib.slackkit import keyed
from chalicelib.slackkit.store import MessageRef

KEY = "promotion:abc123def0"


def message(text: str) -> dict:
    return {"channel": "#team-web", "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def test_prod_goes_on_in_stages_card_and_a_late_stage_update_cannot_overwrite_it(front):
    keyed.announce_keyed("stage", KEY, message("web 4f1c2a9: soaking"), correlation_id="t",
                                 grant_to="prod")  # the owner lets prod go on in its card
    keyed.announce_keyed("prod", KEY, message("web 4f1c2a9: awaiting approval"), correlation_id="t",
                                 continues="stage")
    keyed.announce_keyed("stage", KEY, message("web 4f1c2a9: handed to prod"), correlation_id="t")
    [card] = front.standin.messages("#team-web")
    assert card.text == "web 4f1c2a9: awaiting approval"
    assert MessageRef.get(f"message#stage#{KEY}", "message").handed_to == "prod"
    keyed.announce_keyed("prod", KEY, message("web 4f1c2a9: promoted"), correlation_id="t",
                                 continues="stage")
    [card] = front.standin.messages("#team-web")
    assert card.text == "web 4f1c2a9: promoted"


def test_an_approval_card_asked_before_any_announcement_takes_the_message_over_too(front):
    keyed.announce_keyed("stage", KEY, message("web 4f1c2a9: handed to prod"), correlation_id="t",
                                 grant_to="prod")
    item = decisions.request(capability="promotion", title="Promote web 4f1c2a9 to prod", summary="s",
                             environment="prod", requester="system", channel="#team-web", correlation_id="t",
                             payload={"app": "web", "id": "abc123def0"}, origin="prod", required=2,
                             decision_id="pro-abc123def0", key=KEY, continues="stage",
                             blocks=message("web 4f1c2a9: awaiting approval")["blocks"])
    [card] = front.standin.messages("#team-web")
    assert (item.channel, item.ts) == (card.channel, card.ts)
    assert "awaiting approval" in json.dumps(card.blocks) and "decision_approve" in json.dumps(card.blocks)


def test_without_a_previous_card_there_is_nothing_to_take_over(front):
    keyed.announce_keyed("prod", KEY, message("web 4f1c2a9: awaiting approval"), correlation_id="t",
                                 continues="stage")
    keyed.announce_keyed("stage", "promotion:other", message("other"), correlation_id="t")
    assert [m.text for m in front.standin.messages("#team-web")] == ["web 4f1c2a9: awaiting approval", "other"]
