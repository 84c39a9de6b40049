"""What the intake asks of every peer event, after its routing checks: is the envelope genuine and new?"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.peering import envelope, replay
from chalicelib.peering.envelope import Opened


def pinned_key(current: Any, account_id: str) -> str | None:
    """The public key this policy pins for an account id (this account's own, or a peer's)."""
    if account_id == current.account.id:
        return current.account.public_key
    found = current.peer_by_id(account_id)
    return found[1].public_key if found else None


def check(current: Any, *, detail: dict[str, Any], event_account: str, event_id: str,
          now: datetime | None = None) -> Opened:
    """Raise Refused with the reason, or return what the envelope proves (and remember its id)."""
    opened = envelope.open_envelope(detail, event_account=event_account, own_id=current.account.id,
                                    public_key_pem=pinned_key(current, event_account),
                                    now=now or datetime.now(UTC))
    replay.remember(sender=opened.sender, envelope_id=opened.id, event_id=event_id, expires_at=opened.expires_at)
    return opened
