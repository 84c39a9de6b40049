"""Card updates coalesced: only the newest version of a card is sent, and an older one never overwrites a newer one.
Pure: decisions over a card's plain state; ``cardq`` stores it and performs them.

A card is a keyed announcement ``(origin, key)``. Its sender numbers each version from its own state (an
incident's revision, a promotion's step count: a counter that only grows with the state it renders, never a
wall clock alone, since two Lambdas' clocks disagree). The front door keeps, per card:

    version   the newest version committed (queued or already in Slack)
    sent      the version Slack shows (None: never sent)
    lease     until when one sender holds the card (one Slack write per card at a time: order per card kept)

    v3 arrives, version 2          admit: version := 3, the message := v3's            (queued)
    v2 arrives late, version 3     refuse: superseded (audited; v3 or newer is what Slack will show)
    drain: version 3 > sent 2      claim the lease, send v3, then sent := 3 on condition version = 3
    v4 arrived during the send     the condition fails: the card stays queued and v4 goes next
"""

from __future__ import annotations

from dataclasses import dataclass

LEASE_SECONDS = 30.0  # longer than a Slack call with slack_sdk's retries; a crashed sender's lease runs out
MAX_ATTEMPTS = 12  # failures other than 429 before the card's newest version is given up on (dead letter)


@dataclass(frozen=True)
class Card:
    version: int
    sent: int | None = None
    lease_until: float | None = None
    not_before: float = 0.0  # Slack's Retry-After, or the budget's wait
    attempts: int = 0
    dead: bool = False


def admit(card: Card | None, incoming: int) -> bool:
    """Whether version ``incoming`` replaces what is queued: only when newer than anything committed for the card."""
    if incoming < 0:
        raise ValueError(f"a card version is a whole number from 0, not {incoming}")
    return card is None or incoming > card.version


def due(card: Card, now: float) -> bool:
    """Whether the card has a newer version than Slack shows, that may be sent now."""
    if card.dead or (card.sent is not None and card.sent >= card.version):
        return False
    if card.lease_until is not None and card.lease_until > now:
        return False
    return card.not_before <= now


def after_failure(card: Card, *, retry_after: float | None, now: float) -> Card:
    """The card after a failed send: a 429 waits for its Retry-After and costs no attempt; other failures count
    an attempt and give up (dead) after ``MAX_ATTEMPTS``, backing off meanwhile."""
    if retry_after is not None:
        return Card(card.version, card.sent, None, now + max(retry_after, 1.0), card.attempts, card.dead)
    attempts = card.attempts + 1
    backoff = min(60.0, 2.0 ** attempts)
    return Card(card.version, card.sent, None, now + backoff, attempts, attempts >= MAX_ATTEMPTS)
