"""One sanitiser for every text that came from AWS or from a person, before it reaches Slack or the audit log.

Characters that change how text *looks* without being seen are shown as their code point instead of acting
(``[U+202E]``): bidirectional controls (U+202A–U+202E, U+2066–U+2069, which can make ``exe.txt`` read
``txt.exe``), zero-width characters (U+200B–U+200D, U+2060, U+FEFF, which can make two different names look the
same), every other control or format character (Unicode categories Cc and Cf), line and paragraph separators,
private-use and lone surrogate code points. Newlines and tabs are kept (``newlines=False`` shows newlines too).

Slack's own escaping (``&``, ``<``, ``>``) is the Slack platform's (``slackkit.mrkdwn.safe``), which starts here.
This module imports nothing of Switchboard's, so ``state/`` and every capability can use it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

_SHOWN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs"})
# a fast path: text with nothing but printable ASCII, newlines and tabs needs no look at each character
_PLAIN = re.compile(r"[\x20-\x7e\n\t]*")


def _shown(ch: str) -> str:
    return f"[U+{ord(ch):04X}]"


def sanitise(text: object, *, newlines: bool = True) -> str:
    """``text`` as a string with every invisible or direction-changing character shown as ``[U+XXXX]``.

    Tabs are kept; newlines are kept unless ``newlines`` is false (a one-line field)."""
    value = str(text)
    if _PLAIN.fullmatch(value) and (newlines or "\n" not in value):
        return value
    out = []
    for ch in value:
        if ch == "\t" or (ch == "\n" and newlines):
            out.append(ch)
        elif unicodedata.category(ch) in _SHOWN_CATEGORIES:
            out.append(_shown(ch))
        else:
            out.append(ch)
    return "".join(out)


def sanitise_data(value: Any) -> Any:
    """Every string in ``value`` (nested dicts, lists, tuples, sets; keys too) sanitised; other values as they are."""
    if isinstance(value, str):
        return sanitise(value)
    if isinstance(value, Mapping):
        return {sanitise_data(k): sanitise_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(sanitise_data(v) for v in value)
    if isinstance(value, set | frozenset):
        return type(value)(sanitise_data(v) for v in value)
    return value
