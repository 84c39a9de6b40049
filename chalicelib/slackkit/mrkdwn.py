"""Text that came from AWS or from people, made safe for Slack mrkdwn.

Slack treats ``<…>`` as links and mentions (``<!channel>``, ``<https://evil|click>``, ``<@U123>``) and ``&`` as the
start of an entity, so every outside text is escaped (``&`` first) before it is put in a message, and cut to
Slack's limits with a visible marker rather than being rejected by the API. Before that, ``chalicelib.text.sanitise``
shows invisible and direction-changing characters as their code point (the audit log stores the same form).
"""

from __future__ import annotations

import re

from chalicelib.text import sanitise

MARKER = "… (truncated)"

# Block Kit limits (https://api.slack.com/reference/block-kit)
SECTION_TEXT = 3000
HEADER_TEXT = 150
CONTEXT_TEXT = 2000
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
MESSAGE_TEXT = 40000
BLOCKS_PER_MESSAGE = 50


def escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int, marker: str = MARKER) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with ``marker`` when something was cut."""
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return marker[:limit]
    cut = text[: limit - len(marker)]
    # never leave half an entity (&amp;) behind
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + marker


def safe(text: object, limit: int = SECTION_TEXT, *, newlines: bool = True) -> str:
    """Sanitise, escape, then truncate: the form every outside text takes in a message."""
    return truncate(escape(sanitise(text, newlines=newlines)), limit)


_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,20})&gt;")


def who(actor: str | None, limit: int = 60, *, unknown: str = "Switchboard") -> str:
    """Who did it, the one rendering of a person in a message: a Slack user id as a mention (only once its shape is
    checked), Switchboard itself (``system``) by name, nobody (``None`` or empty) as ``unknown``, anything else as
    safe text of at most ``limit`` characters."""
    if actor and _USER.fullmatch(actor):
        return f"<@{actor}>"
    if actor == "system":
        return "Switchboard"
    return unknown if not actor else safe(actor, limit)


def with_mentions(escaped: str) -> str:
    """Escaped text in which mentions of Slack user ids (``<@U…>``, nothing else) work again."""
    return _ESCAPED_MENTION.sub(r"<@\1>", escaped)


def code(text: object, limit: int = SECTION_TEXT) -> str:
    """Outside text shown verbatim in a code span (backticks inside are neutralised)."""
    return "`" + truncate(escape(sanitise(text, newlines=False)).replace("`", "'"), max(limit - 2, 1)) + "`"
