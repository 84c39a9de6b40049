"""The front door's outbox schedules (their manifest names ``tick`` and ``cards``).

``slack_outbox``, every five minutes, in this order: decisions re-tell asking accounts what they have not heard
(``decisions.service.tick``, around the rest); the Slack outbox retries what failed (``slack.retry_kept``); fan-outs
past their deadline are answered once with what came (``fanout.flush_due``); then pending decisions past their
deadline expire.

``slack_cards``, every minute, in the front door only: the card queue (``cardq.run``): versioned cards and the
calls ``slack.deliver`` kept because the send budget or Slack's Retry-After said wait, sent within the budget,
newest version only. Only this function drains the queue (the card's lease and its version conditions hold even
if two runs overlap).

Items that could not be processed at all make the invocation fail after the others were done (Lambda retries it,
then dead-letters it): never silent.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.decisions import service as decisions
from chalicelib.frontdoor import fanout
from chalicelib.slackkit import slack


def deliver(now: datetime) -> dict[str, int]:
    counts, errors = slack.retry_kept(now)
    if fanout.flush_due(now):
        counts["fanouts"] = 1
    if errors:
        raise RuntimeError(f"{errors} outbox item(s) could not be processed; the others were ({counts})")
    return counts


def tick() -> dict[str, int]:
    return decisions.tick(deliver)


def cards() -> dict[str, int]:
    """The card drain. Outside the front door nothing is ever queued: nothing to do, and no AWS call."""
    from chalicelib.policy import loader as policies

    current = policies.current()
    if current.slack.front_door != current.account.name:
        return {}
    from chalicelib.slackkit import cardq

    result = cardq.run()
    counts = {name: getattr(result, name) for name in ("sent", "waiting", "ratelimited", "failed", "dead")
              if getattr(result, name)}
    if result.errors:
        raise RuntimeError(f"{result.errors} queued card(s) could not be processed; the others were ({counts})")
    return counts
