"""Label matchers, Alertmanager's grammar (its ``matcher/parse`` lexer and parser, the UTF-8 matchers parser).

Pure. The one parser for policy routes, inhibit rules, silences from Slack and ``switchboard routes test``:

    foo=bar   foo!="bar"   alarm=~"web-.*"   {app="web", severity=~"page|critical",}   "label name"="v"

- a list is comma-separated, optionally wrapped in braces, a trailing comma allowed; spaces around tokens ignored;
- a label name or value is unquoted (any UTF-8 text without spaces and without ``{}!=~,\\"'``` ``) or
  double-quoted with Go's escapes (``\\"``, ``\\\\``, ``\\n``, ``\\t``, ``\\xHH``, ``\\u…``; raw newlines refused);
- a regex (``=~``, ``!~``) is anchored at both ends and compiled with RE2 (``google-re2``), the engine
  Alertmanager uses: linear time, no backreferences or lookarounds;
- every error names its position as Alertmanager does (``start:end`` columns, 0-based, in characters), e.g.
  ``4:10: "value: missing end "``; the messages are Alertmanager's, word for word, for the grammar's errors.

A label the alert does not have matches as the empty string (``team!=web`` matches an alert with no ``team``).

Aliases (``ALIASES``): a matcher on ``alertname`` reads ``alarm`` and one on ``env`` reads ``environment``, but
only when the alert has no label of that very name: an alias never hides a label that exists under its own name.

Deliberate differences from Alertmanager (docs/ARCHITECTURE.md, alert routing): a value longer than 1,024
characters is refused (label values are cut there); a regex must be one on its own (``a)|(b`` is refused, where
Alertmanager would compile ``^(?:a)|(b)$``, which is not anchored); the classic parser's leniencies that
Alertmanager only accepts in its fallback mode (``foo=``, ``a==b``, unquoted ``\\``) are refused.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

OPS = ("=~", "!~", "!=", "=")
REGEX_OPS = frozenset({"=~", "!~"})
ALIASES = {"alertname": "alarm", "env": "environment"}  # name a ported config uses -> Switchboard's label
MAX_VALUE = 1024  # label values are cut at 1,024 characters (model.MAX_LABEL_VALUE): a longer value never matches
MAX_SEEN = 4096  # match results remembered per regex matcher
RESERVED = frozenset("{}!=~,\\\"'`")

HINT = 'use label=value, label!=value, label=~regex or label!~regex; quote a value with spaces: label="a b"'


class MatcherError(ValueError):
    """A matcher that does not parse; the message says why and where (policy problems and Slack answers)."""

    def __init__(self, message: str, position: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.position = position


def _reserved(ch: str) -> bool:
    return ch.isspace() or ch in RESERVED


# ---- regexes: RE2 only ----

@lru_cache(maxsize=4096)
def regex(pattern: str) -> Any:
    """``pattern`` compiled with RE2, to be used with ``fullmatch`` (Alertmanager's ``^(?:pattern)$``)."""
    import re2  # google-re2: linear-time matching whatever the pattern (a flush never stalls on one regex)

    if len(pattern) > MAX_VALUE:
        raise MatcherError(f"the regex is longer than {MAX_VALUE} characters")
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if reason.startswith(("invalid perl operator", "invalid escape sequence")):
            reason += " (RE2 syntax, as in Alertmanager: no backreferences or lookarounds)"
        raise MatcherError(f"bad regex {_go_quote(pattern)}: {reason}") from None


# ---- the matcher ----

@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # one of "=", "!=", "=~", "!~"
    value: str
    _regex: Any = field(default=None, init=False, repr=False, compare=False, hash=False)
    # value -> whether the regex matches it: RE2's Python binding costs ~5 us a call (re: ~0.4 us), and the same
    # few values (alarm names, severities) are matched again at every event and flush
    _seen: dict[str, bool] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise MatcherError(f"unknown operator {self.op!r} (use =, !=, =~ or !~)")
        if len(self.value) > MAX_VALUE:
            raise MatcherError(f"the value of {self.label} is longer than {MAX_VALUE} characters")
        if self.op in REGEX_OPS:
            object.__setattr__(self, "_regex", regex(self.value))

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = lookup(labels, self.label) or ""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = self._seen.get(value)
        if found is None:
            found = self._regex.fullmatch(value) is not None
            if len(self._seen) >= MAX_SEEN:
                self._seen.clear()
            self._seen[value] = found
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        """Alertmanager's form: ``label="value"`` (the name quoted too when it needs it)."""
        name = _go_quote(self.label) if any(_reserved(c) for c in self.label) or not self.label else self.label
        return f"{name}{self.op}{_go_quote(self.value)}"

    def as_text(self) -> str:
        """The shortest form that parses back to this matcher: ``alarm=~web-.*``, or quoted where needed."""
        if self.label and self.value and not any(_reserved(c) for c in self.label + self.value):
            return f"{self.label}{self.op}{self.value}"
        return str(self)


def lookup(labels: Mapping[str, str], name: str) -> str | None:
    """The label's value, through an alias only if the alert has no label of that very name; None if absent."""
    if name in labels:
        return labels[name]
    alias = ALIASES.get(name)
    return labels.get(alias) if alias is not None else None


def match_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def describe(matchers: Iterable[Matcher]) -> str:
    """``{app="web", severity=~"page|critical"}`` (amtool's form); ``{}`` matches everything."""
    return "{" + ", ".join(str(m) for m in matchers) + "}"


# ---- the lexer (matcher/parse/lexer.go) ----

@dataclass(frozen=True)
class _Token:
    kind: str  # "{", "}", ",", an operator, "quoted", "unquoted", "eof"
    value: str
    start: int
    end: int


class _Lexer:
    """Tokens of ``text`` from ``pos`` on; a lexing error is raised when the token that has it is reached."""

    def __init__(self, text: str, pos: int = 0) -> None:
        self.text = text
        self.pos = pos
        self.cols = pos  # characters consumed (the position of the last token's end)

    def scan(self) -> _Token:
        text, n = self.text, len(self.text)
        i = self.pos
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            self.pos = self.cols = i
            return _Token("eof", "", i, i)
        ch = text[i]
        if ch in "{},":
            return self._emit(ch, i, i + 1)
        if ch in "=!":
            if text.startswith(("=~", "!=", "!~"), i):
                return self._emit(text[i:i + 2], i, i + 2)
            if ch == "=":
                return self._emit("=", i, i + 1)
            end = i + 1
            got = text[i:end]
            if end >= n:
                raise MatcherError(f"{i}:{end}: unexpected end of input, expected one of '=~'", (i, end))
            raise MatcherError(f"{i}:{end}: {got}: expected one of '=~'", (i, end))
        if ch == '"':
            j, escaped = i + 1, False
            while j < n:
                c = text[j]
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == '"':
                    return self._emit("quoted", i, j + 1)
                j += 1
            raise MatcherError(f"{i}:{n}: {text[i:n]}: missing end \"", (i, n))
        if not _reserved(ch):
            j = i
            while j < n and not _reserved(text[j]):
                j += 1
            return self._emit("unquoted", i, j)
        raise MatcherError(f"{i}:{i + 1}: {ch}: invalid input", (i, i + 1))

    def _emit(self, kind: str, start: int, end: int) -> _Token:
        self.pos = self.cols = end
        return _Token(kind, self.text[start:end], start, end)

    def peek(self) -> _Token:
        pos, cols = self.pos, self.cols
        try:
            return self.scan()
        finally:
            self.pos, self.cols = pos, cols


# ---- Go's strconv.Unquote for a double-quoted token ----

_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
_HEX = {"x": 2, "u": 4, "U": 8}


def _unquote(token: _Token) -> str:
    body, out = token.value[1:-1], bytearray()
    bad = MatcherError(f"{token.start}:{token.end}: {token.value}: invalid input", (token.start, token.end))
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "\n":
            raise bad
        if c != "\\":
            try:
                out += c.encode()
            except UnicodeEncodeError:  # a lone surrogate: not UTF-8
                raise bad from None
            i += 1
            continue
        if i + 1 >= n:
            raise bad
        e = body[i + 1]
        if e in _SIMPLE:
            out.append(_SIMPLE[e])
            i += 2
        elif e in _HEX:
            digits = body[i + 2:i + 2 + _HEX[e]]
            if len(digits) != _HEX[e] or any(d not in string.hexdigits for d in digits):
                raise bad
            value = int(digits, 16)
            if e == "x":
                out.append(value)
            elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise bad
            else:
                out += chr(value).encode()
            i += 2 + _HEX[e]
        elif e in "01234567":
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
                raise bad
            out.append(int(digits, 8))
            i += 4
        else:
            raise bad
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise bad from None


def _go_quote(text: str) -> str:
    """A double-quoted form ``_unquote`` reads back (Go's strconv.Quote for the characters that matter)."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif not c.isprintable() or 0xD800 <= ord(c) <= 0xDFFF:
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x80 else
                       f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


# ---- the parser (matcher/parse/parse.go) ----

_EXPECTED = {
    "label": "expected label name",
    "op": "expected an operator such as '=', '!=', '=~' or '!~'",
    "value": "expected label value",
    "comma_or_close": "expected a comma or close brace",
    "matcher_or_close": "expected a matcher or close brace after comma",
}


def _expect(lex: _Lexer, kinds: tuple[str, ...], what: str) -> _Token:
    """The next token if it is one of ``kinds``; else Alertmanager's error for ``what`` was expected."""
    try:
        token = lex.peek()
    except MatcherError as exc:
        raise MatcherError(f"{exc}: {_EXPECTED[what]}", exc.position) from None
    if token.kind == "eof":  # Alertmanager says "end of input" alone; the position is added here
        raise MatcherError(f"{token.start}:{token.end}: end of input: {_EXPECTED[what]}", (token.start, token.end))
    if token.kind not in kinds:
        raise MatcherError(f"{token.start}:{token.end}: unexpected {token.value}: {_EXPECTED[what]}",
                           (token.start, token.end))
    return lex.scan()


def _matcher(lex: _Lexer) -> Matcher:
    """parseMatcher: a label name, an operator, a value."""
    name_token = _expect(lex, ("quoted", "unquoted"), "label")
    name = _unquote(name_token) if name_token.kind == "quoted" else name_token.value
    op = _expect(lex, OPS, "op").kind
    value_token = _expect(lex, ("quoted", "unquoted"), "value")
    value = _unquote(value_token) if value_token.kind == "quoted" else value_token.value
    try:
        return Matcher(name, op, value)
    except MatcherError as exc:
        where = (value_token.start, value_token.end)
        raise MatcherError(f"{where[0]}:{where[1]}: {exc}", where) from None


def _peek(lex: _Lexer, what: str) -> _Token:
    try:
        return lex.peek()
    except MatcherError as exc:
        raise MatcherError(f"{exc}: {_EXPECTED[what]}", exc.position) from None


def _unexpected(token: _Token, what: str) -> MatcherError:
    return MatcherError(f"{token.start}:{token.end}: unexpected {token.value}: {_EXPECTED[what]}",
                        (token.start, token.end))


def _body(lex: _Lexer, braced: bool) -> list[Matcher]:
    """After the optional open brace: matchers separated by commas (parseMatcher, parseEndOfMatcher,
    parseComma), then parseCloseBrace. Leaves the lexer after the close brace, if any."""
    found: list[Matcher] = []
    if lex.peek().kind not in ("eof", "}"):
        while True:
            found.append(_matcher(lex))
            token = _peek(lex, "comma_or_close")
            if token.kind == ",":
                lex.scan()
                token = _peek(lex, "matcher_or_close")
                if token.kind in ("quoted", "unquoted"):
                    continue
                if token.kind not in ("}", "eof"):
                    raise _unexpected(token, "matcher_or_close")
            elif token.kind not in ("}", "eof"):
                raise _unexpected(token, "comma_or_close")
            break
    _close_brace(lex, braced)
    return found


def _close_brace(lex: _Lexer, braced: bool) -> None:
    """parseCloseBrace: a close brace if there was an open one, none otherwise."""
    if braced:
        try:
            token = lex.peek()
        except MatcherError as exc:
            raise MatcherError(f"0:{lex.cols}: {exc}: expected close brace", exc.position) from None
        if token.kind == "eof":
            raise MatcherError(f"0:{lex.cols}: end of input: expected close brace", (lex.cols, lex.cols))
        if token.kind != "}":
            raise MatcherError(f"0:{lex.cols}: {token.start}:{token.end}: unexpected {token.value}: expected close "
                               "brace", (token.start, token.end))
        lex.scan()
        return
    try:
        token = lex.peek()
    except MatcherError:
        return  # reported by the end-of-input check
    if token.kind == "}":
        lex.scan()
        raise MatcherError(f"0:{lex.cols}: }}: expected opening brace", (token.start, token.end))


def _end(lex: _Lexer) -> None:
    """parseEOF: nothing may follow."""
    try:
        token = lex.scan()
    except MatcherError as exc:
        raise MatcherError(f"{exc}: expected end of input", exc.position) from None
    if token.kind != "eof":
        raise MatcherError(f"{token.start}:{token.end}: {token.value}: expected end of input",
                           (token.start, token.end))


@lru_cache(maxsize=4096)
def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Zero or more matchers: ``a=b,c!~"d"`` or ``{a="b", c=~d,}``. Alertmanager's ``parse.Matchers``."""
    lex = _Lexer(text)
    first = lex.peek()
    if first.kind == "eof":
        return ()
    braced = first.kind == "{"
    if braced:
        lex.scan()
    found = _body(lex, braced)
    _end(lex)
    return tuple(found)


def parse(text: str) -> Matcher:
    """Exactly one matcher (``app=web``, ``app!="web"``, ``{alarm=~"web-.*"}``). Alertmanager's ``parse.Matcher``."""
    found = parse_matchers(text)
    if len(found) != 1:
        raise MatcherError("no matchers" if not found else f"expected 1 matcher, found {len(found)}")
    return found[0]


@lru_cache(maxsize=1024)
def _parse_tuple(texts: tuple[str, ...]) -> tuple[Matcher, ...]:
    return tuple(m for text in texts for m in parse_matchers(text))


def parse_all(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """The matchers of every string in ``texts`` (a policy's ``matchers:`` list: each entry may hold several,
    as in Alertmanager's config). Cached: a policy's lists are parsed and compiled once."""
    return _parse_tuple(tuple(texts))


def parse_leading(text: str) -> tuple[tuple[Matcher, ...], int]:
    """amtool's ``silence add`` habit: matchers separated by spaces or commas, or brace lists, up to the first
    word that does not start a matcher (``for`` in ``/ops silence a=b c=~"d e" for 1h …``). Returns the matchers
    and the offset in ``text`` where that word starts (``len(text)`` at the end). The word ``for`` after an
    operator and a space is that keyword, not a value (``a= for 1h`` is refused; ``a="for"`` is the word)."""
    lex = _Lexer(text)
    found: list[Matcher] = []
    after_matcher = -1  # where the last matcher (or brace list) ended: the next one is set apart by space or comma
    while True:
        token = lex.peek()
        if token.kind == "eof":
            return tuple(found), len(text)
        if token.start == after_matcher and token.kind != ",":
            raise _unexpected(token, "comma_or_close")
        if token.kind == "{":
            lex.scan()
            found += _body(lex, braced=True)
        elif token.kind in ("quoted", "unquoted"):
            ahead = _Lexer(text, token.end)
            try:
                follows = ahead.peek().kind
            except MatcherError:
                follows = "error"  # _matcher reports it
            if follows not in (*OPS, "error"):
                return tuple(found), token.start
            if follows != "error":
                op = ahead.scan()
                value = _peek(ahead, "value")
                if value.kind == "unquoted" and value.value.lower() == "for" and value.start > op.end:
                    raise MatcherError(f"{value.start}:{value.end}: unexpected {value.value}: expected label value "
                                       '(quote it to mean the word: "for")', (value.start, value.end))
            found.append(_matcher(lex))
        else:
            raise _unexpected(token, "label")
        after_matcher = lex.cols
        if lex.peek().kind == ",":
            lex.scan()


def parse_legacy(text: str) -> Matcher:
    """How silences stored before this grammar were written (``label<op>value``, the value verbatim, outer
    double quotes dropped): read only for those items, so that they keep meaning what they meant."""
    for i, ch in enumerate(text):
        if ch in "=!":
            rest = text[i:]
            op = next((o for o in OPS if rest.startswith(o)), None)
            if op is None:
                break
            value = rest[len(op):]
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return Matcher(text[:i].strip(), op, value)
    raise MatcherError(f"{text!r} is not a stored matcher")
