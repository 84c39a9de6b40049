"""The sample capability's event handler: remembers what it was given."""

from __future__ import annotations

from typing import Any

from chalicelib import capabilities
from chalicelib.capabilities import Context, Result
from chalicelib.state.audit import Outcome

SEEN: list[tuple[str, str]] = []  # (kind, target) of each event handled


@capabilities.register("sample")
def on_event(event: Any, ctx: Context) -> Result:
    SEEN.append((str(ctx.kind), event.target))
    return Result(Outcome.SUCCEEDED, actions=[f"sampled {event.target}"])
