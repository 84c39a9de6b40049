"""Conformance with Alertmanager: its published matcher-parser cases (matcher/parse/parse_test.go, the
classic-vs-UTF-8 compliance table), its route-matching cases (dispatch/route_test.go) and what its config loader
refuses (config/config.go), as facts written here, run against Switchboard's parser, routing and policy loader.

Alertmanager's error texts are compared word for word; where Alertmanager says only "end of input: …" Switchboard
adds the position in front (``9:9: end of input: …``). Deliberate differences are listed in docs/ARCHITECTURE.md
(alert routing) and tested at the end of this file.
"""

from __future__ import annotations

import pytest

from chalicelib import matchers as m
from chalicelib.alerts import routing
from chalicelib.alerts.policy import section
from chalicelib.policy.loader import PolicyError
from chalicelib.timefmt import duration_text
from tests.alerts_kit import parse, use_alerts_schema


@pytest.fixture(autouse=True)
def _schema(monkeypatch):
    use_alerts_schema(monkeypatch, land=False)


def M(label, op, value):  # noqa: N802 - Alertmanager's mustNewMatcher
    return m.Matcher(label, op, value)


# ---- matcher/parse/parse_test.go: TestMatchers ----

ACCEPTED = [
    ("", ()),
    ("{}", ()),
    ("{foo=bar}", (M("foo", "=", "bar"),)),
    ("{foo=bar,}", (M("foo", "=", "bar"),)),
    ("{foo!=bar}", (M("foo", "!=", "bar"),)),
    ("{foo=~[a-z]+}", (M("foo", "=~", "[a-z]+"),)),
    ("{foo!~[a-z]+}", (M("foo", "!~", "[a-z]+"),)),
    ("{foo=🙂}", (M("foo", "=", "🙂"),)),
    ("{foo=🙂bar}", (M("foo", "=", "🙂bar"),)),
    ("foo=bar", (M("foo", "=", "bar"),)),
    ("foo=bar,", (M("foo", "=", "bar"),)),
    ("foo!=bar", (M("foo", "!=", "bar"),)),
    ("foo=~[a-z]+", (M("foo", "=~", "[a-z]+"),)),
    ("foo!~[a-z]+", (M("foo", "!~", "[a-z]+"),)),
    ('{"foo"="bar"}', (M("foo", "=", "bar"),)),
    ('{"foo"="bar",}', (M("foo", "=", "bar"),)),
    ('{"foo"!="bar"}', (M("foo", "!=", "bar"),)),
    ('{"foo"=~"[a-z]+"}', (M("foo", "=~", "[a-z]+"),)),
    ('{"foo"=~"\\\\d+"}', (M("foo", "=~", "\\d+"),)),
    ('{"foo"!~"[a-z]+"}', (M("foo", "!~", "[a-z]+"),)),
    ('{"foo"="🙂"}', (M("foo", "=", "🙂"),)),
    ('{"foo"="\\xf0\\x9f\\x99\\x82"}', (M("foo", "=", "🙂"),)),
    ('{"foo"="\\U0001f642"}', (M("foo", "=", "🙂"),)),
    ('{"foo"="🙂bar"}', (M("foo", "=", "🙂bar"),)),
    ('{"foo"="bar\\n"}', (M("foo", "=", "bar\n"),)),
    ('{"foo"="bar\\t"}', (M("foo", "=", "bar\t"),)),
    ('{"foo"="\\"bar\\""}', (M("foo", "=", '"bar"'),)),
    ('{"foo"="bar\\\\"}', (M("foo", "=", "bar\\"),)),
    ('"foo"="bar"', (M("foo", "=", "bar"),)),
    ('"foo"="bar",', (M("foo", "=", "bar"),)),
    ("{foo=bar,bar!=baz}", (M("foo", "=", "bar"), M("bar", "!=", "baz"))),
    ('{foo="bar",bar!="baz"}', (M("foo", "=", "bar"), M("bar", "!=", "baz"))),
    ("foo=bar,bar!=baz", (M("foo", "=", "bar"), M("bar", "!=", "baz"))),
    ('foo="bar",bar!="baz"', (M("foo", "=", "bar"), M("bar", "!=", "baz"))),
    # matcher/compliance: inputs both of Alertmanager's parsers read alike
    ('{foo="bar"}', (M("foo", "=", "bar"),)),
    ("{foo=~bar.*}", (M("foo", "=~", "bar.*"),)),
    ('{foo!~"bar.*"}', (M("foo", "!~", "bar.*"),)),
    ('{foo="bar", baz!~".*quux", derp="wat"}', (M("foo", "=", "bar"), M("baz", "!~", ".*quux"),
                                                M("derp", "=", "wat"))),
    ('{foo="bar", instance=~"some-api.*"}', (M("foo", "=", "bar"), M("instance", "=~", "some-api.*"))),
    ('{foo=""}', (M("foo", "=", ""),)),
    ('{foo="bar,quux", job="job1"}', (M("foo", "=", "bar,quux"), M("job", "=", "job1"))),
    ('{foo = "bar", dings != "bums", }', (M("foo", "=", "bar"), M("dings", "!=", "bums"))),
    ("foo=bar,dings!=bums", (M("foo", "=", "bar"), M("dings", "!=", "bums"))),
    ('{quote="She said: \\"Hi, ladies! That\'s gender-neutral…\\""}',
     (M("quote", "=", "She said: \"Hi, ladies! That's gender-neutral…\""),)),
    ('statuscode=~"5.."', (M("statuscode", "=~", "5.."),)),
    ('contains_quote != "\\"" , contains_comma !~ "foo,bar" , ',
     (M("contains_quote", "!=", '"'), M("contains_comma", "!~", "foo,bar"))),
    ('{name-with-dashes = "bar"}', (M("name-with-dashes", "=", "bar"),)),
]

