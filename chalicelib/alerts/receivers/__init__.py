"""Receivers: thin adapters that tell one integration about one incident.

``deliver(name, receiver, notification)`` sends to each integration the receiver has (Slack, PagerDuty, SNS,
webhook) and says which succeeded. Each adapter turns the same ``Notification`` (plain data: the incident as it
is, what happened, what is muted) into its own request; nothing here decides *whether* to notify (that is
``incidents.plan``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.alerts.incidents import Incident


class ReceiverError(RuntimeError):
    """A delivery that failed (after the adapter's own retries); the message says why, without secrets."""


@dataclass(frozen=True)
class Notification:
    action: str  # firing | update | repeat | resolved | escalate | acknowledge
    receiver: str
    incident: Incident
    now: datetime
    seq: int
    account: str  # the account whose Switchboard sends it
    muted: dict[str, str] = field(default_factory=dict)
    step: int | None = None  # escalation step

    @property
    def status(self) -> str:
        if self.action == "resolved":
            return "resolved"
        return "acknowledged" if self.incident.acked_by else "firing"

    @property
    def correlation_id(self) -> str:
        return f"incident:{self.incident.id}:{self.seq}"


@dataclass(frozen=True)
class Delivery:
    receiver: str
    integration: str
    ok: bool
    detail: str


def deliver(name: str, receiver: object, notification: Notification) -> list[Delivery]:
    """Send to every integration of ``receiver`` (a policy.Receiver); a failure of one does not stop the others."""
    from chalicelib.alerts.receivers import pagerduty, slack, sns, webhook

    adapters = {"slack": slack.send, "pagerduty": pagerduty.send, "sns": sns.send, "webhook": webhook.send}
    done = []
    for integration, config in receiver.integrations().items():  # type: ignore[attr-defined]
        try:
            detail = adapters[integration](config, notification)
            done.append(Delivery(name, integration, True, detail))
        except Exception as exc:  # noqa: BLE001 - one integration failing must not hide the others' outcome
            why = str(exc) if isinstance(exc, ReceiverError) else f"{type(exc).__name__}: {str(exc)[:200]}"
            done.append(Delivery(name, integration, False, why))
    return done
