"""Routing is a pure function from labels to routes, table-tested with inline YAML (Alertmanager's route
tests): every matcher operator, continue, inheritance of options down the tree, the default route; and the
alerts section's own validation (an undefined receiver is rejected at load, with its path and line)."""

from __future__ import annotations

import pytest

from chalicelib import matchers as m
from chalicelib.alerts import routing
from chalicelib.alerts.policy import section
from chalicelib.policy.loader import PolicyError
from tests.alerts_kit import parse, use_alerts_schema


@pytest.fixture(autouse=True)
def _schema(monkeypatch):
    use_alerts_schema(monkeypatch, land=False)


TREE = """
receivers:
  default: {slack: {channel: "#alerts"}}
  web: {slack: {channel: "#team-web"}}
  web-pager: {pagerduty: {secret: switchboard/pagerduty/web}}
  api: {slack: {channel: "#team-api"}}
  not-prod: {slack: {channel: "#not-prod"}}
  quiet: {slack: {channel: "#quiet"}}
  audit: {sns: {topic_arn: "arn:aws:sns:eu-west-1:333344445555:alerts"}}
  db: {webhook: {url: "https://hooks.example/db"}}
route:
  receiver: default
  group_by: [alarm]
  group_wait: 10s
  routes:
    - matchers: ["app=web"]
      receiver: web
      group_interval: 1m
      escalation: {after: 15m, receivers: [web-pager]}
      routes:
        - matchers: ["severity=~page|critical"]
          receiver: web-pager
          repeat_interval: 1h
        - matchers: ["state=INSUFFICIENT_DATA"]
          group_by: [...]
    - matchers: ["alarm=~api-.*", "environment!=prod"]
      receiver: not-prod
    - matchers: ["alarm=~api-.*"]
      receiver: api
      group_by: [app, region]
    - matchers: ["namespace=AWS/RDS"]
      receiver: audit
      continue: true
    - matchers: ['namespace=~"AWS/(RDS|DynamoDB)"']
      receiver: db
    - matchers: ["alarm!~.*-canary", 'tag_team!=""', "tag_team!~core|platform"]
      receiver: quiet
"""


def labels(**kw: str) -> dict[str, str]:
    return {"account": "prod", "environment": "prod", "region": "eu-west-1", "state": "ALARM", **kw}


@pytest.mark.parametrize(("given", "expected"), [
    # = on a label; a nested child (=~ anchored, alternation) takes it; options inherited then overridden
    (labels(alarm="web-5xx", app="web", severity="page"), [("route.routes[0].routes[0]", "web-pager")]),
    # no child of web matches: web itself is the match
    (labels(alarm="web-latency", app="web", severity="ticket"), [("route.routes[0]", "web")]),
    # =~ is anchored at both ends: "pagerduty" is not "page|critical"
    (labels(alarm="web-x", app="web", severity="pagerduty"), [("route.routes[0]", "web")]),
    # = on the state label: INSUFFICIENT_DATA routes on its own
    (labels(alarm="web-5xx", app="web", severity="ticket", state="INSUFFICIENT_DATA"),
     [("route.routes[0].routes[1]", "web")]),
    # != : api alarms outside prod
    (labels(alarm="api-5xx", environment="stage"), [("route.routes[1]", "not-prod")]),
    # ... and in prod the next sibling (first match wins without continue)
    (labels(alarm="api-5xx"), [("route.routes[2]", "api")]),
    # =~ needs the whole value: "my-api-5xx" is not api-.*
    (labels(alarm="my-api-5xx", tag_team="core"), [("route", "default")]),
    # continue: true -> the next matching sibling too
    (labels(alarm="db-cpu", namespace="AWS/RDS"), [("route.routes[3]", "audit"), ("route.routes[4]", "db")]),
    (labels(alarm="ddb-throttles", namespace="AWS/DynamoDB"), [("route.routes[4]", "db")]),
    # !~ and != with the empty value: a label that is missing matches as ""
    (labels(alarm="queue-depth", tag_team="payments"), [("route.routes[5]", "quiet")]),
    (labels(alarm="queue-depth"), [("route", "default")]),  # tag_team missing: tag_team!= fails
    (labels(alarm="queue-depth", tag_team="platform"), [("route", "default")]),  # !~ core|platform fails
    (labels(alarm="queue-canary", tag_team="payments"), [("route", "default")]),  # !~ .*-canary fails
    # nothing matches: the root's default receiver
    (labels(alarm="anything"), [("route", "default")]),
    ({}, [("route", "default")]),
])
def test_route_table(given, expected):
    root = routing.compile(section(parse(TREE)))
    assert [(n.path, n.options.receiver) for n in routing.route(root, given)] == expected


