"""Builders for realistic events (shapes taken from samples/events, the recorded ones)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "events"
PROD, STAGE, SHARED = "333344445555", "222233334444", "111122223333"


def sample(name: str, **overrides: Any) -> dict[str, Any]:
    event = json.loads((SAMPLES / name).read_text())
    event = copy.deepcopy(event)
    event["id"] = overrides.pop("id", str(uuid.uuid4()))
    event.update(overrides)
    return event


def peer(flow: str, *, account: str = STAGE, from_account: str = "stage", to_account: str = PROD,
         **detail: Any) -> dict[str, Any]:
    event = sample("peer-release-candidate-stage-to-prod.json", account=account)
    event["detail"].update({"flow": flow, "from_account": from_account, "to_account": to_account, **detail})
    return event


def context(name: str = "test"):
    """A Lambda-like context (what the local world's instances pass too)."""
    from localworld.instance import LambdaContext

    return LambdaContext(name)
