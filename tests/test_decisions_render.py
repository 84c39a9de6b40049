"""What a decision looks like in Slack (chalicelib/decisions/render.py), and the one rendering of "who"
(``slackkit.mrkdwn.who``): pure functions over plain data, table-tested."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.decisions import render
from chalicelib.slackkit import mrkdwn
from chalicelib.slackkit.mrkdwn import who

ALICE, BOB, CAROL = "U0ALICE001", "U0BOB00001", "W0CAROL001"


@pytest.mark.parametrize(("actor", "kwargs", "shown"), [
    (ALICE, {}, f"<@{ALICE}>"),  # a Slack user id: a mention
    (CAROL, {}, f"<@{CAROL}>"),  # enterprise (W…) ids too
    ("system", {}, "Switchboard"),  # Switchboard itself
    (None, {}, "Switchboard"),
    (None, {"unknown": "someone"}, "someone"),
    ("", {"unknown": "someone"}, "someone"),
    ("system", {"unknown": "someone"}, "Switchboard"),
    ("alice@example.com", {}, "alice@example.com"),  # not an id: text, never a mention
    ("<!channel>", {}, "&lt;!channel&gt;"),  # escaped: no broadcast
    ("<@U0BOSS01>", {}, "&lt;@U0BOSS01&gt;"),  # a mention in disguise stays text
    ("u0alice001", {}, "u0alice001"),  # ids are upper case: this is a name
    ("evil\u202etxt.exe", {}, "evil[U+202E]txt.exe"),  # invisible characters shown
    ("x" * 100, {"limit": 20}, "x" * (20 - len(mrkdwn.MARKER)) + mrkdwn.MARKER),
])
def test_who(actor: str | None, kwargs: dict[str, Any], shown: str):
    assert who(actor, **kwargs) == shown


def _d(**changes: Any) -> dict[str, Any]:
    """A decision as plain data (``Decision.as_dict()``)."""
    return {"id": "sca-1a2b3c", "capability": "scaling", "title": "api 4 -> 2 in prod", "summary": "night",
            "environment": "prod", "role": "approver", "requester": ALICE, "author": None, "state": "pending",
            "required": 1, "approvals": [], "decided_by": None, "decided_at": None, "deadline": None} | changes


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    out = []
    for b in blocks:
        if b["type"] in ("section", "header"):
            out.append(b["text"]["text"])
        elif b["type"] == "context":
            out.append(" ".join(e["text"] for e in b["elements"]))
        elif b["type"] == "actions":
            out.append(" | ".join(e["text"]["text"] + "=" + e["value"] for e in b["elements"]))
    return out


@pytest.mark.parametrize(("decision", "footer"), [
    (_d(), ["Approve=sca-1a2b3c | Reject=sca-1a2b3c", "id `sca-1a2b3c` · scaling"]),
    (_d(required=2, approvals=[BOB]),
     [f"*1 of 2 approvals: <@{BOB}>*", "Approve=sca-1a2b3c | Reject=sca-1a2b3c", "id `sca-1a2b3c` · scaling"]),
    (_d(deadline="2026-11-21T10:00:00+00:00"),
     ["*Expires at:* 2026-11-21 10:00 UTC", "Approve=sca-1a2b3c | Reject=sca-1a2b3c", "id `sca-1a2b3c` · scaling"]),
    (_d(state="approved", approvals=[BOB], decided_by=BOB, decided_at="2026-11-21 10:00 UTC"),
     [f"*Approved* by <@{BOB}> at 2026-11-21 10:00 UTC", "id `sca-1a2b3c` · scaling"]),
    (_d(state="approved", required=2, approvals=[BOB, CAROL], decided_by=CAROL, decided_at="t"),
     [f"*Approved* by <@{BOB}>, <@{CAROL}> at t", "id `sca-1a2b3c` · scaling"]),
    (_d(state="rejected", decided_by=BOB, decided_at="t"),
     [f"*Rejected* by <@{BOB}> at t", "id `sca-1a2b3c` · scaling"]),
    (_d(state="expired", decided_by="system", decided_at="2026-11-21 10:00 UTC"),
     ["*Expired* at 2026-11-21 10:00 UTC", "id `sca-1a2b3c` · scaling"]),
    (_d(state="expired", required=2, approvals=[BOB], decided_at="t"),
     [f"*Expired* at t (1 of 2 approvals: <@{BOB}>)", "id `sca-1a2b3c` · scaling"]),
])
def test_a_card_is_its_body_then_a_footer_for_the_decisions_state(decision: dict[str, Any], footer: list[str]):
    card = render.card(decision)
    assert _texts(card[:2]) == ["Approval needed", "\n".join([
        "*api 4 -&gt; 2 in prod*", "*What:* night", "*Environment:* prod   *Needs:* approver",
        f"*Requested by:* <@{ALICE}>"])]
    assert _texts(card[2:]) == footer
    assert card == [*render.body(decision), *render.with_footer([], decision)]


@pytest.mark.parametrize(("decision", "text", "already"), [
    (_d(), "Approval needed: api 4 -&gt; 2 in prod", None),
    (_d(state="approved", decided_by=BOB, decided_at="t"), "approved: api 4 -&gt; 2 in prod",
     f"already approved by <@{BOB}> at t"),
    (_d(state="rejected", decided_by=BOB, decided_at="t"), "rejected: api 4 -&gt; 2 in prod",
     f"already rejected by <@{BOB}> at t"),
    (_d(state="expired", decided_by="system", decided_at="t"), "expired: api 4 -&gt; 2 in prod",
     "this approval expired at t"),
])
def test_text_and_what_a_late_click_is_told(decision: dict[str, Any], text: str, already: str | None):
    assert render.text(decision) == text
    if already is not None:
        assert render.already(decision) == already


@pytest.mark.parametrize(("approvals", "required", "line"), [
    ([], 1, "0 of 1 approvals"),
    ([BOB], 2, f"1 of 2 approvals: <@{BOB}>"),
    (["not-an-id"], 2, "1 of 2 approvals: not-an-id"),  # never a mention of something that is not an id
])
def test_progress(approvals: list[str], required: int, line: str):
    assert render.progress(_d(approvals=approvals, required=required)) == line


def test_a_message_keeps_the_capabilitys_body_and_text_and_cuts_the_body_never_the_footer():
    body = [{"type": "section", "text": {"type": "mrkdwn", "text": f"line {i}"}} for i in range(60)]
    shown = render.message(_d(), body, "web 9f2c1e7 to prod")
    assert shown["text"] == "web 9f2c1e7 to prod"
    assert len(shown["blocks"]) == mrkdwn.BLOCKS_PER_MESSAGE
    assert shown["blocks"][-2:] == render.with_footer([], _d())
    assert render.message(_d())["blocks"] == render.card(_d())  # no body of its own: the decision's
    assert render.message(_d())["text"] == render.text(_d())


def test_outside_text_in_a_card_is_escaped():
    card = json.dumps(render.card(_d(title="<!here>", summary="<https://x|y>", author="<@U0BOSS01>",
                                     requester="<!channel>")))
    assert "<!here>" not in card and "<https://x" not in card and "<@U0BOSS01>" not in card
    assert "<!channel>" not in card
