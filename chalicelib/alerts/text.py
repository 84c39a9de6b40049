"""Outside text (alarm names, descriptions, reasons, label values) made harmless for Slack and for logs.

On top of the front door's mrkdwn escaping (``&``, ``<``, ``>``: no ``<!channel>``, no disguised links) and
truncation, characters that change how text *looks* are shown as their code point instead of acting: control
characters, bidirectional overrides such as U+202E (which can make ``exe.txt`` read ``txt.exe``), zero-width
characters (which can make two different names look the same), line and paragraph separators.
"""

from __future__ import annotations

import unicodedata

from chalicelib.frontdoor import mrkdwn

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs"})


def visible(text: object, *, newlines: bool = False) -> str:
    """Every invisible or direction-changing character replaced by ``[U+XXXX]``; tabs become spaces."""
    out = []
    for ch in str(text):
        if ch == "\n" and newlines:
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif unicodedata.category(ch) in _INVISIBLE_CATEGORIES:
            out.append(f"[U+{ord(ch):04X}]")
        else:
            out.append(ch)
    return "".join(out)


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
