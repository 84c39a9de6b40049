"""Load a policy YAML into a validated ``Policy``, or report every problem with its YAML path and line.

Three passes, each reporting all it finds: YAML syntax (and duplicate keys, which PyYAML would silently
overwrite), the pydantic schema, then cross-references. Problems print as
``apps.web.pipelines.prod: unknown account 'prd' (line 14)``.

``lazy=True`` (``current()`` inside Lambda) runs the YAML pass over the whole document and the other two over
the policy's core only; each other section gets them when it is first read (``Pending.resolve``), with the
same problems, paths and lines a full load reports for it.

``current()`` loads the file named by ``SWITCHBOARD_POLICY_FILE`` once per process. No part of an invalid policy
is ever acted on.

Where what is validated (a deliberate choice, for the cold start):

* In full, every section and every problem at once: ``load``, ``parse``, ``validate_file`` (``switchboard policy
  validate``, CI, tests) and ``current()`` outside Lambda. That includes ``chalice deploy``/``package``/``local``:
  they import app.py, which calls ``current()``, with the stage's environment (``AWS_CHALICE_CLI_MODE`` set). So
  a policy with an error anywhere is never deployed: the policy is packaged with the app it was validated with.
* Lazily, in ``current()`` inside Lambda (``Settings.in_lambda``: ``LAMBDA_TASK_ROOT`` set, not the Chalice
  CLI), at every cold start: the YAML pass (syntax, duplicate keys, unknown top-level keys) and the core
  (``PolicyCore``: version, account, peers; app.py builds the peer event pattern from them) at once; each other
  section (apps, slack, each capability's, freezes, limits: ``document.py``) when a handler first reads it, shape
  then references, then kept for the life of the process. A section with a problem raises, on every read, the same
  ``PolicyError`` (paths, lines) a full load reports for it, and is never kept; so is a section whose check
  needs a bad one. Other sections keep working; but that cannot happen to a deployed policy (see above).

Why: building and running the validators of every capability's models (the alerts route tree above all), plus
the pure-Python YAML parser, took about 70 ms of a 270 ms cold start, paid by every function for sections most
never read. Now the schema's models are built on first use (``defer_build`` in ``types.Strict``), the YAML is
parsed by libyaml, and a cold start validates only the core (a few ms); an invocation pays for the sections it
reads, once per container.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from chalicelib.policy.document import Policy
from chalicelib.policy.references import Dangling, check, check_core, check_section
from chalicelib.policy.schema import PolicyCore
from chalicelib.settings import get_settings

# libyaml's parser when PyYAML has it (its wheels do, the Lambda ones too): the same nodes, marks and line numbers
# as the pure-Python one, several times faster (a policy with an error is read again by the pure-Python one).
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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


def _schema_problems(exc: ValidationError, lines: dict[Loc, int], prefix: Loc = ()) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        problems.append(Problem(_line_of(lines, loc), dotted(loc), _message(err)))
    return problems


def _reference_problems(found: list[Dangling], lines: dict[Loc, int]) -> list[Problem]:
    return [Problem(_line_of(lines, d.value_path), dotted(d.path), d.message) for d in found]


def _compose(text: str, loader_type: type) -> tuple[yaml.Node | None, Any]:
    loader = loader_type(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def _read(text: str, source: str) -> tuple[dict, dict[Loc, int]]:
    """The YAML pass: the document as data, and the line of every path in it."""
    problems: list[Problem] = []
    try:
        root, data = _compose(text, SafeLoader)
    except yaml.YAMLError:
        # read again by the pure-Python parser, whose messages say more ("found undefined alias 'x'")
        try:
            root, data = _compose(text, yaml.SafeLoader)
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
    return data, lines


def parse(text: str, source: str = "<policy>", *, lazy: bool = False) -> Policy:
    data, lines = _read(text, source)
    if lazy:
        return _parse_lazily(data, lines, source)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(source, _schema_problems(exc, lines)) from None
    problems = _reference_problems(check(policy), lines)
    if problems:
        raise PolicyError(source, problems)
    return policy


def _parse_lazily(data: dict, lines: dict[Loc, int], source: str) -> Policy:
    """The core now (its fields, plus any unknown top-level key); the other sections when first read."""
    sections = Policy.lazy_sections()
    known = {*Policy.model_fields, *(f.alias for f in Policy.model_fields.values() if f.alias)}
    problems = [Problem(_line_of(lines, (key,)), dotted((key,)), "unknown field") for key in data if key not in known]
    try:
        core = PolicyCore.model_validate({k: v for k, v in data.items() if k in PolicyCore.model_fields})
    except ValidationError as exc:
        problems += _schema_problems(exc, lines)
        raise PolicyError(source, problems) from None
    if problems:
        raise PolicyError(source, problems)
    # no section is built here: a placeholder each, taken off again so that reading one reaches __getattr__
    policy = Policy.model_construct(_fields_set={k for k in data if k in Policy.model_fields},
                                    **dict(core), **dict.fromkeys(sections))
    for name in sections:
        del policy.__dict__[name]
    policy._pending = Pending(source, {k: v for k, v in data.items() if k in sections}, lines)
    problems = _reference_problems(check_core(policy), lines)
    if problems:
        raise PolicyError(source, problems)
    return policy


@dataclass
class Pending:
    """The raw sections of a lazily loaded policy, validated one by one as they are first read.

    A section is put on the policy only once its references are checked, so no thread ever sees it before. Two
    threads reading it first at once may both validate it (the same result; the first one kept); no lock."""

    source: str
    data: dict[str, Any]
    lines: dict[Loc, int]
    failed: dict[str, list[Problem]] = field(default_factory=dict)
    # (thread, section) -> the section validated, its references being checked (a check may read its section)
    checking: dict[tuple[int, str], Any] = field(default_factory=dict)

    def resolve(self, policy: Policy, name: str) -> Any:
        """Section ``name`` validated (shape, then references) and kept on ``policy``; else ``PolicyError``."""
        key = (threading.get_ident(), name)
        if key in self.checking:
            return self.checking[key]
        if name in self.failed:
            raise PolicyError(self.source, self.failed[name])
        try:
            if name in self.data:
                value = _validator(type(policy), name)(self.data[name])
            else:
                value = type(policy).model_fields[name].get_default(call_default_factory=True)
        except ValidationError as exc:
            self.failed[name] = _schema_problems(exc, self.lines, (name,))
            raise PolicyError(self.source, self.failed[name]) from None
        self.checking[key] = value
        try:  # a section it refers to may raise its own PolicyError meanwhile
            problems = _reference_problems(check_section(policy, name, value), self.lines)
        finally:
            del self.checking[key]
        if problems:
            self.failed[name] = problems
            raise PolicyError(self.source, problems)
        value = policy.__dict__.setdefault(name, value)
        if not policy.pending_sections():
            policy._pending = None  # complete: now equal to the same policy loaded in full
        return value


@cache
def _validator(policy_type: type[Policy], name: str) -> Any:
    """Validates the raw value of a top-level field exactly as ``policy_type`` does (built on first use)."""
    info = policy_type.model_fields[name]
    kind = info.annotation
    if isinstance(kind, type) and issubclass(kind, BaseModel) and not info.metadata:
        return kind.model_validate
    return TypeAdapter(Annotated[(kind, *info.metadata)] if info.metadata else kind).validate_python


def load(path: str | Path, *, lazy: bool = False) -> Policy:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(path), [Problem(None, "<file>", f"cannot read: {exc.strerror}")]) from exc
    return parse(text, str(path), lazy=lazy)


def warnings_of(path: str | Path) -> list[Problem]:
    """What a valid policy allows but advises against (each section's ``warnings``), with lines; empty when the
    file is invalid (its problems come first)."""
    try:
        policy = load(path)
        _, lines = _read(Path(path).read_text(encoding="utf-8"), str(path))
    except (PolicyError, OSError):
        return []
    found = [Dangling(where, message, value)
             for name in policy.lazy_sections() if hasattr(section := getattr(policy, name), "warnings")
             for where, message, value in section.warnings(policy)]
    return sorted(_reference_problems(found, lines), key=lambda p: (p.line or 0, p.path, p.message))


def validate_file(path: str | Path) -> list[Problem]:
    """Every problem in the file (empty when valid)."""
    try:
        load(path)
    except PolicyError as exc:
        return exc.problems
    return []


@lru_cache(maxsize=1)
def current() -> Policy:
    """This stage's policy (``SWITCHBOARD_POLICY_FILE``), once per process: lazily validated inside Lambda."""
    settings = get_settings()
    policy = load(settings.policy_path, lazy=settings.in_lambda)
    if policy.account.name != settings.account_name:
        raise PolicyError(str(settings.policy_path), [Problem(
            None, "account.name",
            f"policy is for account '{policy.account.name}' but this stage is '{settings.account_name}'")])
    return policy
