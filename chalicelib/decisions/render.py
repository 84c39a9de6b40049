"""What a decision looks like in Slack: pure functions from a decision as plain data (``Decision.as_dict()``) to
text and Block Kit blocks. Every outside text goes through ``mrkdwn.safe``; people are rendered by ``mrkdwn.who``.

A card is a *body* (the decision's own, or the blocks its capability sent) and a *footer* the front door appends:
progress and Approve / Reject buttons while pending, else the verdict; then the id to type (``/ops approve <id>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, HeaderBlock, PlainTextObject

from chalicelib.slackkit import blocks, mrkdwn
from chalicelib.slackkit.mrkdwn import who


def _body(d: dict[str, Any]) -> list[Any]:
    return [
        HeaderBlock(text=PlainTextObject(text="Approval needed")),
        blocks.section("\n".join([
            f"*{mrkdwn.safe(d['title'], 300)}*",
            f"*What:* {mrkdwn.safe(d['summary'], 1000)}",
            f"*Environment:* {mrkdwn.safe(d['environment'], 100)}   *Needs:* {mrkdwn.safe(d['role'], 50)}",
            f"*Requested by:* {who(d['requester'])}" + (f"   *Author:* {mrkdwn.safe(d['author'], 200)}"
                                                       if d.get("author") else ""),
        ])),
    ]


def _mentions(users: Sequence[str]) -> str:
    return ", ".join(who(u) for u in users)


def progress(d: dict[str, Any]) -> str:
    """``1 of 2 approvals: <@U…>`` (safe mrkdwn: the ids are checked, the mentions kept)."""
    approvals = list(d.get("approvals") or [])
    required = int(d.get("required") or 1)
    line = f"{len(approvals)} of {required} approvals"
    return f"{line}: {_mentions(approvals)}" if approvals else line


def _footer(d: dict[str, Any]) -> list[Any]:
    """What the front door adds under a decision's card body: progress and buttons while pending, else the
    verdict; then the id to type (``/ops approve <id>``)."""
    state = d.get("state", "pending")
    required = int(d.get("required") or 1)
    approvals = list(d.get("approvals") or [])
    found: list[Any] = []
    if state == "pending":
        notes = []
        if required > 1:
            notes.append(f"*{progress(d)}*")
        if d.get("deadline"):
            notes.append(f"*Expires at:* {mrkdwn.safe(blocks.stamp(d['deadline']), 40)}")
        if notes:
            found.append(blocks.section("   ".join(notes)))
        found.append(ActionsBlock(block_id=f"decision:{d['id']}", elements=[
            ButtonElement(text="Approve", action_id="decision_approve", value=d["id"], style="primary"),
            ButtonElement(text="Reject", action_id="decision_reject", value=d["id"], style="danger"),
        ]))
    elif state == "expired":
        so_far = f" ({progress(d)})" if required > 1 or approvals else ""
        found.append(blocks.section(f"*Expired* at {mrkdwn.safe(d.get('decided_at') or '?', 40)}{so_far}"))
    else:
        verb = "Approved" if state == "approved" else "Rejected"
        by = _mentions(approvals) if state == "approved" and len(approvals) > 1 else who(d["decided_by"])
        found.append(blocks.section(f"*{verb}* by {by} at {mrkdwn.safe(d['decided_at'], 40)}"))
    found.append(blocks.context(f"id `{mrkdwn.escape(d['id'])}` · {mrkdwn.safe(d['capability'], 40)}"))
    return found


def card(d: dict[str, Any]) -> list[dict[str, Any]]:
    """A request for approval with Approve / Reject buttons whose values carry the decision id."""
    return blocks.as_dicts([*_body(d), *_footer(d)])


def body(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's own body (what a decision shows when its capability sent no body of its own)."""
    return blocks.as_dicts(_body(d))


def with_footer(body: Sequence[dict[str, Any]], d: dict[str, Any]) -> list[dict[str, Any]]:
    """A capability's card body (already-safe Block Kit dicts) with the decision's footer appended. The body is
    cut, never the footer, to stay within Block Kit's 50 blocks."""
    footer = blocks.as_dicts(_footer(d))
    return [*list(body)[: mrkdwn.BLOCKS_PER_MESSAGE - len(footer)], *footer]


def text(d: dict[str, Any]) -> str:
    """The message's notification text: ``Approval needed: <title>`` while pending, else ``<verdict>: <title>``."""
    title = mrkdwn.safe(d["title"], 300)
    return f"Approval needed: {title}" if d.get("state", "pending") == "pending" else f"{d['state']}: {title}"


def message(d: dict[str, Any], given_body: Sequence[dict[str, Any]] | None = None,
            given_text: str | None = None) -> dict[str, Any]:
    """A card's whole message: the capability's ``given_body`` (else the decision's own body) with the footer, and
    ``given_text`` (else ``text(d)``) as its notification text."""
    return {"text": given_text or text(d),
            "blocks": with_footer(given_body if given_body is not None else body(d), d)}


def already(d: dict[str, Any]) -> str:
    """What a click on a decided decision is told."""
    if d.get("state") == "expired":
        return f"this approval expired at {d.get('decided_at')}"
    return f"already {d['state']} by {who(d.get('decided_by'))} at {d.get('decided_at')}"
