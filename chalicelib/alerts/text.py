"""Outside text (alarm names, descriptions, reasons, label values) made harmless for Slack and for logs.

On top of the front door's mrkdwn escaping (``&``, ``<``, ``>``: no ``<!channel>``, no disguised links) and
truncation, characters that change how text *looks* are shown as their code point instead of acting, by the one
sanitiser every Slack message and audit entry uses (``chalicelib.text.sanitise``: control characters,
bidirectional overrides such as U+202E, zero-width characters, line and paragraph separators). Alert texts are
one-line by default here: a newline is shown too unless ``newlines=True``, and tabs become spaces.
"""

from __future__ import annotations

from chalicelib.slackkit import mrkdwn
from chalicelib.text import sanitise


def visible(text: object, *, newlines: bool = False) -> str:
    """Every invisible or direction-changing character replaced by ``[U+XXXX]``; tabs become spaces."""
    return sanitise(text, newlines=newlines).replace("\t", " ")


def safe(text: object, limit: int = mrkdwn.SECTION_TEXT, *, newlines: bool = False) -> str:
    """For mrkdwn: visible, escaped, cut to ``limit`` with a marker."""
    return mrkdwn.truncate(mrkdwn.escape(visible(text, newlines=newlines)), limit)


def plain(text: object, limit: int) -> str:
    """For plain_text fields (headers): visible and cut. Slack does not parse mentions in plain_text, and does not
    need entities there either; angle brackets become look-alikes anyway, so no client can ever take
    ``<!channel>`` in a header for a mention."""
    return mrkdwn.truncate(visible(text).replace("<", "\u2039").replace(">", "\u203a"), limit)


def code(text: object, limit: int = 200) -> str:
    return mrkdwn.code(visible(text), limit)


def clip(text: object, limit: int) -> str:
    """Raw text cut to ``limit`` characters (for storage and non-Slack receivers)."""
    value = str(text)
    return value if len(value) <= limit else value[: max(limit - len(mrkdwn.MARKER), 0)] + mrkdwn.MARKER