def test_options_are_inherited_down_the_tree_and_overridden_where_given():
    root = routing.compile(section(parse(TREE)))
    web, pager = root.children[0], root.children[0].children[0]
    assert (root.options.group_by, root.options.group_wait.seconds, root.options.group_interval.seconds,
            root.options.repeat_interval.seconds) == (("alarm",), 10, 300, 4 * 3600)  # defaults: 5m and 4h
    assert (web.options.group_by, web.options.group_wait.seconds, web.options.group_interval.seconds) == (
        ("alarm",), 10, 60)
    assert (pager.options.group_wait.seconds, pager.options.group_interval.seconds,
            pager.options.repeat_interval.seconds) == (10, 60, 3600)
    assert pager.options.escalation == web.options.escalation and web.options.escalation.receivers == (
        "web-pager",)
    assert root.options.escalation is None
    assert root.children[0].children[1].options.group_by is None  # [...]: every label
    assert root.children[2].options.group_by == ("app", "region")


def test_group_keys_follow_group_by():
    root = routing.compile(section(parse(TREE)))
    api = root.children[2]
    a = labels(alarm="api-5xx", app="api")
    b = labels(alarm="api-latency", app="api")
    assert routing.group_key(api, a) == routing.group_key(api, b) == "route.routes[2]:{app='api',region='eu-west-1'}"
    web = root.children[0]
    assert routing.group_key(web, labels(alarm="web-5xx")) != routing.group_key(web, labels(alarm="web-latency"))
    every = root.children[0].children[1]
    assert routing.group_labels(every, {"x": "1", "alarm": "a"}) == {"alarm": "a", "x": "1"}


def test_defaults_without_group_by_put_everything_in_one_group():
    root = routing.compile(section(parse('receivers: {a: {slack: {channel: "#a"}}}\nroute: {receiver: a}')))
    assert routing.group_key(root, labels(alarm="x")) == routing.group_key(root, labels(alarm="y")) == "route:{}"


def test_explain_is_what_routes_test_prints():
    report = routing.explain(section(parse(TREE)), labels(alarm="web-5xx", app="web", severity="critical"))
    assert report["receivers"] == ["web-pager"]
    [found] = report["routes"]
    assert found["path"] == ["{}", '{app="web"}', '{severity=~"page|critical"}']
    assert (found["group_wait"], found["group_interval"], found["repeat_interval"]) == ("10s", "1m", "1h")
    assert found["escalation"] == {"after": "15m", "receivers": ["web-pager"], "repeat": 1}


# ---- matchers ----

@pytest.mark.parametrize(("text", "given", "matches"), [
    ("app=web", {"app": "web"}, True),
    ("app=web", {"app": "webx"}, False),
    ("app=web", {}, False),
    ('app="web"', {"app": "web"}, True),  # Alertmanager's quoted form
    ("app!=web", {"app": "api"}, True),
    ("app!=web", {}, True),
    ("app!=web", {"app": "web"}, False),
    ("alarm=~web-.*", {"alarm": "web-5xx"}, True),
    ("alarm=~web-.*", {"alarm": "old-web-5xx"}, False),  # anchored
    ("alarm=~5xx", {"alarm": "web-5xx"}, False),
    ("alarm!~web-.*", {"alarm": "api-5xx"}, True),
    ("alarm!~web-.*", {"alarm": "web-5xx"}, False),
    ("alarm!~web-.*", {}, True),
    ("env=prod", {"environment": "prod"}, True),  # alias: env reads environment
    ("alertname=HighCPU", {"alarm": "HighCPU"}, True),  # alias: alertname reads alarm
    ("env=prod", {"env": "dev", "environment": "prod"}, False),  # ... never over a label of its own name
    ("env=dev", {"env": "dev", "environment": "prod"}, True),
    ("alertname=x", {"alertname": "x", "alarm": "y"}, True),
    ('tag_team=""', {}, True),  # = "" matches a missing label
])
def test_matchers(text, given, matches):
    assert m.parse(text).matches(given) is matches


