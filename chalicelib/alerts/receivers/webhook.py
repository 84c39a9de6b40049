"""A generic webhook: Alertmanager's webhook JSON (version 4) plus Switchboard's incident fields, POSTed and
signed: ``X-Switchboard-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with the secret's token, and
``X-Switchboard-Timestamp`` (receivers should refuse old timestamps, as Slack's v0 scheme does)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from chalicelib.alerts import incidents
from chalicelib.alerts.policy import WebhookTarget
from chalicelib.alerts.receivers import http, secrets
from chalicelib.alerts.receivers.notification import Notification, ReceiverError


def payload(n: Notification) -> dict[str, Any]:
    inc = n.incident
    records = incidents.current(inc)
    alerts = []
    for rec in records:
        shown = incidents.display(rec, n.now, inc.timing)
        alerts.append({
            "status": "resolved" if shown == "resolved" else "firing", "labels": rec.labels,
            "annotations": {"reason": rec.reason, "description": rec.description},
            "startsAt": rec.since.isoformat() if rec.since else None,
            "endsAt": rec.resolved_at.isoformat() if rec.resolved_at else None,
            "fingerprint": rec.fp, "flapping": shown == "flapping", "muted": n.muted.get(rec.fp),
        })
    common = {}
    if records:
        first = records[0].labels
        common = {k: v for k, v in first.items() if all(r.labels.get(k) == v for r in records)}
    return {
        "version": "4", "status": "resolved" if n.status == "resolved" else "firing", "receiver": n.receiver,
        "groupKey": inc.group_key, "groupLabels": inc.group_labels, "commonLabels": common, "alerts": alerts,
        "incident": {"id": inc.id, "action": n.action, "seq": n.seq, "acknowledged_by": inc.acked_by,
                     "escalation_step": n.step, "route": inc.route, "account": n.account},
    }


def sign(token: str, timestamp: str, raw: bytes) -> str:
    return "v1=" + hmac.new(token.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()


def send(config: WebhookTarget, n: Notification) -> str:
    secret = secrets.read(config.secret) if config.secret else {}
    url = config.url or secret.get("url")
    if not isinstance(url, str) or not url:
        raise ReceiverError(f"webhook secret {config.secret} holds no url")
    token = secret.get("token") or (secret.get("value") if "url" not in secret else None)
    raw = json.dumps(payload(n), separators=(",", ":"), default=str).encode()
    timestamp = str(int(n.now.timestamp()))
    headers = {"X-Switchboard-Timestamp": timestamp}
    if isinstance(token, str) and token:
        headers["X-Switchboard-Signature"] = sign(token, timestamp, raw)
    status, _ = http.post_json(url, {}, headers=headers, raw=raw)
    return f"POST {n.action}: HTTP {status}"
