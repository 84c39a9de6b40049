"""Helpers for the alerts tests: a policy schema whose alerts section is validated like the shipped one, inline
policies, alarm events, a controllable clock.

Import this, never conftest. ``use_alerts_schema(monkeypatch)``:
- has the loader validate ``alerts`` with ``chalicelib.alerts.policy.AlertsSection`` and run its ``dangling``
  (for inline test policies);
- makes sure alerts' registrations (the handler, the ``/ops`` commands) are in place. They are permanent, as
  alerts has landed: they are left registered after the test, so later tests see the repository as it is.
"""

from __future__ import annotations

import copy
import json
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.alerts.policy import AlertsSection
from chalicelib.policy import document, loader, references

PROD, STAGE, SHARED = "333344445555", "222233334444", "111122223333"
T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


class AlertsPolicy(document.Policy):
    alerts: AlertsSection = AlertsSection()


def _check(policy: Any) -> list[references.Dangling]:
    found = [d for d in references.check(policy) if d.path[:1] != ("alerts",)]
    found += [references.Dangling(p, msg, v) for p, msg, v in policy.alerts.dangling(policy)]
    return found


def use_alerts_schema(monkeypatch: Any, *, land: bool = True) -> None:
    """Registrations happen at import, once per process; they are set again here in case a test removed them."""
    from chalicelib import capabilities
    from chalicelib.policy import loader as policy

    monkeypatch.setattr(loader, "Policy", AlertsPolicy)
    monkeypatch.setattr(loader, "check", _check)
    policy.current.cache_clear()
    if not land:
        return
    from chalicelib.slackkit import commands

    names = {"silence": "silence", "silences": "list_silences", "unsilence": "unsilence", "ack": "ack"}
    from chalicelib.alerts import commands as alerts_commands
    from chalicelib.alerts import handlers

    capabilities._registry[capabilities.Capability.ALERTS] = handlers.on_alarm
    for name, function in names.items():
        commands.EXECUTORS[name] = getattr(alerts_commands, function)


BASE = """\
version: 1
account: {name: prod, id: "333344445555", environment: prod}
peers:
  stage: {id: "222233334444", environment: stage, receive: [release-candidate]}
  shared-services:
    id: "111122223333"
    environment: shared
    send: [reply, approval-request, announce]
    receive: [command, approval-result]
apps:
  web: {channel: "#team-web", alarm_prefixes: ["web-"]}
  api: {channel: "#team-api", alarm_prefixes: ["api-", "api-db-"]}
slack:
  front_door: shared-services
"""


def policy_text(alerts: str, base: str = BASE) -> str:
    return base + "alerts:\n" + textwrap.indent(textwrap.dedent(alerts).strip("\n"), "  ") + "\n"


def parse(alerts: str, base: str = BASE) -> AlertsPolicy:
    return loader.parse(policy_text(alerts, base))  # type: ignore[return-value]


def write_policy(tmp_path: Any, monkeypatch: Any, alerts: str, *, account: str = "prod",
                 base: str = BASE) -> AlertsPolicy:
    """Make ``alerts`` the current policy of this (emulated) account."""
    from chalicelib import settings
    from chalicelib.policy import loader as policy

    text = policy_text(alerts, base)
    if account != "prod":
        text = text.replace("name: prod,", f"name: {account},")
    path = tmp_path / f"{account}.yaml"
    path.write_text(text)
    monkeypatch.setenv("SWITCHBOARD_ACCOUNT_NAME", account)
    monkeypatch.setenv("SWITCHBOARD_SIGNING_KEY", f"alias/switchboard-signing-{account}")
    monkeypatch.setenv("SWITCHBOARD_POLICY_FILE", str(path))
    settings.get_settings.cache_clear()
    policy.current.cache_clear()
    return policy.current()  # type: ignore[return-value]


# ---- events ----

def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def alarm(name: str, state: str = "ALARM", *, previous: str | None = "OK", at: datetime = T0,
          account: str = PROD, region: str = "eu-west-1", namespace: str = "AWS/ApplicationELB",
          metric: str = "HTTPCode_Target_5XX_Count", dimensions: dict[str, str] | None = None,
          tags: dict[str, str] | None = None, reason: str = "Threshold Crossed: 3 datapoints > 10.0",
          description: str = "", event_id: str | None = None, **detail: Any) -> dict[str, Any]:
    """A CloudWatch Alarm State Change as EventBridge delivers it (shape of samples/events/alarm-*.json)."""
    dims = {"LoadBalancer": "app/web-prod/0123"} if dimensions is None else dimensions
    body: dict[str, Any] = {
        "alarmName": name,
        "state": {"value": state, "reason": reason, "timestamp": _stamp(at),
                  "reasonData": json.dumps({"version": "1.0", "recentDatapoints": [41.0, 52.0], "threshold": 10.0})},
        "configuration": {"description": description, "metrics": [{"id": "m1", "returnData": True, "metricStat": {
            "metric": {"namespace": namespace, "name": metric, "dimensions": dims}, "period": 60, "stat": "Sum"}}]},
    }
    if previous is not None:
        body["previousState"] = {"value": previous, "reason": "", "timestamp": _stamp(at - timedelta(minutes=5))}
    if tags is not None:
        body["alarmTags"] = tags
    body.update(detail)
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch", "account": account, "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region, "resources": [f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"], "detail": body}


def contributor(name: str, contributor_id: str, state: str = "ALARM", *, at: datetime = T0,
                attributes: dict[str, str] | None = None, account: str = PROD, **kw: Any) -> dict[str, Any]:
    event = alarm(name, state, previous=None, at=at, account=account, **kw)
    event["detail-type"] = "CloudWatch Alarm Contributor State Change"
    event["detail"]["alarmContributor"] = {"id": contributor_id, "attributes": attributes or {}}
    return event


def typed(event: dict[str, Any]) -> Any:
    from chalicelib.intake.events import AlarmEvent

    return AlarmEvent.model_validate(copy.deepcopy(event))


class Clock:
    """The alerts clock, moved by hand (``clock.now`` is patched to read it)."""

    def __init__(self, at: datetime = T0):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at

    def set(self, at: datetime) -> datetime:
        self.at = at
        return at
