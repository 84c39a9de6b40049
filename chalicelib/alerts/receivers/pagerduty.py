"""PagerDuty Events API v2: trigger when an incident fires (or is escalated here, or repeats), acknowledge when
someone acks it in Slack, resolve when it resolves. The dedup key is the incident id, so PagerDuty keeps one
incident per episode however often it is told."""

from __future__ import annotations

from typing import Any

from chalicelib.alerts import incidents
from chalicelib.alerts.policy import PagerDutyTarget
from chalicelib.alerts.receivers import http, secrets
from chalicelib.alerts.receivers.notification import Notification, ReceiverError
from chalicelib.alerts.text import clip, visible

_PASS = {"critical", "error", "warning", "info"}


def severity(config: PagerDutyTarget, label: str) -> str:
    if label in config.severity:
        return config.severity[label]
    if label in _PASS:
        return label
    return "critical" if label == "page" else "warning"


def event_action(n: Notification) -> str | None:
    if n.action == "resolved":
        return "resolve"
    if n.action == "acknowledge" or (n.action == "update" and n.incident.acked_by and not n.incident.ack_told):
        return "acknowledge"
    if n.action in ("firing", "repeat", "escalate"):
        return "trigger"
    return None  # other updates: PagerDuty already has the incident


def body(config: PagerDutyTarget, n: Notification, routing_key: str) -> dict[str, Any] | None:
    action = event_action(n)
    if action is None:
        return None
    inc = n.incident
    out: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": inc.id}
    if action != "trigger":
        return out
    firing = incidents.active(inc, n.now)
    first = firing[0] if firing else None
    labels = dict(first.labels) if first else dict(inc.group_labels)
    names = sorted({a.name for a in firing})
    summary = (f"[{inc.environment}] " + (names[0] if len(names) == 1 else f"{len(names)} alarms: " + ", ".join(names))
               + (f": {first.reason}" if first and first.reason and len(names) == 1 else ""))
    out["payload"] = {
        "summary": clip(visible(summary), 1024),
        "source": clip(f"{labels.get('account', n.account)}/{labels.get('region', '')}", 255),
        "severity": severity(config, labels.get("severity", "")),
        "timestamp": (first.since or inc.opened_at).isoformat() if first else inc.opened_at.isoformat(),
        "component": clip(labels.get("app") or labels.get("alarm", ""), 255),
        "group": clip(inc.route, 255),
        "class": clip(labels.get("namespace", "cloudwatch-alarm"), 255),
        "custom_details": {
            "incident": inc.id, "receiver": n.receiver, "group": inc.group_labels,
            "alerts": [{"alarm": a.name, "state": a.state, "since": a.since.isoformat() if a.since else None,
                        "reason": clip(a.reason, 500)} for a in firing[:20]],
            "escalation_step": n.step,
        },
    }
    out["client"] = "Switchboard"
    return out


def send(config: PagerDutyTarget, n: Notification) -> str:
    secret = secrets.read(config.secret)
    routing_key = secret.get("routing_key") or secret.get("value")
    if not isinstance(routing_key, str) or not routing_key:
        raise ReceiverError(f"secret {config.secret} holds no routing_key")
    payload = body(config, n, routing_key)
    if payload is None:
        return "nothing to tell PagerDuty"
    url = secret.get("url") if isinstance(secret.get("url"), str) else config.url
    status, answer = http.post_json(url, payload)
    return f"{payload['event_action']} {payload['dedup_key']}: HTTP {status}"
