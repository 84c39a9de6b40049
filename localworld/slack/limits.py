"""Slack's rate limits, as the stand-in enforces them (on by default; ``SlackStandIn(limits=Limits.off())`` for a
test that must not meet them).

What Slack documents (https://api.slack.com/apis/rate-limits), and what is enforced here:

* **Tiers, per method per workspace**: Tier 1 1+/min, Tier 2 20+/min, Tier 3 50+/min, Tier 4 100+/min, "bursts
  allowed". Enforced as a token bucket per method: the documented floor per minute, refilled evenly, holding at
  most a minute's worth (a burst of that size goes through at once).
* **chat.postMessage, per channel**: "1 message per second per channel, short bursts of more than 1 allowed".
  Enforced as a token bucket per channel: 1 per second, a burst of ``channel_burst`` (3).
* Beyond a limit, Slack answers HTTP 429 ``{"ok": false, "error": "ratelimited"}`` with ``Retry-After: <seconds>``
  (a whole number, at least 1). A refused call uses no allowance.

Slack's real limits are at least these floors ("+"); an app that holds to the floors holds on Slack. The
workspace-wide cap on chat.postMessage ("several hundred per minute", no number given) is not enforced.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIER = {
    "api.test": 4,
    "auth.test": 4,  # "special", generous: Tier 4 here
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "conversations.info": 3,
    "users.info": 4,
    "usergroups.list": 2,
    "usergroups.users.list": 2,
}
PER_CHANNEL = "chat.postMessage"
CHANNEL_PER_SECOND = 1.0
CHANNEL_BURST = 3


@dataclass
class Bucket:
    """A token bucket: ``rate`` tokens a second, holding at most ``burst``; a new bucket is full."""

    rate: float
    burst: float
    tokens: float | None = None  # None: never used (full)
    at: float = 0.0

    def take(self, now: float) -> float:
        """Take one token at ``now`` (0.0: taken), or return how many seconds until one is there (none taken)."""
        refilled = self.burst if self.tokens is None else self.tokens + max(0.0, now - self.at) * self.rate
        tokens = min(self.burst, refilled)
        if tokens >= 1.0:
            self.tokens, self.at = tokens - 1.0, now
            return 0.0
        self.tokens, self.at = tokens, now
        return (1.0 - tokens) / self.rate


@dataclass(frozen=True)
class Limits:
    """Which limits the stand-in enforces (the defaults are Slack's documented floors)."""

    enabled: bool = True
    tier_per_minute: dict[int, int] = field(default_factory=lambda: dict(TIER_PER_MINUTE))
    method_tier: dict[str, int] = field(default_factory=lambda: dict(METHOD_TIER))
    channel_per_second: float = CHANNEL_PER_SECOND
    channel_burst: int = CHANNEL_BURST

    @classmethod
    def off(cls) -> Limits:
        return cls(enabled=False)


def retry_after(wait: float) -> int:
    """Slack's ``Retry-After``: whole seconds, at least 1."""
    return max(1, math.ceil(wait))


class RateLimiter:
    """The buckets of one workspace. ``check`` answers None (allowed, counted) or the Retry-After seconds."""

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, Bucket] = {}

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def _bucket(self, name: str, rate: float, burst: float) -> Bucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = Bucket(rate, burst)
        return bucket

    def check(self, method: str, channel: str | None = None) -> int | None:
        limits = self.limits
        if not limits.enabled:
            return None
        with self._lock:
            now = self._clock()
            if method == PER_CHANNEL and channel:
                wait = self._bucket(f"channel:{channel}", limits.channel_per_second, limits.channel_burst).take(now)
                return retry_after(wait) if wait > 0 else None
            tier = limits.method_tier.get(method)
            if tier is None:
                return None
            per_minute = limits.tier_per_minute[tier]
            wait = self._bucket(f"method:{method}", per_minute / 60.0, per_minute).take(now)
            return retry_after(wait) if wait > 0 else None
