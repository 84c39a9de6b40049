"""A small IAM policy evaluator over identity-policy JSON, for the tests that state who may do what.

``decide(document, action, resource, context)`` -> ``"allow"``, ``"deny"`` (an explicit Deny matched) or
``"implicit"`` (nothing allowed it). Actions match case-insensitively with ``*``/``?`` wildcards, resources with
``*``/``?`` (``*`` crosses ``:`` and ``/``, as in IAM). Conditions: the operators the generator uses (an unknown one
raises, so a new operator cannot pass unnoticed); keys in ``context`` are case-insensitive; a key missing from the
context fails every operator but ``Null``. ``NotAction``/``NotResource``/``NotPrincipal`` raise: the generator uses
none.
"""

from __future__ import annotations

import re
from typing import Any

Context = dict[str, str | list[str]]


def _pattern(text: str, *, fold: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _values(context: Context, key: str) -> list[str] | None:
    found = {k.lower(): v for k, v in context.items()}.get(key.lower())
    return None if found is None else _listed(found)


def _string_test(operator: str) -> Any:
    if operator == "StringEquals":
        return lambda have, want: have == want
    if operator == "StringLike":
        return lambda have, want: bool(_pattern(want, fold=False).fullmatch(have))
    raise ValueError(f"the simulator does not know the condition operator {operator}")


def condition_holds(condition: dict[str, dict[str, Any]], context: Context) -> bool:
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            have = _values(context, key)
            if operator == "Null":
                if (have is None) != (str(wanted).lower() == "true"):
                    return False
                continue
            if have is None:
                return False
            qualifier, _, base = operator.rpartition(":")
            test = _string_test(base)
            if qualifier == "ForAnyValue":
                ok = any(test(h, w) for h in have for w in _listed(wanted))
            elif qualifier == "":
                if len(have) != 1:
                    raise ValueError(f"{key} has several values: say ForAnyValue or ForAllValues")
                ok = any(test(have[0], w) for w in _listed(wanted))
            else:
                raise ValueError(f"the simulator does not know the condition qualifier {qualifier}")
            if not ok:
                return False
    return True


def _applies(statement: dict[str, Any], action: str, resource: str, context: Context) -> bool:
    unknown = set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"}
    if unknown:
        raise ValueError(f"the simulator does not evaluate {sorted(unknown)}")
    return (any(_pattern(a, fold=True).fullmatch(action) for a in _listed(statement["Action"]))
            and any(_pattern(r, fold=False).fullmatch(resource) for r in _listed(statement["Resource"]))
            and condition_holds(statement.get("Condition", {}), context))


def decide(document: dict[str, Any], action: str, resource: str, context: Context | None = None) -> str:
    allowed = False
    for statement in _listed(document["Statement"]):
        if _applies(statement, action, resource, context or {}):
            if statement["Effect"] == "Deny":
                return "deny"
            allowed = True
    return "allow" if allowed else "implicit"


def allowed(document: dict[str, Any], action: str, resource: str, context: Context | None = None) -> bool:
    return decide(document, action, resource, context) == "allow"
