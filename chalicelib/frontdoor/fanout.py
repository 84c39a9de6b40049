"""Fan-out commands answered once: a command the front door forwards to many accounts (``/ops status web`` across an
organisation) gets ONE aggregated reply, not one post per account. A response_url takes at most 5 posts, and a
channel about one message a second: one post per account would lose answers past the fifth and flood the channel.

    front door                                      each account (its own policy re-checks who asked)
    begin: fanout#<request id> (expected accounts,  runs the command, and answers with a signed ``reply``
           response_url, deadline)                  envelope to the front door (Flow.REPLY), not on the
    forward the command with ``reply_to``           response_url
    add: the account's answer (once per account;
         only an account that was asked)
    all answered -> finish: ONE post on the response_url (conditional: exactly one finisher)
    deadline passed (the outbox schedule, ``flush_due``) -> finish with what came, naming who did not answer

``aggregate`` is pure (table-tested); the fan-out's item is the front door's store (``store.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.frontdoor import store
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.slackkit import mrkdwn
from chalicelib.state import audit

DEADLINE = timedelta(seconds=60)
# Aggregated from this many accounts answering elsewhere up: fewer post their own answers (a response_url takes 5)
FANOUT_AT = 3
PART_CHARS = 300  # one account's answer in the aggregate (its first lines)
MAX_SECTIONS = 45  # of Slack's 50 blocks per message: the title, the sections, the footer


class Reply(BaseModel):
    """An account's answer to a fanned-out command (the payload of a ``reply`` envelope)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    reply_to: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=3000)


# ---- pure ----

def aggregate(title: str, expected: list[str], parts: dict[str, str], *, timed_out: bool = False) -> dict[str, Any]:
    """The one reply: every account's answer (its first lines, in account order), who did not answer, within Slack's
    limits (50 blocks, 3,000 characters a section): answers beyond them are counted, never silently cut."""
    answered = [a for a in sorted(expected) if a in parts]
    missing = [a for a in sorted(expected) if a not in parts]
    lines = [f"*{mrkdwn.escape(a)}*: {mrkdwn.truncate(' · '.join(parts[a].splitlines()), PART_CHARS)}"
             for a in answered]
    sections: list[str] = []
    shown = 0
    for line in lines:
        if sections and len(sections[-1]) + 1 + len(line) <= mrkdwn.SECTION_TEXT:
            sections[-1] += "\n" + line
        elif len(sections) < MAX_SECTIONS:
            sections.append(line[: mrkdwn.SECTION_TEXT])
        else:
            break
        shown += 1
    head = f"{title}: {len(answered)} of {len(expected)} accounts answered"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{mrkdwn.escape(head)}*"}}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in sections]
    notes = []
    if shown < len(answered):
        notes.append(f"{len(answered) - shown} more answers did not fit in one message (see the audit log)")
    if missing:
        names = ", ".join(mrkdwn.escape(a) for a in missing[:20]) + (f" and {len(missing) - 20} more"
                                                                      if len(missing) > 20 else "")
        notes.append(("no answer in time from " if timed_out else "still waiting for ") + names)
    if notes:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn.truncate(
            " · ".join(notes), mrkdwn.CONTEXT_TEXT)}]})
    return {"text": mrkdwn.truncate(head, mrkdwn.MESSAGE_TEXT), "blocks": blocks}


def text_of(text: str, blocks: list[dict[str, Any]] | None) -> str:
    """An answer as plain lines: its blocks' texts (title, sections, context), else its text."""
    lines = []
    for block in blocks or []:
        if isinstance(block.get("text"), dict):
            lines.append(str(block["text"].get("text", "")))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                lines.append(element["text"])
    return "\n".join(line for line in lines if line) or text


# ---- the answering account's side ----

def reply(current: Any, front_door: str, reply_to: str, text: str, blocks: list[dict[str, Any]] | None) -> None:
    """Answer a fanned-out command to the front door (a signed ``reply`` envelope), which answers once for all."""
    from chalicelib.peering.send import send
    from chalicelib.policy.schema import Flow

    send(current, front_door, Flow.REPLY, Reply(reply_to=reply_to, text=text_of(text, blocks)[:3000]).model_dump())


# ---- the front door's side ----

def begin(fanout_id: str, *, expected: list[str], response_url: str, title: str, user: str,
          channel: str | None = None, now: datetime | None = None, deadline: timedelta = DEADLINE) -> None:
    """Open the fan-out (before any command is forwarded: an answer can never come before its fan-out)."""
    now = now or datetime.now(UTC)
    store.open_fanout(fanout_id, expected=sorted(set(expected)), response_url=response_url, title=title[:200],
                      user=user, channel=channel, deadline=now + deadline, now=now)


def add(fanout_id: str, account: str, text: str, *, correlation_id: str) -> str:
    """Record ``account``'s answer; the last expected answer finishes the fan-out. Returns what happened (audited when
    refused: an account that was not asked, a second answer, a fan-out finished or unknown)."""
    item = store.add_part(fanout_id, account, text[:3000])
    if item is None:
        reason = f"an answer from '{account}' to fan-out {fanout_id} that is unknown, finished, not asked or repeated"
        audit.record(action="frontdoor.fanout", target=f"fanout/{fanout_id}", outcome=audit.Outcome.REJECTED,
                     correlation_id=correlation_id, capability="frontdoor", reason=reason)
        return "refused"
    if len(item.parts) >= len(item.expected):
        finish(fanout_id)
        return "answered"
    return "recorded"


def finish(fanout_id: str, *, timed_out: bool = False, now: datetime | None = None) -> bool:
    """Post the one aggregated reply, once (the finisher wins a conditional write first). True when this call did."""
    from chalicelib.slackkit import slack

    item = store.claim_finish(fanout_id, now or datetime.now(UTC))
    if item is None:
        return False
    message = aggregate(item.title, list(item.expected), dict(item.parts), timed_out=timed_out)
    slack.deliver("response_url", {
        "url": item.response_url, "response_type": "ephemeral", "replace_original": False, **message,
        "fallback": {"channel": item.channel, "user": item.user} if item.channel else None,
    }, correlation_id=fanout_id, target=f"slack/{item.user}")
    metrics.add_metric(name="FanoutReplies", unit=MetricUnit.Count, value=1)
    audit.record(action="frontdoor.fanout", target=f"fanout/{fanout_id}", actor=item.user,
                 outcome=audit.Outcome.SUCCEEDED, correlation_id=fanout_id, capability="frontdoor",
                 reason=f"one reply for {len(item.parts)} of {len(item.expected)} accounts"
                        + (" (deadline)" * timed_out),
                 detail={"answers": {a: t[:PART_CHARS] for a, t in sorted(item.parts.items())}})
    return True


def flush_due(now: datetime | None = None) -> int:
    """Finish the fan-outs whose deadline passed, naming the accounts that did not answer. Returns how many."""
    now = now or datetime.now(UTC)
    done = 0
    for fanout_id in store.due_fanouts(now):
        try:
            done += finish(fanout_id, timed_out=True, now=now)
        except Exception:  # noqa: BLE001 - each on its own; this one is tried again at the next run
            logger.exception("a fan-out could not be finished", extra={"fanout": fanout_id})
    return done
