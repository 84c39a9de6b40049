"""Block Kit messages the front door sends, built with slack_sdk's models (validated, limit-aware).

Every argument that can carry outside text goes through ``mrkdwn.safe`` here, so callers cannot forget.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
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


def _decision_body(d: dict[str, Any]) -> list[Any]:
    return [
        HeaderBlock(text=PlainTextObject(text="Approval needed")),
        _section("\n".join([
            f"*{mrkdwn.safe(d['title'], 300)}*",
            f"*What:* {mrkdwn.safe(d['summary'], 1000)}",
            f"*Environment:* {mrkdwn.safe(d['environment'], 100)}   *Needs:* {mrkdwn.safe(d['role'], 50)}",
            f"*Requested by:* {_who(d['requester'])}" + (f"   *Author:* {mrkdwn.safe(d['author'], 200)}"
                                                        if d.get("author") else ""),
        ])),
    ]


def _mentions(users: Sequence[str]) -> str:
    return ", ".join(_who(u) for u in users)


def progress(d: dict[str, Any]) -> str:
    """``1 of 2 approvals: <@U…>`` (safe mrkdwn: the ids are escaped, the mentions kept)."""
    approvals = list(d.get("approvals") or [])
    required = int(d.get("required") or 1)
    line = f"{len(approvals)} of {required} approvals"
    return f"{line}: {_mentions(approvals)}" if approvals else line


def _decision_footer(d: dict[str, Any]) -> list[Any]:
    """What the front door adds under a decision's card body: progress and buttons while pending, else the
    verdict; then the id to type (``/ops approve <id>``)."""
    state = d.get("state", "pending")
    required = int(d.get("required") or 1)
    approvals = list(d.get("approvals") or [])
    blocks: list[Any] = []
    if state == "pending":
        notes = []
        if required > 1:
            notes.append(f"*{progress(d)}*")
        if d.get("deadline"):
            notes.append(f"*Expires at:* {mrkdwn.safe(stamp(d['deadline']), 40)}")
        if notes:
            blocks.append(_section("   ".join(notes)))
        blocks.append(ActionsBlock(block_id=f"decision:{d['id']}", elements=[
            ButtonElement(text="Approve", action_id="decision_approve", value=d["id"], style="primary"),
            ButtonElement(text="Reject", action_id="decision_reject", value=d["id"], style="danger"),
        ]))
    elif state == "expired":
        so_far = f" ({progress(d)})" if required > 1 or approvals else ""
        blocks.append(_section(f"*Expired* at {mrkdwn.safe(d.get('decided_at') or '?', 40)}{so_far}"))
    else:
        verb = "Approved" if state == "approved" else "Rejected"
        who = _mentions(approvals) if state == "approved" and len(approvals) > 1 else _who(d["decided_by"])
        blocks.append(_section(f"*{verb}* by {who} at {mrkdwn.safe(d['decided_at'], 40)}"))
    blocks.append(_context(f"id `{mrkdwn.escape(d['id'])}` · {mrkdwn.safe(d['capability'], 40)}"))
    return blocks


def stamp(iso: str) -> str:
    """An ISO time as cards show it: ``2026-11-21 10:00 UTC``."""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def decision_card(decision: dict[str, Any]) -> list[dict[str, Any]]:
    """A request for approval with Approve / Reject buttons whose values carry the decision id."""
    return as_dicts([*_decision_body(decision), *_decision_footer(decision)])


def decision_body(decision: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's own body (what a decision shows when its capability sent no body of its own)."""
    return as_dicts(_decision_body(decision))


def text_section(text: str) -> list[dict[str, Any]]:
    """One section of (already safe) mrkdwn: the body of a keyed card announced with text and no blocks."""
    return as_dicts([_section(text)])


def with_decision_footer(body: Sequence[dict[str, Any]], decision: dict[str, Any]) -> list[dict[str, Any]]:
    """A capability's card body (already-safe Block Kit dicts) with the decision's footer appended. The body is
    cut, never the footer, to stay within Block Kit's 50 blocks."""
    footer = as_dicts(_decision_footer(decision))
    return [*list(body)[: mrkdwn.BLOCKS_PER_MESSAGE - len(footer)], *footer]
