"""What scaling says in Slack: previews, announcements, answers. Pure functions of plans, refusals and policy.

Every text that comes from outside (alarm names, AWS error messages, people's reasons) goes through
``mrkdwn.safe``/``mrkdwn.code``; Slack user ids are only ever put in a mention after checking their shape.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.scaling.plan import Capacity, Plan, Refusal, Request, allowed_step, describe, show
from chalicelib.scaling.policy import Guardrails
from chalicelib.slackkit import mrkdwn
from chalicelib.timefmt import shown

ARROW = "→"
who = mrkdwn.who  # a Slack user as a mention, Switchboard (plan.SYSTEM, "system") by name


def origin(request: Request) -> str:
    """Why: ``alarm `web-latency```, ``schedule `night```, ``<@U…> in Slack``."""
    kind, _, name = request.origin.partition(":")
    if kind in ("alarm", "schedule") and name:
        return f"{kind} {mrkdwn.code(name, 80)}"
    if kind == "slack":
        return f"{who(request.actor)} in Slack"
    if kind == "expiry":
        return "the end of a temporary change"
    return mrkdwn.safe(request.origin, 80)


def head(name: str, environment: str) -> str:
    return f"*{mrkdwn.safe(name, 80)}* ({mrkdwn.safe(environment, 40)})"


def change(plan: Plan) -> str:
    return f"{describe(plan.before)} {ARROW} {describe(plan.after)}"


def guardrails(g: Guardrails, count: int, environment: str) -> str:
    step = allowed_step(g, count)
    percent = f", {g.max_step_percent}%" if g.max_step_percent is not None else ""
    needs = [str(d) for d in g.approval.get(environment, ())]
    approval = f" · approval for scale-{'/'.join(needs)} in {mrkdwn.safe(environment, 40)}" if needs else ""
    return (f"floor {g.floor} · ceiling {g.ceiling} · step ≤ {step} (max {g.max_step}{percent}) · cooldown "
            f"{g.cooldown} · ≤ {g.max_changes_per_hour} changes/h{approval}")


def calls(plan: Plan) -> list[str]:
    return [mrkdwn.code(f"{a.service} {a.method} " + " ".join(f"{k}={v}" for k, v in a.params.items()), 300)
            for a in plan.actions]


def temporary(request: Request, until: datetime | None, before: Capacity | None = None) -> str | None:
    """``temporary: back to 2 at 14:00 UTC or when the alarm returns to OK, whichever is first``."""
    parts = []
    if until is not None:
        parts.append(f"at {shown(until)}")
    if request.revert_on_ok:
        parts.append("when the alarm returns to OK")
    if not parts:
        return None
    size = describe(before) if before is not None else "the size before"
    return f"temporary: back to {size} {' or '.join(parts)}" + (", whichever is first" if len(parts) > 1 else "")


def preview(name: str, environment: str, plan: Plan, g: Guardrails, until: datetime | None = None) -> list[str]:
    """The plan as Slack shows it before (or instead of) acting: current → new, calls, guardrails, notes."""
    hint = mode_hint(plan.before)
    lines = [f"{head(name, environment)}: {change(plan)}" + (f" · {hint}" if hint else "")]
    lines += [f"• call: {c}" for c in calls(plan)]
    lines.append(f"• guardrails: {guardrails(g, plan.before.count, environment)}")
    ends = temporary(plan.request, until, plan.before)
    if ends:
        lines.append(f"• {ends}")
    lines += [f"• {note(n)}" for n in plan.notes]
    return lines


def note(text: str, limit: int = 500) -> str:
    """A plan's note, escaped; a mention of a Slack user id (``<@U…>``, nothing else) stays a mention."""
    return mrkdwn.with_mentions(mrkdwn.safe(text, limit))


_HINTS = {"ecs-aas": "registered with Application Auto Scaling: the range moves, the service follows",
          "asg-managed": "the group has scaling policies: min/max move so the change holds"}


def mode_hint(capacity: Capacity) -> str:
    return _HINTS.get(str(capacity.mode), "")


def refused_head(name: str, environment: str, refusal: Refusal, wanted: str) -> str:
    now = f" (at {describe(refusal.current)})" if refusal.current is not None and not refusal.interference else ""
    return f":no_entry: {head(name, environment)}{now}: not {wanted}"


def refused(name: str, environment: str, refusal: Refusal, wanted: str) -> str:
    """The whole refusal on one line (announcements)."""
    reasons = "; ".join(mrkdwn.safe(r, 600) for r in refusal.reasons)
    return f"{refused_head(name, environment, refusal, wanted)} · {reasons} · asked by {origin(refusal.request)}"


def wanted(request: Request) -> str:
    if request.action == "restore":
        return "restored"
    if request.action == "add" and isinstance(request.count, int) and not isinstance(request.count, bool):
        return f"scaled by {'+' if request.count >= 0 else ''}{mrkdwn.safe(show(request.count), 60)}"
    return f"scaled to {mrkdwn.safe(show(request.count), 60)}"
