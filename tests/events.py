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
    """A peer event as ``account`` sends it: signed with that account's (demo) key."""
    event = sample("peer-release-candidate-stage-to-prod.json", account=account)
    event["detail"].update({"flow": flow, "from_account": from_account, "to_account": to_account, **detail})
    event["detail"].pop("envelope", None)
    return signed(event)


def signed(event: dict[str, Any], *, signer_account: str | None = None, now: Any = None,
           **seal: Any) -> dict[str, Any]:
    """Seal ``event``'s detail as the Switchboard of ``event["account"]`` does (its demo private key, the one the
    shipped policies pin; ``signer_account`` signs with another account's key instead: a forgery)."""
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from chalicelib.peering import envelope
    from localworld.keys import demo_private_key

    key = demo_private_key(signer_account or event["account"])
    detail = event["detail"]
    event = {**event, "detail": envelope.seal(
        sender=event["account"], from_account=detail["from_account"], recipient=detail["to_account"],
        flow=detail["flow"], payload=detail.get("payload", {}), now=now or datetime.now(UTC),
        sign=lambda digest: (key.sign(digest, ec.ECDSA(hashes.SHA256())), "test-key"), **seal)}
    return event


def context(name: str = "test"):
    """A Lambda-like context (what the local world's instances pass too)."""
    from localworld.instance import LambdaContext

    return LambdaContext(name)
