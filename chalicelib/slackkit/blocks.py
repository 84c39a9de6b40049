"""Block Kit messages Switchboard sends, built with slack_sdk's models (validated, limit-aware). A decision's card
is ``chalicelib/decisions/render.py``'s.

Every argument that can carry outside text goes through ``mrkdwn.safe`` here, so callers cannot forget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from chalicelib.slackkit import mrkdwn
from chalicelib.timefmt import parse_iso, shown


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=mrkdwn.truncate(text, mrkdwn.SECTION_TEXT)))


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=mrkdwn.truncate(text, mrkdwn.CONTEXT_TEXT))])


def as_dicts(blocks: Sequence[Any]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks[: mrkdwn.BLOCKS_PER_MESSAGE]]


def reply(title: str, lines: Sequence[str], footer: str | None = None) -> list[dict[str, Any]]:
    """A command's answer: a bold title and lines of (already escaped) mrkdwn."""
    blocks: list[Any] = [section(f"*{title}*")]
    body = "\n".join(lines)
    while body:  # split long bodies over several sections instead of cutting them
        chunk, body = body[: mrkdwn.SECTION_TEXT], body[mrkdwn.SECTION_TEXT:]
        blocks.append(section(chunk))
    if footer:
        blocks.append(context(footer))
    return as_dicts(blocks)


def error(message: str, usage: str | None) -> list[dict[str, Any]]:
    lines = [f":warning: {mrkdwn.safe(message)}"]
    if usage:
        lines.append(f"Usage: {mrkdwn.code(usage)}")
    return as_dicts([section("\n".join(lines))])


def stamp(iso: str) -> str:
    """An ISO time as cards show it: ``2026-11-21 10:00 UTC``."""
    try:
        return shown(parse_iso(iso))
    except ValueError:
        return iso


def text_section(text: str) -> list[dict[str, Any]]:
    """One section of (already safe) mrkdwn: the body of a keyed card announced with text and no blocks."""
    return as_dicts([section(text)])
