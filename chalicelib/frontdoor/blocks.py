"""Block Kit messages the front door sends, built with slack_sdk's models (validated, limit-aware).

Every argument that can carry outside text goes through ``mrkdwn.safe`` here, so callers cannot forget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from chalicelib.frontdoor import mrkdwn


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=mrkdwn.truncate(text, mrkdwn.SECTION_TEXT)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=mrkdwn.truncate(text, mrkdwn.CONTEXT_TEXT))])


def as_dicts(blocks: Sequence[Any]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks[: mrkdwn.BLOCKS_PER_MESSAGE]]


def reply(title: str, lines: Sequence[str], footer: str | None = None) -> list[dict[str, Any]]:
    """A command's answer: a bold title and lines of (already escaped) mrkdwn."""
    blocks: list[Any] = [_section(f"*{title}*")]
    body = "\n".join(lines)
    while body:  # split long bodies over several sections instead of cutting them
        chunk, body = body[: mrkdwn.SECTION_TEXT], body[mrkdwn.SECTION_TEXT:]
        blocks.append(_section(chunk))
    if footer:
        blocks.append(_context(footer))
    return as_dicts(blocks)


def error(message: str, usage: str | None) -> list[dict[str, Any]]:
    lines = [f":warning: {mrkdwn.safe(message)}"]
    if usage:
        lines.append(f"Usage: {mrkdwn.code(usage)}")
    return as_dicts([_section("\n".join(lines))])


def _who(user: str) -> str:
    """A Slack user as a mention; Switchboard itself (actor ``system``) by name."""
    return "Switchboard" if user == "system" else f"<@{mrkdwn.escape(user)}>"


def decision_card(decision: dict[str, Any]) -> list[dict[str, Any]]:
    """A request for approval with Approve / Reject buttons whose values carry the decision id."""
    d = decision
    blocks: list[Any] = [
        HeaderBlock(text=PlainTextObject(text="Approval needed")),
        _section("\n".join([
            f"*{mrkdwn.safe(d['title'], 300)}*",
            f"*What:* {mrkdwn.safe(d['summary'], 1000)}",
            f"*Environment:* {mrkdwn.safe(d['environment'], 100)}   *Needs:* {mrkdwn.safe(d['role'], 50)}",
            f"*Requested by:* {_who(d['requester'])}" + (f"   *Author:* {mrkdwn.safe(d['author'], 200)}"
                                                        if d.get("author") else ""),
        ])),
    ]
    if d.get("state", "pending") == "pending":
        blocks.append(ActionsBlock(block_id=f"decision:{d['id']}", elements=[
            ButtonElement(text="Approve", action_id="decision_approve", value=d["id"], style="primary"),
            ButtonElement(text="Reject", action_id="decision_reject", value=d["id"], style="danger"),
        ]))
    else:
        verb = "Approved" if d["state"] == "approved" else "Rejected"
        blocks.append(_section(f"*{verb}* by <@{d['decided_by']}> at {mrkdwn.safe(d['decided_at'], 40)}"))
    blocks.append(_context(f"id `{mrkdwn.escape(d['id'])}` · {mrkdwn.safe(d['capability'], 40)}"))
    return as_dicts(blocks)
