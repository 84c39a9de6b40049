"""Load a policy YAML into a validated ``Policy``, or report every problem with its YAML path and line.

Three passes, each reporting all it finds: YAML syntax (and duplicate keys, which PyYAML would silently
overwrite), the pydantic schema, then cross-references. Problems print as
``apps.web.pipelines.prod: unknown account 'prd' (line 14)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from chalicelib.policy.references import check
from chalicelib.policy.schema import Policy

Loc = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.path}: {self.message}{where}"


class PolicyError(ValueError):
    """The policy is invalid; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.path, p.message))
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid policy {source}: {len(self.problems)} problem(s)\n{lines}")


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _lines(node: yaml.Node, loc: Loc, out: dict[Loc, int], problems: list[Problem]) -> None:
    """Map every path in the document to the 1-based line of its value."""
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(Problem(key_node.start_mark.line + 1, dotted((*loc, key)), "duplicate key"))
            seen.add(key)
            out[(*loc, key)] = key_node.start_mark.line + 1
            _lines(value_node, (*loc, key), out, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*loc, i), out, problems)


def _line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _message(err: dict) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    msg = err["msg"]
    if kind == "string_pattern_mismatch":
        return f"{err['input']!r} does not match {err['ctx']['pattern']}"
    return msg[0].lower() + msg[1:] if msg else kind


def parse(text: str, source: str = "<policy>") -> Policy:
    problems: list[Problem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyError(source, [Problem(mark.line + 1 if mark else None, "<yaml>",
                                           str(getattr(exc, "problem", exc)))]) from exc
    if not isinstance(data, dict):
        raise PolicyError(source, [Problem(1, "<root>", "a policy is a YAML mapping")])
    lines: dict[Loc, int] = {}
    _lines(root, (), lines, problems)
    if problems:
        raise PolicyError(source, problems)

    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            problems.append(Problem(_line_of(lines, loc), dotted(loc), _message(err)))
        raise PolicyError(source, problems) from None

    for d in check(policy):
        problems.append(Problem(_line_of(lines, d.value_path), dotted(d.path), d.message))
    if problems:
        raise PolicyError(source, problems)
    return policy


def load(path: str | Path) -> Policy:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(path), [Problem(None, "<file>", f"cannot read: {exc.strerror}")]) from exc
    return parse(text, str(path))


def validate_file(path: str | Path) -> list[Problem]:
    """Every problem in the file (empty when valid)."""
    try:
        load(path)
    except PolicyError as exc:
        return exc.problems
    return []
