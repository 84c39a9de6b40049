"""The front door's send budget: how fast it calls Slack, so that it stays under Slack's limits instead of meeting
them. Pure: token buckets over plain numbers; the state lives in the state table (``cardq.spend``).

Slack allows about one message a second per channel (short bursts of more) and limits each Web API method per
workspace by tier (chat.update and chat.delete: Tier 3, 50 a minute; chat.postEphemeral: Tier 4, 100 a minute).
Every write of a card (``cardq``) spends one token from its channel's bucket (posts *and* updates: a card storm in
one channel is still one message a second there) and one from its method's bucket. The channel's bucket holds two
tokens: a post and its first update go at once (Slack allows "short bursts of more than 1"), then one a second,
so at most three writes land in one channel in any calendar second, under the Slack stand-in's burst of three.
``slack.deliver``'s calls (decision cards, replies, plain announcements: people's pace, not storms) spend what
Slack itself counts: a post its channel's bucket, an update or a delete only its method's (``names_for_call``).
A 429 from Slack empties the bucket it names until its ``Retry-After`` has passed (``blocked``).

Clocks are hostile: the state carries the wall-clock time it was spent at, written by any container. A time in
the future (another container's clock ahead of ours) refills nothing until ours catches up, and one more than
``MAX_SKEW`` ahead is not believed (the bucket starts full again) so a wild clock cannot block a channel for long.
"""

from __future__ import annotations

from dataclasses import dataclass

CHANNEL_PER_SECOND = 1.0
CHANNEL_BURST = 2.0  # Slack: "short bursts of more than 1 allowed" (a card's post and its first update, at once)
CHANNEL_LIMITED = frozenset({"chat.postMessage"})  # the method Slack limits per channel
# Slack's documented tier floors (per minute, per workspace) for the methods the front door writes with
METHOD_PER_MINUTE = {"chat.update": 50, "chat.delete": 50, "chat.postEphemeral": 100}
MAX_SKEW = 60.0


@dataclass(frozen=True)
class Bucket:
    """How fast (``rate`` a second) and how much at once (``burst``)."""

    rate: float
    burst: float


@dataclass(frozen=True)
class State:
    """A bucket's tokens at wall-clock time ``at`` (seconds); ``blocked_until``: Slack said 429 until then."""

    tokens: float
    at: float
    blocked_until: float = 0.0


def bucket_for(name: str) -> Bucket:
    """``channel:<id>`` or ``method:<name>`` -> its bucket."""
    kind, _, what = name.partition(":")
    if kind == "method" and what in METHOD_PER_MINUTE:
        per_minute = METHOD_PER_MINUTE[what]
        return Bucket(per_minute / 60.0, float(per_minute))
    return Bucket(CHANNEL_PER_SECOND, CHANNEL_BURST)


def names_for(method: str, channel: str | None) -> list[str]:
    """The buckets a card's write spends from (a response_url is Slack's own budget: none)."""
    names = [f"channel:{channel}"] if channel and method != "response_url" else []
    if method in METHOD_PER_MINUTE:
        names.append(f"method:{method}")
    return names


def names_for_call(method: str, channel: str | None) -> list[str]:
    """The buckets one of ``slack.deliver``'s calls spends from: Slack's own limits, as documented. A post spends
    its channel's bucket (Slack's per-channel limit is chat.postMessage's); an update or a delete only its
    method's (Tier 3, per workspace: Slack limits them per channel no further); a response_url none. Cards
    (``names_for``) are stricter: every write of a card spends its channel's bucket, which paces card storms."""
    if method == "response_url":
        return []
    names = [f"channel:{channel}"] if channel and method in CHANNEL_LIMITED else []
    if method in METHOD_PER_MINUTE:
        names.append(f"method:{method}")
    return names


def refill(bucket: Bucket, state: State | None, now: float) -> State:
    """The state at ``now``: full when never spent or written by a clock far ahead; else refilled (not past burst)."""
    if state is None or state.at > now + MAX_SKEW:
        return State(bucket.burst, now, 0.0 if state is None or state.blocked_until > now + MAX_SKEW
                     else state.blocked_until)
    elapsed = max(0.0, now - state.at)
    return State(min(bucket.burst, state.tokens + elapsed * bucket.rate), max(now, state.at), state.blocked_until)


def take(bucket: Bucket, state: State | None, now: float) -> tuple[State, float]:
    """Spend one token at ``now``: (new state, 0.0) when there was one, else (state, seconds to wait) unspent."""
    current = refill(bucket, state, now)
    if current.blocked_until > now:
        return current, current.blocked_until - now
    if current.tokens >= 1.0:
        return State(current.tokens - 1.0, current.at, current.blocked_until), 0.0
    return current, (1.0 - current.tokens) / bucket.rate


def block(bucket: Bucket, state: State | None, now: float, retry_after: float) -> State:
    """Slack answered 429 with ``Retry-After: retry_after``: nothing goes through before then, and the bucket is
    empty when it opens again."""
    current = refill(bucket, state, now)
    return State(0.0, current.at, max(current.blocked_until, now + max(retry_after, 1.0)))