REJECTED = [
    (",", "0:1: unexpected ,: expected label name"),
    ("{,}", "1:2: unexpected ,: expected label name"),
    ("{", "0:1: end of input: expected close brace"),
    ("}", "0:1: }: expected opening brace"),
    ("foo=bar}", "0:8: }: expected opening brace"),
    ("{foo=bar", "0:8: end of input: expected close brace"),
    ('{foo=:"bar"}', '6:11: unexpected "bar": expected a comma or close brace'),
    ('{foo="bar\\w"}', '5:12: "bar\\w": invalid input'),
    ('{"foo"=~"\\d+"}', '8:13: "\\d+": invalid input'),
    ("{foo=bar\\n}", "8:9: \\: invalid input: expected a comma or close brace"),
    ('{"foo"="\\xf0\\x9f"}', '7:17: "\\xf0\\x9f": invalid input'),
    # matcher/compliance: what Alertmanager's UTF-8 parser refuses (the classic parser's errors differ)
    ("{foo=~\"invalid[regexp\"}", '6:22: bad regex "invalid[regexp": missing ]: [regexp'),
    ('job="value', '4:10: "value: missing end ": expected label value'),
    ('job=value"', '9:10: ": missing end ": expected a comma or close brace'),
    ('"foo=\\"bar"', "11:11: end of input: expected an operator such as '=', '!=', '=~' or '!~'"),  # a name
    ('"{foo=\\"bar\\"}"', "15:15: end of input: expected an operator such as '=', '!=', '=~' or '!~'"),
    ('"foo="bar""', "6:9: unexpected bar: expected an operator such as '=', '!=', '=~' or '!~'"),
    ("{{foo=", "1:2: unexpected {: expected label name"),
    ("{foo=", "5:5: end of input: expected label value"),
    ("{foo=}b", "5:6: unexpected }: expected label value"),
    ("contains_unescaped_quote = foo\"bar", '30:34: "bar: missing end ": expected a comma or close brace'),
    # inputs only the classic parser read (Alertmanager's fallback mode): refused, with a position
    ("{foo='}", "5:6: ': invalid input: expected label value"),
    ("{foo=`}", "5:6: `: invalid input: expected label value"),
    ("{foo=bar\\t}", "8:9: \\: invalid input: expected a comma or close brace"),
    ("{foo=bar}}", "9:10: }: expected end of input"),
    ("{foo=bar}},}", "9:10: }: expected end of input"),
    ("{foo=,bar=}}", "5:6: unexpected ,: expected label value"),
    ("job=", "4:4: end of input: expected label value"),
    ("tricky=~~~", "8:9: ~: invalid input: expected label value"),
    ("trickier==\\\\=\\=\\\"", "9:10: unexpected =: expected label value"),
    # the matcher/parse lexer's own
    ("a!b", "1:2: !: expected one of '=~': expected an operator such as '=', '!=', '=~' or '!~'"),
    ("a!", "1:2: unexpected end of input, expected one of '=~': expected an operator such as '=', '!=', '=~' or '!~'"),
    ("{foo=bar}x", "9:10: x: expected end of input"),
    ("foo bar", "4:7: unexpected bar: expected an operator such as '=', '!=', '=~' or '!~'"),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_what_alertmanager_accepts_parses_to_the_same_matchers(text, expected):
    assert m.parse_matchers(text) == expected


@pytest.mark.parametrize(("text", "error"), REJECTED, ids=[t for t, _ in REJECTED])
def test_what_alertmanager_rejects_is_rejected_with_a_position(text, error):
    with pytest.raises(m.MatcherError) as caught:
        m.parse_matchers(text)
    assert str(caught.value) == error
    assert caught.value.position is not None


# ---- TestMatcher: exactly one ----

@pytest.mark.parametrize(("text", "error"), [
    ("", "no matchers"), ("{}", "no matchers"), ("foo=bar,bar=baz", "expected 1 matcher, found 2"),
    ('foo="\\xf0\\x9f"', '4:14: "\\xf0\\x9f": invalid input'),
])
def test_one_matcher(text, error):
    with pytest.raises(m.MatcherError) as caught:
        m.parse(text)
    assert str(caught.value) == error
    assert m.parse('{"foo"="\\U0001f642"}') == M("foo", "=", "🙂")


# ---- printing: Alertmanager's String() and a short form, both read back to the same matcher ----

@pytest.mark.parametrize(("matcher", "printed", "short"), [
    (M("foo", "=", "bar"), 'foo="bar"', "foo=bar"),
    (M("alarm", "=~", "web-.*"), 'alarm=~"web-.*"', "alarm=~web-.*"),
    (M("foo", "!=", 'a "b"\n\\'), 'foo!="a \\"b\\"\\n\\\\"', 'foo!="a \\"b\\"\\n\\\\"'),
    (M("dim_Load Balancer", "=", "x"), '"dim_Load Balancer"="x"', '"dim_Load Balancer"="x"'),
    (M("tag_team", "=", ""), 'tag_team=""', 'tag_team=""'),
    (M("a", "=~", "x{2,3}"), 'a=~"x{2,3}"', 'a=~"x{2,3}"'),
])
def test_printed_forms_read_back(matcher, printed, short):
    assert str(matcher) == printed and matcher.as_text() == short
    assert m.parse(printed) == matcher and m.parse(short) == matcher


# ---- regexes: anchored, RE2 ----

@pytest.mark.parametrize(("pattern", "value", "matches"), [
    ("web-.*", "web-5xx", True), ("web-.*", "old-web-5xx", False), ("5xx", "web-5xx", False),
    ("a|b", "a", True), ("a|b", "ab", False),  # anchored around the whole alternation
    ("a.b", "a\nb", False),  # . does not match a newline (Go and RE2 alike)
    ("\\d+", "٣", False),  # \d is ASCII (Python's re would say yes)
    ("(?i)WEB", "web", True),
])
def test_regexes_are_anchored_with_go_semantics(pattern, value, matches):
    assert M("x", "=~", pattern).matches({"x": value}) is matches
    assert M("x", "!~", pattern).matches({"x": value}) is not matches


def test_regexes_are_compiled_by_re2_and_a_catastrophic_one_runs_in_linear_time():
    import re2

    matcher = m.parse('alarm=~"(a+)+$"')
    assert isinstance(matcher._regex, re2._Regexp)  # the engine: checked first, so a regression fails, not hangs
    assert not matcher.matches({"alarm": "a" * 100_000 + "b"})  # exponential on a backtracking engine
    assert matcher.matches({"alarm": "a" * 100_000})


@pytest.mark.parametrize(("text", "error"), [
    ('a=~"(a)\\\\1"', '3:11: bad regex "(a)\\\\1": invalid escape sequence: \\1 (RE2 syntax'),
    ('a=~"(?=x)"', "3:10: bad regex \"(?=x)\": invalid perl operator: (?= (RE2 syntax"),
    ('a=~"x{1001}"', '3:12: bad regex "x{1001}": invalid repetition size: {1001}'),
    ('a=~"a)|(b"', '3:10: bad regex "a)|(b": unexpected ): a)|(b'),  # Alertmanager: ^(?:a)|(b)$, unanchored
    ("a=~" + "x" * 1025, "3:1028: the value of a is longer than 1024 characters"),
])
def test_regexes_re2_cannot_compile_or_too_long_are_refused(text, error):
    with pytest.raises(m.MatcherError) as caught:
        m.parse(text)
    assert str(caught.value).startswith(error)


# ---- aliases: explicit, and never over a label of their own name ----

def test_aliases_read_the_alarm_and_environment_only_when_the_alert_has_no_such_label():
    assert m.ALIASES == {"alertname": "alarm", "env": "environment"}
    assert m.lookup({"alarm": "cpu"}, "alertname") == "cpu"
    assert m.lookup({"alarm": "cpu", "alertname": "own"}, "alertname") == "own"
    assert m.lookup({"environment": "prod"}, "env") == "prod"
    assert m.lookup({"environment": "prod", "env": "x"}, "env") == "x"
    assert m.lookup({}, "alertname") is None and m.lookup({"x": "1"}, "y") is None


def test_group_by_alertname_groups_per_alarm():
    policy = parse('receivers: {a: {slack: {channel: "#a"}}}\nroute: {receiver: a, group_by: [alertname]}')
    root = routing.tree(section(policy))
    one, two = {"alarm": "cpu", "app": "web"}, {"alarm": "disk", "app": "web"}
    assert routing.group_labels(root, one) == {"alertname": "cpu"}
    assert routing.group_key(root, one) != routing.group_key(root, two)
    assert routing.group_key(root, one) == routing.group_key(root, {**one, "app": "api"})


# ---- dispatch/route_test.go: TestRouteMatch, in Switchboard's YAML (match/match_re written as matchers; receiver
# names in lower case, as Switchboard's names are) ----

AM_TREE = """
receivers:
  notify-def: {slack: {channel: "#def"}}
  notify-a: {slack: {channel: "#a"}}
  notify-testing: {slack: {channel: "#testing"}}
  notify-production-a: {slack: {channel: "#prod-a"}}
  notify-production-b: {slack: {channel: "#prod-b"}}
  notify-bc: {slack: {channel: "#bc"}}
route:
  receiver: notify-def
  routes:
    - matchers: [owner=team-A]
      receiver: notify-a
      routes:
        - matchers: [env=testing]
          receiver: notify-testing
          group_by: [...]
        - matchers: [env=production]
          receiver: notify-production-a
          group_wait: 1m
          continue: true
        - matchers: ['env=~"produ.*", job=~".*"']
          receiver: notify-production-b
          group_wait: 30s
          group_interval: 5m
          repeat_interval: 1h
          group_by: [job]
    - matchers: ['owner=~"team-(B|C)"']
      group_by: [foo, bar]
      group_wait: 2m
      receiver: notify-bc
    - matchers: [group_by=role]
      group_by: [role]
      routes:
        - matchers: [env=testing]
          receiver: notify-testing
          routes:
            - matchers: [wait=long]
              group_wait: 2m
"""


@pytest.mark.parametrize(("labels", "expected"), [
    ({"owner": "team-A"}, [("notify-a", (), "30s")]),
    ({"owner": "team-A", "env": "unset"}, [("notify-a", (), "30s")]),
    ({"owner": "team-C"}, [("notify-bc", ("foo", "bar"), "2m")]),
    ({"owner": "team-A", "env": "testing"}, [("notify-testing", None, "30s")]),
    ({"owner": "team-A", "env": "production"},
     [("notify-production-a", (), "1m"), ("notify-production-b", ("job",), "30s")]),
    ({"group_by": "role"}, [("notify-def", ("role",), "30s")]),
    ({"env": "testing", "group_by": "role"}, [("notify-testing", ("role",), "30s")]),
    ({"env": "testing", "group_by": "role", "wait": "long"}, [("notify-testing", ("role",), "2m")]),
])
def test_alertmanager_route_match_table(labels, expected):
    root = routing.tree(section(parse(AM_TREE)))
    found = [(n.options.receiver, n.options.group_by, duration_text(n.options.group_wait))
             for n in routing.route(root, labels)]
    assert found == expected


def test_alertmanager_route_options_inherit():
    root = routing.tree(section(parse(AM_TREE)))
    [a, b] = routing.route(root, {"owner": "team-A", "env": "production"})
    assert (duration_text(a.options.group_interval), duration_text(a.options.repeat_interval)) == ("5m", "4h")
    assert (duration_text(b.options.group_interval), duration_text(b.options.repeat_interval)) == ("5m", "1h")


# ---- config/config.go: what the loader refuses, with its line ----

BASE = 'receivers: {a: {slack: {channel: "#a"}}}\n'


def problems(alerts: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse(alerts)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(("alerts", "expected"), [
    ("route:\n  receiver: a\n  group_by: [alarm, app, alarm]\n",
     "alerts.route: duplicated label 'alarm' in group_by (line 19)"),
    ("route:\n  receiver: a\n  routes:\n    - matchers: [x=1]\n      group_by: [x, x]\n",
     "alerts.route.routes[0]: duplicated label 'x' in group_by (line 21)"),
    ("route:\n  receiver: a\n  continue: true\n",
     "alerts.route: the root route cannot have continue (it is the last resort) (line 19)"),
    ("route:\n  receiver: a\n  group_interval: 0s\n",
     "alerts.route: group_interval cannot be zero (it would notify at every flush) (line 19)"),
    ("route:\n  receiver: a\n  routes:\n    - matchers: [x=1]\n      repeat_interval: 0m\n",
     "alerts.route.routes[0]: repeat_interval cannot be zero (it would notify at every flush) (line 21)"),
    ("route:\n  receiver: a\n  group_interval: -5m\n",
     "alerts.route.group_interval: '-5m' does not match ^[0-9]+[smhd]$ (line 19)"),
    ("route:\n  receiver: a\n  routes:\n    - receiver: b\n",
     "alerts.route.routes[0]: unknown receiver 'b' (line 20)"),
    ("route:\n  receiver: a\n  group_by: [..., alarm]\n",
     "alerts.route: group_by '...' (every label) cannot be combined with other labels (line 19)"),
    ("route:\n  receiver: a\n  routes:\n    - matchers: ['job=\"value']\n",
     "alerts.route.routes[0].matchers[0]: value error, 4:10: \"value: missing end \": expected label value "
     "(line 20)"),
    ("route:\n  receiver: a\ninhibit_rules:\n  - source_matchers: ['a=~\"(?=x)\"']\n    target_matchers: [b=c]\n",
     "alerts.inhibit_rules[0].source_matchers[0]: value error, 3:10: bad regex"),
])
def test_what_alertmanagers_config_loader_refuses_is_refused_with_its_line(alerts, expected):
    found = problems(BASE + alerts)
    assert any(p.startswith(expected) for p in found), found


def test_a_matchers_entry_may_hold_several_matchers_as_in_alertmanager():
    policy = parse(BASE + "route:\n  receiver: a\n  routes:\n"
                   "    - matchers: ['{app=\"web\", severity=~\"page|critical\"}']\n      receiver: a\n")
    [child] = routing.tree(section(policy)).children
    assert child.matchers == (M("app", "=", "web"), M("severity", "=~", "page|critical"))


# ---- silences stored before this grammar keep their meaning ----

def test_silences_stored_before_the_grammar_are_read_as_they_were_written():
    assert m.parse_legacy("team!=") == M("team", "!=", "")
    assert m.parse_legacy("a==b") == M("a", "=", "=b")
    assert m.parse_legacy('app="web"') == M("app", "=", "web")
    assert m.parse_legacy("alarm=~web\\-5xx|api\\ 1") == M("alarm", "=~", "web\\-5xx|api\\ 1")


def test_a_silence_item_is_read_by_the_syntax_it_was_stored_in():
    from chalicelib.alerts import silences

    times = {"starts_at": "2026-11-20T14:00:00Z", "ends_at": "2026-11-20T16:00:00Z",
             "created_at": "2026-11-20T14:00:00Z"}
    old = silences.SilenceItem("silence", "prod.s1", matchers=["team!=", "a==b"], author="U1", reason="r", **times)
    assert silences._of(old).matchers == (M("team", "!=", ""), M("a", "=", "=b"))
    new = silences.SilenceItem("silence", "prod.s2", matchers=['team!=""', 'a="=b"'], syntax=silences.SYNTAX,
                               author="U1", reason="r", **times)
    assert silences._of(new).matchers == (M("team", "!=", ""), M("a", "=", "=b"))
