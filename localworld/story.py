"""What the demo's stories share: waiting for the world to get somewhere, and clipping what a step prints."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(read: Callable[[], Any], done: Callable[[Any], Any], timeout: float = 20.0) -> Any:
    """``read()`` again every 0.1 s until ``done(value)`` or ``timeout`` seconds; returns the last value read."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def clip(text: Any, limit: int = 160) -> str:
    """``text`` on one line, cut to ``limit`` characters with a visible mark."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
