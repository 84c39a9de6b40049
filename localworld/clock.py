"""A freshly booted machine's monotonic clock, for the local world and the tests.

A new Lambda microVM (and a machine booted a minute ago) starts ``time.monotonic()`` near 0, so a cache stamped
0.0 for "never filled" looks fresh there. Nothing in chalicelib may assume otherwise; this makes the local world's
instances (``SWITCHBOARD_FRESH_BOOT_CLOCK=1``, set by localworld.world) and every test run on such a clock.
Local-world emulation only: never imported by chalicelib.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

REAL_MONOTONIC = time.monotonic
BOOTED_AT = 0.5  # seconds: what time.monotonic() reads when the emulated machine starts
ENV = "SWITCHBOARD_FRESH_BOOT_CLOCK"


def booted(start: float = BOOTED_AT) -> Callable[[], float]:
    """A monotonic clock that reads ``start`` now and advances with the real one."""
    offset = REAL_MONOTONIC() - start

    def monotonic() -> float:
        return REAL_MONOTONIC() - offset

    return monotonic


def install(clock: Callable[[], float], setattr_: Callable[[object, str, object], None] = setattr,
            prefixes: tuple[str, ...] = ("chalicelib", "app", "localworld")) -> None:
    """Make ``clock`` the process's ``time.monotonic``, also in the loaded modules (named by ``prefixes``) that did
    ``from time import monotonic``. ``setattr_``: e.g. pytest's ``monkeypatch.setattr``, to undo it after."""
    setattr_(time, "monotonic", clock)
    for name, module in list(sys.modules.items()):
        if name.startswith(prefixes) and getattr(module, "monotonic", None) is REAL_MONOTONIC:
            setattr_(module, "monotonic", clock)
