"""The front door's outbox schedule (``slack_outbox``, every five minutes; its manifest names ``tick``).

One run, in this order: decisions re-tell asking accounts what they have not heard (``decisions.service.tick``,
around the rest); the Slack outbox retries what it kept (``slack.retry_kept``); fan-outs past their deadline are
answered once with what came (``fanout.flush_due``); versioned cards waiting for budget or a Retry-After are sent
(``cardq.drain``); then pending decisions past their deadline expire. Items that could not be processed at all make
the invocation fail after the others were done (Lambda retries it, then dead-letters it): never silent.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.decisions import service as decisions
from chalicelib.frontdoor import cardq, fanout
from chalicelib.slackkit import slack


def deliver(now: datetime) -> dict[str, int]:
    counts, errors = slack.retry_kept(now)
    if fanout.flush_due(now):
        counts["fanouts"] = 1
    drained = cardq.drain()
    errors += drained.errors
    if drained.sent:
        counts["cards"] = drained.sent
    if errors:
        raise RuntimeError(f"{errors} outbox item(s) could not be processed; the others were ({counts})")
    return counts


def tick() -> dict[str, int]:
    return decisions.tick(deliver)
