"""Fixtures for the alerts tests that run against the emulated account (moto), the Slack stand-in and the
receivers stand-in (PagerDuty, webhooks). Test modules import the fixtures they use from here."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from chalicelib.alerts import flush, routing, store
from chalicelib.alerts.caches import forget_caches
from chalicelib.alerts.receivers import http as receiver_http
from chalicelib.intake.pipeline import Kind, handle
from localworld.alerts_standin import ReceiversStandIn
from tests.alerts_kit import T0, Clock, use_alerts_schema, write_policy
from tests.events import context
from tests.frontdoor_kit import put_slack_secret

PD_KEY = "R0UT1NGKEY0F32CHARACTERSEXACTLY0"
assert len(PD_KEY) == 32

# This account (prod) is its own front door here, so Slack messages go straight to the stand-in.
FRONT = """\
version: 1
account: {name: prod, id: "333344445555", environment: prod}
peers:
  stage: {id: "222233334444", environment: stage, receive: [release-candidate]}
apps:
  web: {channel: "#team-web", alarm_prefixes: ["web-"]}
  api: {channel: "#team-api", alarm_prefixes: ["api-"]}
slack:
  front_door: prod
  roles:
    prod: {viewer: [S0ENG], operator: [S0PLATFORM], approver: [S0LEADS], admin: [U0ADMIN001]}
"""

ALERTS = """
receivers:
  prod-alerts: {slack: {channel: "#prod-alerts"}}
  web-oncall: {slack: {channel: "#team-web"}}
  web-pager: {pagerduty: {secret: switchboard/pagerduty/web}}
route:
  receiver: prod-alerts
  group_by: [alarm]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ["app=web"]
      receiver: web-oncall
      escalation: {after: 10m, receivers: [web-pager]}
"""


@pytest.fixture(scope="session", name="receivers_standin")
def receivers_standin_fixture():
    server = ReceiversStandIn().start()
    yield server
    server.stop()


@dataclass
class AlertsWorld:
    clock: Clock
    slack: Any
    receivers: ReceiversStandIn
    tmp_path: Any
    monkeypatch: Any
    outcomes: list[dict[str, Any]] = field(default_factory=list)

    def policy(self, alerts: str = ALERTS, base: str = FRONT, account: str = "prod") -> Any:
        found = write_policy(self.tmp_path, self.monkeypatch, alerts, base=base, account=account)
        routing._compiled.clear()
        return found

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        outcome = handle(Kind.ALARM, event, context())
        self.outcomes.append(outcome)
        return outcome

    @staticmethod
    def result(outcome: dict[str, Any]) -> dict[str, Any]:
        """The alerts capability's part of an intake outcome (other capabilities may hear alarms too)."""
        [found] = [r for r in outcome["results"] if r["capability"] == "alerts"]
        return found

    def flush(self, **advance: float) -> dict[str, int]:
        if advance:
            self.clock.advance(**advance)
        return flush.run()

    def messages(self, channel: str) -> list[Any]:
        return [m for m in self.slack.messages(channel) if m.thread_ts is None]

    def replies(self, channel: str) -> list[Any]:
        return [m for m in self.slack.messages(channel) if m.thread_ts is not None]

    def open(self) -> list[Any]:
        return store.open_incidents()

    def slack_calls(self) -> Counter:
        return Counter(c.method for c in self.slack.calls)


@pytest.fixture(name="world")
def world_fixture(aws, slack, receivers_standin, monkeypatch, tmp_path) -> AlertsWorld:
    use_alerts_schema(monkeypatch)
    monkeypatch.setenv("SWITCHBOARD_SLACK_API_URL", slack.api_url)
    clock = Clock(T0)
    monkeypatch.setattr("chalicelib.alerts.clock.now", clock)
    # the front door's send budget reads the story's clock too: minutes between two cards are minutes to it
    monkeypatch.setattr("chalicelib.slackkit.pacing.wall", lambda: clock().timestamp())
    monkeypatch.setattr(receiver_http, "BACKOFF", 0.0)
    receivers_standin.reset()
    forget_caches()
    put_slack_secret()
    boto3.client("secretsmanager").create_secret(Name="switchboard/pagerduty/web", SecretString=json.dumps(
        {"routing_key": PD_KEY, "url": receivers_standin.pagerduty_url}))
    found = AlertsWorld(clock, slack, receivers_standin, tmp_path, monkeypatch)
    found.policy()
    yield found
    forget_caches()


def blocks_text(message: Any) -> str:
    return json.dumps(message.blocks, ensure_ascii=False) + " " + message.text
