"""The /ops grammar: every valid form parses to the exact Command, every error is an exact message + usage line."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest

from chalicelib.capabilities import Capability
from chalicelib.frontdoor.grammar import (
    COMMANDS,
    Matcher,
    Role,
    parse,
    parse_duration,
    usage,
    usage_line,
)
from chalicelib.slackkit.commands import Command, ParseError

P, A, S, R, F = Capability.PROMOTION, Capability.ALERTS, Capability.SCALING, Capability.ROTATION, Capability.FRONTDOOR
V, OP, AP, AD = Role.VIEWER, Role.OPERATOR, Role.APPROVER, Role.ADMIN

USAGE = {
    "help": "/ops help",
    "status": "/ops status [app]",
    "promote": "/ops promote <app> [version] [to <env>] [--skip-soak]",
    "hold": "/ops hold <app> <reason...>",
    "unhold": "/ops unhold <app>",
    "approve": "/ops approve <id>",
    "reject": "/ops reject <id> <reason...>",
    "scale": "/ops scale <target> <count> [for <duration>] [--dry-run]",
    "silence": "/ops silence <matcher...> for <duration> <reason...>",
    "silences": "/ops silences",
    "unsilence": "/ops unsilence <id>",
    "ack": "/ops ack <incident>",
    "rotate": "/ops rotate <secret> [in <env>]",
    "deadletters": "/ops deadletters [in <env>]",
    "redrive": "/ops redrive <id>|all [in <env>]",
    "audit": "/ops audit [app|target] [n]",
}
NAME_RULE = "use letters, digits and ._:/@+-, starting with a letter or digit, up to 200 characters"
HINT = 'use label=value, label!=value, label=~regex or label!~regex; quote a value with spaces: label="a b"'
NOT_MATCHER = f"is not a matcher ({HINT})"


def BAD(rest, detail):  # noqa: N802 - reads as the constants it stands next to
    return f"bad matcher in '{rest}': {detail} ({HINT})"

NOT_COUNT = "is not a count (use a whole number from 0 to 10000)"
NOT_DURATION = "is not a duration (use e.g. 30m, 2h, 1d)"
NOT_ENTRIES = "is not a number of entries (use 1 to 100)"
H, M = timedelta(hours=1), timedelta(minutes=1)


def m(label, op, value):
    return Matcher(label, op, value)


def regex_error(pattern):
    try:
        re.compile(pattern)
    except re.error as e:
        return str(e)
    raise AssertionError(f"{pattern!r} compiles")


VALID = [
    # text, name, capability, role, args, flags
    ("help", "help", F, None, {}, ()),
    ("  HeLp  ", "help", F, None, {}, ()),
    ("status", "status", F, V, {"app": None}, ()),
    ("status Web-API", "status", F, V, {"app": "Web-API"}, ()),
    ("STATUS web", "status", F, V, {"app": "web"}, ()),
    ("status " + "a" * 200, "status", F, V, {"app": "a" * 200}, ()),
    ("promote web", "promote", P, OP, {"app": "web", "version": None, "env": None}, ()),
    ("promote web 1.2.3", "promote", P, OP, {"app": "web", "version": "1.2.3", "env": None}, ()),
    ("promote web to prod", "promote", P, OP, {"app": "web", "version": None, "env": "prod"}, ()),
    ("promote web v1.2 to prod", "promote", P, OP, {"app": "web", "version": "v1.2", "env": "prod"}, ()),
    ("promote web TO Prod", "promote", P, OP, {"app": "web", "version": None, "env": "Prod"}, ()),
    ("promote org/web@sha256:ab+1_x-y.z 9", "promote", P, OP,
     {"app": "org/web@sha256:ab+1_x-y.z", "version": "9", "env": None}, ()),
    ("promote web --skip-soak", "promote", P, AD, {"app": "web", "version": None, "env": None}, ("skip-soak",)),
    ("promote --skip-soak web 1.2 to prod", "promote", P, AD, {"app": "web", "version": "1.2", "env": "prod"},
     ("skip-soak",)),
    ("promote web to --skip-soak prod --skip-soak", "promote", P, AD, {"app": "web", "version": None, "env": "prod"},
     ("skip-soak",)),
    ("hold web bad   deploy", "hold", P, OP, {"app": "web", "reason": "bad deploy"}, ()),
    ("hold web to the moon for now", "hold", P, OP, {"app": "web", "reason": "to the moon for now"}, ()),
    ("hold web Waiting\ton QA", "hold", P, OP, {"app": "web", "reason": "Waiting on QA"}, ()),
    ("unhold web", "unhold", P, OP, {"app": "web"}, ()),
    ("approve 01HXYZ", "approve", P, AP, {"id": "01HXYZ"}, ()),
    ("reject 42 not  now", "reject", P, AP, {"id": "42", "reason": "not now"}, ()),
    ("scale web 3", "scale", S, OP, {"target": "web", "count": 3, "duration": None}, ()),
    ("scale web 0", "scale", S, OP, {"target": "web", "count": 0, "duration": None}, ()),
    ("scale web 10000", "scale", S, OP, {"target": "web", "count": 10000, "duration": None}, ()),
    ("scale web 007", "scale", S, OP, {"target": "web", "count": 7, "duration": None}, ()),
    ("scale web 3 for 1h30m", "scale", S, OP, {"target": "web", "count": 3, "duration": 90 * M}, ()),
    ("scale web 3 --dry-run", "scale", S, OP, {"target": "web", "count": 3, "duration": None}, ("dry-run",)),
    ("scale --dry-run cluster/svc 2 FOR 1d", "scale", S, OP,
     {"target": "cluster/svc", "count": 2, "duration": timedelta(days=1)}, ("dry-run",)),
    ("silence alertname=HighCPU for 2h deploy in progress", "silence", A, OP,
     {"matchers": (m("alertname", "=", "HighCPU"),), "duration": 2 * H, "reason": "deploy in progress"}, ()),
    ("silence a=b c!=D e=~x.* _f!~^y$ for 30m r", "silence", A, OP,
     {"matchers": (m("a", "=", "b"), m("c", "!=", "D"), m("e", "=~", "x.*"), m("_f", "!~", "^y$")),
      "duration": 30 * M, "reason": "r"}, ()),
    # Alertmanager's grammar: operator characters in a value are quoted (a==b is refused, see ERRORS)
    ('silence a="=b" x=~"b=c" y=~"~" for 1h r', "silence", A, OP,
     {"matchers": (m("a", "=", "=b"), m("x", "=~", "b=c"), m("y", "=~", "~")), "duration": H, "reason": "r"}, ()),
    ('silence {alarm=~"web-.*", env="prod", } for 1h r', "silence", A, OP,
     {"matchers": (m("alarm", "=~", "web-.*"), m("env", "=", "prod")), "duration": H, "reason": "r"}, ()),
    ('silence alarm = "web 5xx", team!="a \\"b\\"" for 1h r', "silence", A, OP,
     {"matchers": (m("alarm", "=", "web 5xx"), m("team", "!=", 'a "b"')), "duration": H, "reason": "r"}, ()),
    ('silence "dim_Load Balancer"=x 1a=b a-b=c for 1h r', "silence", A, OP,
     {"matchers": (m("dim_Load Balancer", "=", "x"), m("1a", "=", "b"), m("a-b", "=", "c")), "duration": H,
      "reason": "r"}, ()),
    ("silence for=x FOR 1h for ever", "silence", A, OP,
     {"matchers": (m("for", "=", "x"),), "duration": H, "reason": "for ever"}, ()),
    ("silence a=b For 1d waiting for a fix", "silence", A, OP,
     {"matchers": (m("a", "=", "b"),), "duration": timedelta(days=1), "reason": "waiting for a fix"}, ()),
    ("silences", "silences", A, V, {}, ()),
    ("unsilence abc-123", "unsilence", A, OP, {"id": "abc-123"}, ()),
    ("ack INC-42", "ack", A, OP, {"incident": "INC-42"}, ()),
    ("rotate db/password", "rotate", R, OP, {"secret": "db/password", "env": None}, ()),
    ("rotate db/password in prod", "rotate", R, OP, {"secret": "db/password", "env": "prod"}, ()),
    ("deadletters", "deadletters", F, OP, {"env": None}, ()),
    ("deadletters in stage", "deadletters", F, OP, {"env": "stage"}, ()),
    ("redrive all", "redrive", F, OP, {"id": None, "env": None}, ()),
    ("redrive ALL in prod", "redrive", F, OP, {"id": None, "env": "prod"}, ()),
    ("redrive 5f1c-42 in prod", "redrive", F, OP, {"id": "5f1c-42", "env": "prod"}, ()),
    ("audit", "audit", F, V, {"target": None, "n": 10}, ()),
    ("audit web", "audit", F, V, {"target": "web", "n": 10}, ()),
    ("audit 5", "audit", F, V, {"target": None, "n": 5}, ()),
    ("audit 100", "audit", F, V, {"target": None, "n": 100}, ()),
    ("audit 5a", "audit", F, V, {"target": "5a", "n": 10}, ()),
    ("audit web 5", "audit", F, V, {"target": "web", "n": 5}, ()),
    ("audit 5 5", "audit", F, V, {"target": "5", "n": 5}, ()),
]


@pytest.mark.parametrize(("text", "name", "capability", "role", "args", "flags"), VALID, ids=[v[0] for v in VALID])
def test_valid_forms(text, name, capability, role, args, flags):
    command = parse(text)
    assert command == Command(name, capability, role, args, frozenset(flags), text.strip())
    assert (command.name, command.capability, command.role, dict(command.args), command.flags, command.text) == (
        name, capability, role, args, frozenset(flags), text.strip())
    assert type(command.capability) is Capability and (role is None or type(command.role) is Role)
    assert parse(command.text) == command


E = USAGE  # error table: text, exact message, usage line (None: no command concerned)
ERRORS = [
    ("", "no command given", None),
    (" \t\n ", "no command given", None),
    ("foo", "unknown command 'foo'", None),
    ("Foo bar", "unknown command 'Foo'", None),
    ("promte web", "unknown command 'promte' (did you mean 'promote'?)", None),
    ("SILNCE a=b", "unknown command 'SILNCE' (did you mean 'silence'?)", None),
    ("--dry-run", "unknown command '--dry-run'", None),
    # flags
    ("status --dry-run", "unknown flag '--dry-run' (status accepts no flags)", E["status"]),
    ("hold web bad deploy --now", "unknown flag '--now' (hold accepts no flags)", E["hold"]),
    ("promote web --force", "unknown flag '--force' (promote accepts --skip-soak)", E["promote"]),
    ("promote web --Skip-Soak", "unknown flag '--Skip-Soak' (promote accepts --skip-soak)", E["promote"]),
    ("scale web 2 --skip-soak", "unknown flag '--skip-soak' (scale accepts --dry-run)", E["scale"]),
    ("scale web -- 2", "unknown flag '--' (scale accepts --dry-run)", E["scale"]),
    ("scale --bad", "unknown flag '--bad' (scale accepts --dry-run)", E["scale"]),
    # help / status
    ("help me", "unexpected 'me' after help", E["help"]),
    ("status web!", f"'web!' is not a valid app ({NAME_RULE})", E["status"]),
    ("status " + "a" * 201, f"'{'a' * 201}' is not a valid app ({NAME_RULE})", E["status"]),
    ("status web api", "unexpected 'api' after status web", E["status"]),
    ("Status web api", "unexpected 'api' after status web", E["status"]),
    # promote
    ("promote", "promote needs an app", E["promote"]),
    ("promote --skip-soak", "promote needs an app", E["promote"]),
    ("promote to prod", "promote needs an app", E["promote"]),
    ("promote -web", f"'-web' is not a valid app ({NAME_RULE})", E["promote"]),
    ("promote web v1!", f"'v1!' is not a valid version ({NAME_RULE})", E["promote"]),
    ("promote web to", "promote needs an environment after 'to'", E["promote"]),
    ("promote web 1.2 to", "promote needs an environment after 'to'", E["promote"]),
    ("promote web to pr*d", f"'pr*d' is not a valid environment ({NAME_RULE})", E["promote"]),
    ("promote web 1.2 to prod extra", "unexpected 'extra' after promote web 1.2 to prod", E["promote"]),
    ("promote web 1.2 1.3", "unexpected '1.3' after promote web 1.2", E["promote"]),
    ("promote web to prod to stage", "unexpected 'to' after promote web to prod", E["promote"]),
    # hold / unhold / approve / reject
    ("hold", "hold needs an app", E["hold"]),
    ("hold web", "hold needs a reason", E["hold"]),
    ("hold .web oops", f"'.web' is not a valid app ({NAME_RULE})", E["hold"]),
    ("unhold", "unhold needs an app", E["unhold"]),
    ("unhold web now", "unexpected 'now' after unhold web", E["unhold"]),
    ("approve", "approve needs an id", E["approve"]),
    ("approve #12", f"'#12' is not a valid id ({NAME_RULE})", E["approve"]),
    ("approve 12 13", "unexpected '13' after approve 12", E["approve"]),
    ("reject", "reject needs an id", E["reject"]),
    ("reject 42", "reject needs a reason", E["reject"]),
    # scale
    ("scale", "scale needs a target", E["scale"]),
    ("scale for 3", "scale needs a target", E["scale"]),
    ("scale web", "scale needs a count", E["scale"]),
    ("scale web for 1h", "scale needs a count", E["scale"]),
    ("scale we$b 3", f"'we$b' is not a valid target ({NAME_RULE})", E["scale"]),
    ("scale web -1", f"'-1' {NOT_COUNT}", E["scale"]),
    ("scale web two", f"'two' {NOT_COUNT}", E["scale"]),
    ("scale web 1.5", f"'1.5' {NOT_COUNT}", E["scale"]),
    ("scale web \uff13", f"'\uff13' {NOT_COUNT}", E["scale"]),
    ("scale web 10001", "count '10001' is over the limit of 10000", E["scale"]),
    ("scale web " + "9" * 5000, f"count '{'9' * 5000}' is over the limit of 10000", E["scale"]),
    ("scale web 3 for", "scale needs a duration after 'for'", E["scale"]),
    ("scale web 3 for 2x", f"'2x' {NOT_DURATION}", E["scale"]),
    ("scale web 3 for 31d", "duration '31d' is over the limit of 30d", E["scale"]),
    ("scale web 3 for 0m", "duration '0m' must be more than zero", E["scale"]),
    ("scale web 3 for 1h extra", "unexpected 'extra' after scale web 3 for 1h", E["scale"]),
    ("scale web 3 1h", "unexpected '1h' after scale web 3", E["scale"]),
    # silence
    ("silence", "silence needs at least one matcher (e.g. alertname=HighCPU)", E["silence"]),
    ("silence for 1h oops", "silence needs at least one matcher (e.g. alertname=HighCPU)", E["silence"]),
    ("silence a=b", "silence needs 'for <duration>' after the matchers", E["silence"]),
    ("silence a=b for", "silence needs a duration after 'for'", E["silence"]),
    ("silence a=b for 1h", "silence needs a reason", E["silence"]),
    ("silence a=b for 30m1h oops", f"'30m1h' {NOT_DURATION}", E["silence"]),
    ("silence a=b for 721h oops", "duration '721h' is over the limit of 30d", E["silence"]),
    ("silence a=b 1h oops", f"'1h' {NOT_MATCHER}", E["silence"]),
    ("silence ab for 1h oops", f"'ab' {NOT_MATCHER}", E["silence"]),
    ("silence a=b --now for 1h oops", "unknown flag '--now' (silence accepts no flags)", E["silence"]),
    # the matcher parser's own errors carry the position in the text after `silence` (Alertmanager's messages)
    *[("silence " + rest, BAD(rest, detail), E["silence"]) for rest, detail in [
        ("a==b for 1h oops", "2:3: unexpected =: expected label value"),
        ("a=~ for 1h oops", '4:7: unexpected for: expected label value (quote it to mean the word: "for")'),
        ("a!= , for 1h oops", "4:5: unexpected ,: expected label value"),
        ("=b for 1h oops", "0:1: unexpected =: expected label name"),
        ("a!b for 1h oops", "1:2: !: expected one of '=~': expected an operator such as '=', '!=', '=~' or '!~'"),
        ('job="value for 1h oops', '4:22: "value for 1h oops: missing end ": expected label value'),
        ("{a=b for 1h oops", "5:8: unexpected for: expected a comma or close brace"),
        ("a=b c=~( for 1h oops", '7:8: bad regex "(": missing ): ('),
        ("a!~[z-a] for 1h oops", '3:8: bad regex "[z-a]": invalid character class range: z-a'),
        (r'a=~"(a)\\1" for 1h oops', r'3:11: bad regex "(a)\\1": invalid escape sequence: \1 (RE2 syntax, as in '
         "Alertmanager: no backreferences or lookarounds)"),
        ("a=~x{99999999999} for 1h oops", "4:5: unexpected {: expected a comma or close brace"),
        ('a=~"x{1001}" for 1h oops', '3:12: bad regex "x{1001}": invalid repetition size: {1001}'),
        ("a=~" + "x" * 1025 + " for 1h oops", "3:1028: the value of a is longer than 1024 characters"),
    ]],
    # silences / unsilence / ack / rotate
    ("silences all", "unexpected 'all' after silences", E["silences"]),
    ("unsilence", "unsilence needs an id", E["unsilence"]),
    ("unsilence a b", "unexpected 'b' after unsilence a", E["unsilence"]),
    ("ack", "ack needs an incident", E["ack"]),
    ("ack INC 42", "unexpected '42' after ack INC", E["ack"]),
    ("rotate", "rotate needs a secret", E["rotate"]),
    ("redrive", "redrive needs a dead letter id, or all", E["redrive"]),
    ("redrive in prod", "redrive needs a dead letter id, or all", E["redrive"]),
    ("deadletters in", "deadletters needs an environment after 'in'", E["deadletters"]),
    ("deadletters prod", "unexpected 'prod' after deadletters", E["deadletters"]),
    ("rotate db pw", "unexpected 'pw' after rotate db", E["rotate"]),
    ("rotate ~db", f"'~db' is not a valid secret ({NAME_RULE})", E["rotate"]),
    ("rotate db in", "rotate needs an environment after 'in'", E["rotate"]),
    ("rotate db in prod now", "unexpected 'now' after rotate db in prod", E["rotate"]),
    ("rotate db in pr!d", f"'pr!d' is not a valid environment ({NAME_RULE})", E["rotate"]),
    # audit
    ("audit 0", f"'0' {NOT_ENTRIES}", E["audit"]),
    ("audit 101", f"'101' {NOT_ENTRIES}", E["audit"]),
    ("audit " + "1" * 5000, f"'{'1' * 5000}' {NOT_ENTRIES}", E["audit"]),
    ("audit web 0", f"'0' {NOT_ENTRIES}", E["audit"]),
    ("audit web x", f"'x' {NOT_ENTRIES}", E["audit"]),
    ("audit web!", f"'web!' is not a valid target ({NAME_RULE})", E["audit"]),
    ("audit web 5 6", "unexpected '6' after audit web 5", E["audit"]),
]


@pytest.mark.parametrize(("text", "message", "usage_line_"), ERRORS, ids=[e[0][:60] for e in ERRORS])
def test_errors(text, message, usage_line_):
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert (caught.value.message, caught.value.usage) == (message, usage_line_)
    assert str(caught.value) == message and isinstance(caught.value, ValueError)
    assert message[0].islower() or message[0] == "'"
    assert not message.endswith(".")


DURATIONS = [
    ("30s", timedelta(seconds=30)), ("45m", 45 * M), ("2h", 2 * H), ("1d", timedelta(days=1)), ("1h30m", 90 * M),
    ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)), ("0h1s", timedelta(seconds=1)),
    ("30d", timedelta(days=30)), ("720h", timedelta(days=30)), ("2592000s", timedelta(days=30)), (" 2h ", 2 * H),
    ("0001m", M),
]


@pytest.mark.parametrize(("text", "expected"), DURATIONS)
def test_durations(text, expected):
    assert parse_duration(text) == expected


BAD_DURATIONS = [
    ("2x", f"'2x' {NOT_DURATION}"), ("", f"'' {NOT_DURATION}"), ("30m1h", f"'30m1h' {NOT_DURATION}"),
    ("1h1h", f"'1h1h' {NOT_DURATION}"), ("1.5h", f"'1.5h' {NOT_DURATION}"), ("h", f"'h' {NOT_DURATION}"),
    ("-1h", f"'-1h' {NOT_DURATION}"), ("2H", f"'2H' {NOT_DURATION}"), ("30", f"'30' {NOT_DURATION}"),
    ("1d 2h", f"'1d 2h' {NOT_DURATION}"), ("\uff12h", f"'\uff12h' {NOT_DURATION}"),
    ("0s", "duration '0s' must be more than zero"), ("0d0h", "duration '0d0h' must be more than zero"),
    ("31d", "duration '31d' is over the limit of 30d"), ("2592001s", "duration '2592001s' is over the limit of 30d"),
    ("30d1s", "duration '30d1s' is over the limit of 30d"),
    ("9" * 5000 + "d", f"duration '{'9' * 5000}d' is over the limit of 30d"),
]


@pytest.mark.parametrize(("text", "message"), BAD_DURATIONS, ids=[b[0][:20] for b in BAD_DURATIONS])
def test_bad_durations(text, message):
    with pytest.raises(ParseError) as caught:
        parse_duration(text)
    assert (caught.value.message, caught.value.usage) == (message, None)


def test_usage_lists_every_command_once_with_a_description():
    lines = usage().splitlines()
    assert len(lines) == len(COMMANDS) == len(USAGE)
    for line, command in zip(lines, USAGE, strict=True):
        assert line.startswith(USAGE[command] + " — ") and len(line) > len(USAGE[command]) + 5
        assert usage_line(command) == USAGE[command]


def test_command_name_appears_in_usage_lines_and_errors():
    lines = usage("/switchboard").splitlines()
    assert all(line.startswith("/switchboard ") for line in lines)
    assert any(line.startswith("/switchboard scale <target> <count> [for <duration>] [--dry-run] — ") for line in lines)
    with pytest.raises(ParseError) as caught:
        parse("scale web", command_name="/switchboard")
    assert caught.value.usage == "/switchboard scale <target> <count> [for <duration>] [--dry-run]"
    assert parse("status", command_name="/switchboard") == parse("status")


def test_commands_are_immutable_and_hashable():
    command = parse("silence a=b for 1h deploy")
    with pytest.raises(TypeError):
        command.args["reason"] = "other"  # type: ignore[index]
    with pytest.raises(AttributeError):
        command.name = "x"  # type: ignore[misc]
    assert hash(command) == hash(parse("silence a=b for 1h deploy"))
    assert len({command, parse("silence a=b for 1h deploy")}) == 1


VOCAB = [
    *COMMANDS, "HELP", "Promote", "SCALE", "promte", "silnce", "foo", "",
    "web", "api-1", "org/web@sha:1+x", "Prod", "prod", "1.2.3", "v2", "INC-42", "db/pw", "a" * 201, "é", "web!",
    ".x", "-x", "~", "#1", "*",
    "to", "TO", "for", "For",
    "0", "1", "5", "007", "100", "101", "10000", "10001", "-1", "1.5", "two", "\uff13", "9" * 50,
    "30s", "45m", "2h", "1d", "1h30m", "30m1h", "0m", "31d", "2x", "2H", "9" * 30 + "d",
    "a=b", "a!=b", "a=~x.*", "a!~^y$", "a=", "a=~", "=b", "1a=b", "a-b=c", "a==b", "a=~(", "a!~[z-a]",
    "a=~x{99999999999}",
    "--dry-run", "--skip-soak", "--force", "--", "---", "--DRY-RUN",
]
SEPARATORS = [" ", "  ", "\t", "\n", "\u00a0", " \u3000 "]


def test_fuzz_token_soup_only_ever_gives_a_command_or_a_parse_error():
    rng = random.Random(0)
    commands = errors = 0
    for _ in range(4000):
        words = [rng.choice(VOCAB) for _ in range(rng.randint(0, 8))]
        if words and rng.random() < 0.7:
            words[0] = rng.choice(COMMANDS)
        text = rng.choice(["", " ", "\t"]) + "".join(w + rng.choice(SEPARATORS) for w in words)
        try:
            command = parse(text)
        except ParseError as e:
            errors += 1
            assert isinstance(e.message, str) and e.message and not e.message.endswith(".")
            assert e.usage is None or e.usage.startswith("/ops ")
            assert e.usage is not None or e.message == "no command given" or e.message.startswith("unknown command '")
        else:
            commands += 1
            assert isinstance(command, Command) and command.text == text.strip()
            assert parse(command.text) == command
            assert parse(f"  {command.text}\n") == command
    assert commands > 200 and errors > 200  # the soup exercises both sides
