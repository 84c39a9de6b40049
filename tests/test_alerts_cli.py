"""`switchboard routes test`: labels or an event in, the matched route path and receivers out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localworld import alerts_cli
from tests.alerts_kit import policy_text, use_alerts_schema

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "events"
ALERTS = """
receivers:
  default: {slack: {channel: "#alerts"}}
  web: {slack: {channel: "#team-web"}}
  web-pager: {pagerduty: {secret: pd/web}}
route:
  receiver: default
  group_by: [alarm]
  routes:
    - matchers: ["app=web"]
      receiver: web
      escalation: {after: 15m, receivers: [web-pager], repeat: 2}
      routes:
        - matchers: ["state=INSUFFICIENT_DATA"]
          receiver: default
"""


@pytest.fixture
def policy_file(tmp_path, monkeypatch):
    use_alerts_schema(monkeypatch, land=False)
    path = tmp_path / "prod.yaml"
    path.write_text(policy_text(ALERTS))
    return str(path)


def test_labels_on_the_command_line(policy_file, capsys):
    assert alerts_cli.main(["routes", "test", "--policy", policy_file, "alarm=web-5xx", "app=web"]) == 0
    out = capsys.readouterr().out
    assert 'route route.routes[0]: {} -> {app="web"}' in out
    assert "receiver web   group_by [alarm]   group_wait 30s   group_interval 5m   repeat_interval 4h" in out
    assert "escalation: after 15m to web-pager (x2)" in out
    assert out.strip().endswith("receivers: web")


def test_state_is_a_label(policy_file, capsys):
    alerts_cli.main(["routes", "test", "--policy", policy_file, "--state", "INSUFFICIENT_DATA", "app=web"])
    assert "receivers: default" in capsys.readouterr().out


def test_an_alarm_event_file(policy_file, capsys):
    assert alerts_cli.main(["routes", "test", "--policy", policy_file, "--json",
                            str(SAMPLES / "alarm-web-5xx-prod.json")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["labels"]["app"] == "web" and report["labels"]["dim_LoadBalancer"] == "app/web-prod/0123"
    assert report["receivers"] == ["web"]
    assert report["routes"][0]["group_key"] == "route.routes[0]:{alarm='web-5xx'}"


def test_a_labels_file_and_the_shipped_policy(tmp_path, monkeypatch, capsys):
    use_alerts_schema(monkeypatch, land=False)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"alarm": "web-5xx", "app": "web", "state": "ALARM"}))
    assert alerts_cli.main(["routes", "test", "--account", "prod", str(labels)]) == 0
    assert "receivers: web-oncall" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [["alarm"], ["=x"]])
def test_bad_input_exits_2(policy_file, capsys, bad):
    assert alerts_cli.main(["routes", "test", "--policy", policy_file, *bad]) == 2
    assert "is not label=value" in capsys.readouterr().err


def test_an_invalid_policy_exits_2_with_its_problems(tmp_path, monkeypatch, capsys):
    use_alerts_schema(monkeypatch, land=False)
    path = tmp_path / "bad.yaml"
    path.write_text(policy_text(ALERTS.replace("receiver: web\n", "receiver: webb\n")))
    assert alerts_cli.main(["routes", "test", "--policy", str(path), "app=web"]) == 2
    assert "unknown receiver 'webb'" in capsys.readouterr().err


@pytest.mark.parametrize(("document", "said"), [
    ({"version": "0", "id": "x", "detail-type": "CloudWatch Alarm Configuration Change", "source": "aws.cloudwatch",
      "account": "333344445555", "time": "2026-12-06T10:00:00Z", "region": "eu-west-1", "resources": [],
      "detail": {"alarmName": "web-5xx", "operation": "update", "configuration": {}}},
     "is an alarm configuration change: it carries no alert (only state changes are routed)"),
    ({"AlarmName": "web-5xx", "NewStateValue": "ALARM", "NewStateReason": "x", "OldStateValue": "OK"},
     "is an alarm action's SNS message, not the EventBridge event Switchboard routes: pass its labels instead, "
     "e.g. alertname=web-5xx"),
    ({"version": "0", "id": "x", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
      "account": "333344445555", "time": "2026-12-06T10:00:00Z", "region": "eu-west-1", "resources": [],
      "detail": {"alarmName": "web-5xx", "state": {"value": "MAYBE"}}},
     "is not an alarm state change event: detail.state.value: Input should be 'OK', 'ALARM' or 'INSUFFICIENT_DATA'"),
])
def test_payloads_that_are_not_alarm_state_changes_get_one_clear_line(policy_file, tmp_path, capsys, document, said):
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(document))
    assert alerts_cli.main(["routes", "test", "--policy", policy_file, str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"routes test: {path} {said}" and "pydantic.dev" not in err
