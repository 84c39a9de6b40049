"""Slack: one Block Kit message per incident and receiver, posted once and updated in place as the incident
changes (alerts join, resolve, someone acknowledges, a silence takes effect); repeats go in its thread.

Every text that came from AWS or from people (alarm names, reasons, descriptions, label values) goes through
``text.safe``/``text.plain``: escaped (no ``<!channel>``), invisible characters shown, cut to Block Kit's limits.
Only the front door holds the Slack token: messages go through ``slackkit.announcements.announce`` with a key (the
incident id and receiver), which posts the first one and updates that message in place afterwards. Each carries the
incident's ``seq`` as the card's version: the front door sends only the newest (a storm of updates to one incident
is one Slack write per budget slot, and a late, older one never shows over a newer one).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib import timefmt
from chalicelib.alerts import incidents
from chalicelib.alerts.incidents import AlertRecord, Incident
from chalicelib.alerts.policy import SlackTarget
from chalicelib.alerts.receivers.notification import Notification, ReceiverError
from chalicelib.alerts.text import plain, safe
from chalicelib.slackkit import mrkdwn
from chalicelib.slackkit.mrkdwn import who

MAX_ALERTS_SHOWN = 10

_LOOK = {
    "firing": (":rotating_light:", "FIRING", ":red_circle:"),
    "insufficient": (":grey_question:", "INSUFFICIENT DATA", ":white_circle:"),
    "flapping": (":repeat:", "FLAPPING", ":large_orange_circle:"),
    "resolved": (":white_check_mark:", "RESOLVED", ":large_green_circle:"),
    "silenced": (":no_bell:", "MUTED", ":no_bell:"),
    "acknowledged": (":eyes:", "ACKNOWLEDGED", ":eyes:"),
}
ACK_ACTION = "incident_ack"
SILENCE_ACTION = "silence_1h"


def _when(at: datetime | None) -> str:
    return timefmt.shown(at) if at else "?"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return f"{int(delta.total_seconds())} s"
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} d {hours % 24} h"


def _user(user: str | None) -> str:
    return who(user, 40, unknown="someone")


def status(n: Notification) -> str:
    inc = n.incident
    firing = incidents.active(inc, n.now)
    if n.action == "resolved" or not firing:
        return "resolved"
    if all(a.fp in n.muted for a in firing):
        return "silenced"
    if inc.acked_by:
        return "acknowledged"
    shown = {incidents.display(a, n.now, inc.timing) for a in firing}
    return "firing" if "firing" in shown else ("flapping" if "flapping" in shown else "insufficient")


def title(inc: Incident) -> str:
    names = sorted({a.name for a in incidents.current(inc)})
    if len(names) == 1:
        return names[0]
    labels = ", ".join(f"{k}={v}" for k, v in sorted(inc.group_labels.items()))
    return f"{len(names)} alarms" + (f" ({labels})" if labels else "")


def _alert_line(rec: AlertRecord, n: Notification) -> str:
    shown = incidents.display(rec, n.now, n.incident.timing)
    emoji = _LOOK.get(shown, _LOOK["firing"])[2]
    if shown == "resolved":
        state = f"resolved at {_when(rec.resolved_at)}"
        if rec.since and rec.resolved_at:
            state += f" after {_span(rec.resolved_at - rec.since)}"
    elif shown == "flapping":
        state = f"flapping ({len(rec.transitions)} changes recently), now {rec.state}"
    else:
        state = f"{rec.state} since {_when(rec.since)}"
    lines = [f"{emoji} *{safe(rec.name, 250)}* · {safe(state, 200)}"]
    if rec.reason:
        lines.append("> " + safe(rec.reason, 500))
    if rec.description:
        lines.append("_" + safe(rec.description, 300) + "_")
    if rec.fp in n.muted:
        lines.append(":no_bell: " + safe(n.muted[rec.fp], 200))
    return "\n".join(lines)


def card(n: Notification) -> tuple[str, list[dict[str, Any]]]:
    """The message (fallback text, blocks) for this notification. Pure."""
    inc = n.incident
    look = status(n)
    emoji, word, _ = _LOOK[look]
    name = title(inc)
    escalated = n.action == "escalate"
    header = f"{emoji} {'ESCALATED · ' if escalated else ''}{word} · {name}"
    labels = next(iter(incidents.current(inc)), None)
    facts = []
    for key, shown in (("environment", "Environment"), ("account", "Account"), ("region", "Region"),
                       ("severity", "Severity"), ("app", "App")):
        value = (labels.labels.get(key) if labels else None) or inc.group_labels.get(key)
        if value:
            facts.append(f"*{shown}* {safe(value, 100)}")
    if look == "resolved":
        took = incidents.resolved_after(inc)
        timing = f"*Resolved* after {_span(took)}" if took is not None else "*Resolved*"
    else:
        timing = f"*Opened* {_when(inc.opened_at)} · {_span(n.now - inc.opened_at)} ago"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": plain(header, mrkdwn.HEADER_TEXT), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn.truncate(
            " · ".join(facts) + "\n" + timing, mrkdwn.SECTION_TEXT)}},
    ]
    records = sorted(incidents.current(inc), key=lambda a: (a.state == "OK", a.name))
    for rec in records[:MAX_ALERTS_SHOWN]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": mrkdwn.truncate(_alert_line(rec, n), mrkdwn.SECTION_TEXT)}})
    notes = []
    if len(records) > MAX_ALERTS_SHOWN:
        notes.append(f"… and {len(records) - MAX_ALERTS_SHOWN} more alerts")
    if inc.acked_by:
        notes.append(f":eyes: Acknowledged by {_user(inc.acked_by)} at {_when(inc.acked_at)}")
    for step in inc.escalations:
        notes.append(f":mega: Escalated to {safe(step['receiver'], 64)} (step {step['step']})")
    if escalated:
        notes.append(f":mega: Not acknowledged: escalated here (step {n.step})")
    notes.append(f"incident `{inc.id}` · route `{safe(inc.route, 200)}` · receiver {safe(inc.receiver, 64)}")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn.truncate(
        "\n".join(notes), mrkdwn.CONTEXT_TEXT)}]})
    if look != "resolved":
        buttons = []
        if not inc.acked_by:
            buttons.append({"type": "button", "action_id": ACK_ACTION, "value": inc.id, "style": "primary",
                            "text": {"type": "plain_text", "text": "Ack"}})
        buttons.append({"type": "button", "action_id": SILENCE_ACTION, "value": inc.id,
                        "text": {"type": "plain_text", "text": "Silence 1h"}})
        blocks.append({"type": "actions", "block_id": f"incident:{inc.id}", "elements": buttons})
    text = f"{word}: {safe(name, 300)} ({safe(inc.environment, 64)})"
    return text, blocks[: mrkdwn.BLOCKS_PER_MESSAGE]


def reminder(n: Notification) -> str | None:
    """A repeat is a short new message (it notifies the channel, unlike an update) pointing at the card."""
    if n.action != "repeat":
        return None
    return (f":repeat: Still firing after {_span(n.now - n.incident.opened_at)}: {safe(title(n.incident), 300)} "
            f"({safe(n.incident.environment, 64)}) · incident `{n.incident.id}` (the card above shows it)")


def key(n: Notification) -> str:
    """The message's key at the front door: one message per incident episode and receiver."""
    return f"{n.incident.id}/{n.receiver}"


def send(config: SlackTarget, n: Notification) -> str:
    """Through the front door's keyed announcements: the first one posts, later ones update it in place (in the
    front-door account directly, from any other account as an ``announce`` event)."""
    from chalicelib.policy import loader as policies
    from chalicelib.slackkit import announcements

    current = policies.current()
    if current.slack.front_door is None:
        raise ReceiverError("policy names no slack.front_door: nobody can post to Slack")
    text, blocks = card(n)
    try:
        announcements.announce(channel=config.channel, text=text, blocks=blocks, correlation_id=n.correlation_id,
                               key=key(n), version=n.seq)  # only the newest version of the card is sent
        extra = reminder(n)
        if extra:
            announcements.announce(channel=config.channel, text=extra, correlation_id=n.correlation_id)
    except RuntimeError as exc:  # the policy does not let this account announce
        raise ReceiverError(str(exc)) from None
    where = "" if current.slack.front_door == current.account.name else f" via {current.slack.front_door}"
    return f"announced in {config.channel}{where}" + (" + reminder" if n.action == "repeat" else "")
