"""What promotion says in Slack: the promotion card (updated in place as it moves) and command answers.

Pure functions over a ``Promotion``. Blocks are plain Block Kit dicts (no slack_sdk on the event path); every
outside text (commit message, author, reasons, gate texts) goes through ``mrkdwn.safe`` (sanitised: a right-to-left
override or a zero-width space in a commit shows as ``[U+202E]``; then escaped); Slack user ids are only put in a
mention after checking their shape; a commit link only when its URL has nothing to hide.
"""

from __future__ import annotations

from typing import Any

from chalicelib.promotion.machine import State
from chalicelib.promotion.store import Promotion
from chalicelib.slackkit import mrkdwn
from chalicelib.text import sanitise

ICON = {
    State.PENDING: ":inbox_tray:", State.SOAKING: ":hourglass_flowing_sand:", State.HANDED_OFF: ":outbox_tray:",
    State.AWAITING_APPROVAL: ":raised_hand:", State.APPROVED: ":ballot_box_with_check:",
    State.DEPLOYING: ":rocket:", State.VERIFYING: ":mag:", State.PROMOTED: ":white_check_mark:",
    State.HELD: ":octagonal_sign:", State.REJECTED: ":no_entry:", State.SUPERSEDED: ":fast_forward:",
    State.CANCELED: ":heavy_minus_sign:",
    State.FAILED: ":x:", State.ROLLED_BACK: ":leftwards_arrow_with_hook:",
}
GATE_ICON = {"pass": ":white_check_mark:", "wait": ":hourglass:", "fail": ":x:"}


def state_text(p: Promotion) -> str:
    words = str(p.state).replace("_", " ")
    if p.state is State.HANDED_OFF:
        words = f"handed to {p.target_env}"
    return f"{ICON.get(p.state, '')} *{mrkdwn.escape(words)}*"


def headline(p: Promotion) -> str:
    return (f"*{mrkdwn.safe(p.app, 80)}* {mrkdwn.code(p.revision.short, 20)} "
            f"{mrkdwn.safe(p.source_env, 40)} → {mrkdwn.safe(p.target_env, 40)} · {state_text(p)}")


def gate_lines(gates: list[dict[str, Any]]) -> list[str]:
    return [f"{GATE_ICON.get(g.get('status', ''), '•')} *{mrkdwn.safe(g.get('name', '?'), 40)}* "
            f"— {mrkdwn.with_mentions(mrkdwn.safe(g.get('reason', ''), 300))}" for g in gates]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn.truncate(text, mrkdwn.SECTION_TEXT)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn.truncate(text, mrkdwn.CONTEXT_TEXT)}]}


def body(p: Promotion) -> list[dict[str, Any]]:
    """The card's body: what, which revision, who, where it stands and why (gates)."""
    rev = p.revision
    commit = [f"*Revision:* {mrkdwn.code(rev.id, 80)}" + (f" · <{rev.url}|commit>" if rev.url and _safe_url(rev.url)
                                                          else "")]
    if rev.summary:
        commit.append("> " + mrkdwn.safe(rev.summary.splitlines()[0], 300))
    commit.append(f"*Author:* {mrkdwn.safe(rev.author, 100) if rev.author else 'unknown'}"
                  + (f"   *Requested by:* {mrkdwn.who(p.requester)}" if p.requester else "")
                  + ("   *Soak skipped*" if p.skip_soak else ""))
    blocks = [_section(headline(p)), _section("\n".join(commit))]
    lines = []
    if p.source_gates and p.side == "target":
        lines.append(f"_In {mrkdwn.safe(p.source_env, 40)}:_")
        lines += gate_lines(p.source_gates)
        lines.append(f"_In {mrkdwn.safe(p.target_env, 40)}:_")
    lines += gate_lines(p.gates)
    if p.approvals:
        lines.append("*Approved by:* " + ", ".join(mrkdwn.who(u) for u in p.approvals))
    if p.state is State.REJECTED and p.reject_reason:
        lines.append(f"*Rejected:* {mrkdwn.safe(p.reject_reason, 300)}"
                     + (f" ({mrkdwn.who(p.rejected_by)})" if p.rejected_by else ""))
    if p.state is State.SUPERSEDED and p.superseded_by:
        lines.append(f"*Superseded* by promotion {mrkdwn.code(p.superseded_by, 20)}")
    if p.failure:
        lines.append(f"*Failure:* {mrkdwn.safe(p.failure, 300)}")
    if p.state is State.ROLLED_BACK and p.previous is not None:
        lines.append(f"*Rolled back* to {mrkdwn.code(p.previous.short, 20)}"
                     + (" · restored" if p.restored_at else " · redeploying"))
    if lines:
        blocks.append(_section("\n".join(lines)))
    where = f"promotion {mrkdwn.code(p.id, 20)}"
    if p.target_execution:
        where += f" · {mrkdwn.safe(p.target_pipeline or '', 100)} execution {mrkdwn.code(p.target_execution, 60)}"
    blocks.append(_context(where))
    return blocks


def text(p: Promotion) -> str:
    """The notification text (shown where blocks are not). Sanitised, not escaped: the front door escapes it."""
    return sanitise(f"{p.app} {p.revision.short} {p.source_env} → {p.target_env}: {str(p.state).replace('_', ' ')}",
                    newlines=False)


def status_lines(p: Promotion) -> list[str]:
    line = f"• {mrkdwn.code(p.revision.short, 20)} → {mrkdwn.safe(p.target_env, 40)}: {state_text(p)}"
    waiting = [g for g in p.gates if g.get("status") != "pass"]
    if waiting:
        line += " — " + "; ".join(f"{mrkdwn.safe(g.get('name'), 40)}: "
                                  f"{mrkdwn.with_mentions(mrkdwn.safe(g.get('reason'), 160))}" for g in waiting[:3])
    return [line]


def _safe_url(url: str) -> bool:
    """A link only to an http(s) URL with nothing that would break the link or hide part of it."""
    return (url.startswith(("https://", "http://")) and not any(c in url for c in "<>|\n ")
            and sanitise(url, newlines=False) == url)
