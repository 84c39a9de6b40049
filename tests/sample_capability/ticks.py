"""The sample capability's tick."""

from __future__ import annotations

RUNS: list[str] = []


def run() -> dict[str, int]:
    RUNS.append("tick")
    return {"ticks": len(RUNS)}
