"""What a kind of secret must implement: narrow methods the protocol calls, each safe to call again.

    generate(current)                 -> pending value            createSecret (IAM makes the key here)
    check_pending(current, pending)   raise Refused               before any use of a pending value: it may only
                                                                  differ where the kind says (never host or user)
    works(value)                      -> bool                     can this value log in / authenticate now?
    apply(current, pending, previous) make the target accept it  setSecret (only when pending does not work yet)
    align(current, pending)           what else must match        setSecret when pending already works (a retry:
                                                                  apply aligns itself), e.g. the other user's grants
    prove(pending)                    raise TargetRejected        testSecret
    finished(previous, current)       after AWSCURRENT moved      e.g. deactivate the old IAM key
    discard(pending, current)         a stuck pending is cleared  e.g. delete the IAM key made for it

Values are parsed secret strings (``parse``/``dump``); kinds never log them.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.rotation.exceptions import Malformed
from chalicelib.rotation.policy import Effective, SecretKind
from chalicelib.rotation.secrets import SecretStore

Value = Any  # a parsed secret string: a dict for JSON secrets, a str for a plain API key


@dataclass
class Target:
    """The secret being rotated, what policy says about it, and the adapters a kind may use."""

    arn: str
    name: str
    policy: Effective
    store: SecretStore
    version: str | None = None  # the version being rotated (the ClientRequestToken), when there is one
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep


class Kind(ABC):
    kind: SecretKind

    def __init__(self, target: Target):
        self.target = target
        self.settings = target.policy.settings

    # ---- values ----

    def parse(self, text: str) -> Value:
        try:
            value = json.loads(text)
        except ValueError:
            raise Malformed(f"{self.target.name} is not JSON (a {self.kind} secret is a JSON object)") from None
        if not isinstance(value, dict):
            raise Malformed(f"{self.target.name} is not a JSON object (a {self.kind} secret is one)")
        return value

    def dump(self, value: Value) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    # ---- the steps ----

    @abstractmethod
    def generate(self, current: Value) -> Value: ...

    def check_pending(self, current: Value, pending: Value) -> None:
        return None

    @abstractmethod
    def works(self, value: Value) -> bool: ...

    @abstractmethod
    def apply(self, current: Value, pending: Value, previous: Value | None) -> None: ...

    def align(self, current: Value, pending: Value) -> None:
        return None

    @abstractmethod
    def prove(self, pending: Value) -> None: ...

    def finished(self, previous: Value | None, current: Value) -> None:
        return None

    def discard(self, pending: Value, current: Value) -> None:
        return None


def field_of(value: dict[str, Any], key: str, name: str, kind: SecretKind) -> str:
    found = value.get(key)
    if not isinstance(found, str) or not found:
        raise Malformed(f"{name} has no '{key}' (a {kind} secret needs it)")
    return found
