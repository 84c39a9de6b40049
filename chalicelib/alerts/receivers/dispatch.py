"""``deliver(name, receiver, notification)`` sends to each integration the receiver has (Slack, PagerDuty, SNS,
webhook) and says which succeeded."""

from __future__ import annotations

from chalicelib.alerts.receivers.notification import Delivery, Notification, ReceiverError


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
