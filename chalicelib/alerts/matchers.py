"""Label matchers, as in Alertmanager: ``label=value``, ``label!=value``, ``label=~regex``, ``label!~regex``.

Pure. A label the alert does not have matches as the empty string (so ``team!=web`` matches an alert with no
``team``). Regexes are anchored at both ends (``alarm=~web-.*`` does not match ``api-web-1``). Two aliases keep
habits from Alertmanager and the issue's examples working: ``env`` is ``environment``, ``alertname`` is ``alarm``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
OPS = ("=~", "!~", "!=", "=")  # longest first
REGEX_OPS = frozenset({"=~", "!~"})
ALIASES = {"env": "environment", "alertname": "alarm"}
MAX_VALUE = 1024


class MatcherError(ValueError):
    """A matcher that does not parse; the message says why (shown in policy problems and Slack answers)."""


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise MatcherError(f"unknown operator {self.op!r} (use =, !=, =~ or !~)")
        if not LABEL.fullmatch(self.label):
            raise MatcherError(f"{self.label!r} is not a label name (letters, digits and _, not starting with a digit)")
        if len(self.value) > MAX_VALUE:
            raise MatcherError(f"the value of {self.label} is longer than {MAX_VALUE} characters")
        object.__setattr__(self, "label", ALIASES.get(self.label, self.label))
        if self.op in REGEX_OPS:
            _compiled(self.value)  # raises MatcherError for a bad regex

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.label, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = _compiled(self.value).fullmatch(value) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'

    def as_text(self) -> str:
        """The form it was (or could have been) written in: ``label<op>value``."""
        return f"{self.label}{self.op}{self.value}"


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(pattern)
    except re.error as exc:
        raise MatcherError(f"bad regex {pattern!r}: {exc}") from None
    except (RecursionError, OverflowError) as exc:
        raise MatcherError(f"bad regex {pattern!r}: {exc or 'too complex'}") from None


def parse(text: str) -> Matcher:
    """``app=web``, ``app!="web"``, ``alarm=~web-.*``; a value may be wrapped in double quotes."""
    text = text.strip()
    label = LABEL.match(text)
    rest = text[label.end():] if label else ""
    op = next((o for o in OPS if rest.startswith(o)), None)
    if label is None or op is None:
        raise MatcherError(f"{text!r} is not a matcher (use label=value, label!=value, label=~regex or label!~regex)")
    value = rest[len(op):]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return Matcher(label.group(), op, value)


def parse_all(texts: Iterable[str]) -> tuple[Matcher, ...]:
    return tuple(parse(t) for t in texts)


def match_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def describe(matchers: Iterable[Matcher]) -> str:
    """``{app="web", severity=~"page|critical"}`` (amtool's form); ``{}`` matches everything."""
    return "{" + ", ".join(str(m) for m in matchers) + "}"
