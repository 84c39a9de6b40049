"""What every receiver adapter is given and answers: a ``Notification``, a ``Delivery``, a ``ReceiverError``.

Each adapter turns the same ``Notification`` (plain data: the incident as it
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