@pytest.mark.parametrize(("text", "why"), [
    ("app", "end of input: expected an operator"), ("=web", "0:1: unexpected =: expected label name"),
    ("alarm=~(", "7:8: bad regex"), ("app==web", "4:5: unexpected =: expected label value"),
    ("tag_team=", "9:9: end of input: expected label value"),
])
def test_bad_matchers_are_refused(text, why):
    """``app==web`` and ``tag_team=`` were read by the old parser (as app="=web" and tag_team=""): Alertmanager's
    classic parser did too, its UTF-8 parser (the grammar here) refuses them; quote instead: app="=web"."""
    with pytest.raises(m.MatcherError, match=why):
        m.parse(text)


# ---- validation: dangling references are errors at load, with path and line ----

def problems(alerts: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse(alerts)
    return [str(p) for p in caught.value.problems]


def test_undefined_receivers_are_rejected_at_load_with_path_and_line():
    bad = TREE.replace("      receiver: api\n", "      receiver: api-team\n").replace(
        "receivers: [web-pager]", "receivers: [web-pagr]")
    found = problems(bad)
    assert "alerts.route.routes[2]: unknown receiver 'api-team' (line 43)" in found
    assert "alerts.route.routes[0].escalation: unknown receiver 'web-pagr' (line 33)" in found
    assert len(found) == 2


@pytest.mark.parametrize(("alerts", "expected"), [
    ('receivers: {a: {slack: {channel: "#a"}}}\nroute: {group_by: [alarm]}',
     "alerts.route: the root route needs a default receiver (line 17)"),
    ('receivers: {a: {slack: {channel: "#a"}}}\nroute: {receiver: a, matchers: ["app=web"]}',
     "alerts.route: the root route takes every alert: it has no matchers (line 17)"),
    ('receivers: {a: {slack: {channel: "#a"}}}\nroute: {receiver: a, routes: [{matchers: ["x=1"], '
     'mute_time_intervals: [weekend]}]}',
     "alerts.route.routes[0]: unknown time interval 'weekend' (line 17)"),
    ('receivers: {a: {slack: {channel: "#a"}}}\nroute: {receiver: a, routes: [{matchers: ["x=~("]}]}',
     "alerts.route.routes[0].matchers[0]: value error, 3:4: bad regex"),
    ('receivers: {a: {}}\nroute: {receiver: a}',
     "alerts.receivers.a: value error, a receiver needs at least one of slack, pagerduty, sns, webhook"),
    ('receivers: {a: {sns: {topic_arn: "arn:aws:s3:::bucket"}}}\nroute: {receiver: a}',
     "alerts.receivers.a.sns.topic_arn"),
    ('receivers: {a: {slack: {channel: "#a"}}}\nroute: {receiver: a, group_by: [..., alarm]}',
     "alerts.route: group_by '...' (every label) cannot be combined with other labels"),
    ('receivers: {a: {slack: {channel: "#a"}}}\nroute: {receiver: a}\ntime_intervals: {w: {timezone: Mars/Base}}',
     "alerts.time_intervals.w: unknown time zone 'Mars/Base'"),
    ('receivers: {a: {slack: {channel: "#a"}}}\nroute: {receiver: a, routes: [{receiver: a, colour: red}]}',
     "alerts.route.routes[0].colour: unknown field"),
])
def test_each_problem_of_the_alerts_section_is_reported(alerts, expected):
    assert any(p.startswith(expected) for p in problems(alerts)), problems(alerts)


def test_slack_channel_shorthand_still_reads():
    loaded = section(parse('receivers: {a: {slack_channel: "#a"}}\nroute: {receiver: a}'))
    assert loaded.receivers["a"].slack.channel == "#a"


def test_shipped_policies_read_as_the_alerts_section():
    from pathlib import Path

    from chalicelib.policy import loader as policy

    for name in ("stage", "prod", "shared-services"):
        loaded = policy.load(Path(__file__).resolve().parent.parent / "chalicelib" / "policies" / f"{name}.yaml")
        assert routing.compile(section(loaded)) is not None
