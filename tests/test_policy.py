"""The policy validator: every problem reported with its YAML path and line; valid policies load."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chalicelib.policy import loader as policy
from chalicelib.policy.document import LAZY_SECTIONS
from chalicelib.policy.loader import PolicyError, parse
from localworld import cli

POLICIES = Path(__file__).resolve().parent.parent / "chalicelib" / "policies"

BASE = """\
version: 1
account: {name: prod, id: "333344445555", environment: prod}
peers:
  stage: {id: "222233334444", environment: stage, receive: [release-candidate]}
apps:
  web:
    channel: "#team-web"
    alarm_prefixes: ["web-"]
    pipelines:
      stage: {account: stage, name: web-stage}
      prod: {account: prod, name: web-prod}
alerts:
  receivers:
    oncall: {slack_channel: "#oncall"}
  route:
    receiver: oncall
    routes:
      - matchers: ["app=web"]
        receiver: oncall
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse(textwrap.dedent(text))
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("name", ["stage", "prod", "shared-services"])
def test_shipped_policies_are_valid(name):
    loaded = policy.load(POLICIES / f"{name}.yaml")
    assert loaded.account.name == name
    assert loaded.account.id not in {p.id for p in loaded.peers.values()}


def test_base_policy_is_valid_and_derives_views():
    loaded = parse(BASE)
    assert loaded.accounts() == {"prod": ("333344445555", "prod"), "stage": ("222233334444", "stage")}
    assert loaded.inbound_account_ids() == ["222233334444", "333344445555"]
    assert loaded.peer_by_id("222233334444")[0] == "stage"
    assert loaded.peer_by_id("999999999999") is None


ONE_PROBLEM = [
    ("prod: {account: prod, name: web-prod}", "prod: {account: prd, name: web-prod}",
     "apps.web.pipelines.prod: unknown account 'prd' (line 11)"),
    ("stage: {account: stage, name: web-stage}", "stage: {account: prod, name: web-stage}",
     "apps.web.pipelines.stage: account 'prod' is environment 'prod', not 'stage' (line 10)"),
    ("      stage: {account: stage, name: web-stage}", "      qa: {account: stage, name: web-stage}",
     "apps.web.pipelines.qa: unknown environment 'qa' (line 10)"),
    ("        receiver: oncall\n", "        receiver: on-call\n",
     "alerts.route.routes[0]: unknown receiver 'on-call' (line 19)"),
    ("    receiver: oncall\n    routes", "    routes",
     "alerts.route: the root route needs a default receiver (line 15)"),
    ('id: "222233334444"', 'id: "333344445555"',
     "peers.stage: account id 333344445555 is already used by 'prod' (line 4)"),
    ('channel: "#team-web"', 'channel: "team web"',
     "apps.web.channel: 'team web' does not match ^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{8,})$ (line 7)"),
    ("version: 1", "version: 2", "version: input should be less than or equal to 1 (line 1)"),
    ("    alarm_prefixes", "    colour: red\n    alarm_prefixes", "apps.web.colour: unknown field (line 8)"),
    ("receive: [release-candidate]", "receive: [gossip]",
     "peers.stage.receive[0]: input should be 'release-candidate', 'command', 'reply', 'approval-request', "
     "'approval-result', 'announce' or 'feed' (line 4)"),
    ("        receiver: oncall\n", "        receiver: oncall\n        group_wait: soon\n",
     "alerts.route.routes[0].group_wait: 'soon' does not match ^[0-9]+[smhd]$ (line 20)"),
    ("alerts:\n", "colour: red\nalerts:\n", "colour: unknown field (line 12)"),
    ("account: {name: prod, ", "account: {", "account.name: required field is missing (line 2)"),
]


@pytest.mark.parametrize(("old", "new", "expected"), ONE_PROBLEM)
def test_each_problem_names_its_path_and_line(old, new, expected):
    assert old in BASE
    assert expected in problems(BASE.replace(old, new, 1))


def test_every_problem_is_reported_not_just_the_first():
    text = BASE.replace("account: prod, name: web-prod", "account: prd, name: web-prod").replace(
        "        receiver: oncall\n", "        receiver: nobody\n")
    assert problems(text) == [
        "apps.web.pipelines.prod: unknown account 'prd' (line 11)",
        "alerts.route.routes[0]: unknown receiver 'nobody' (line 19)",
    ]


def test_missing_required_sections_are_reported():
    found = problems("version: 1\napps: {}\n")
    assert found == ["account: required field is missing (line 1)"]


def test_duplicate_keys_are_errors_not_silently_overwritten():
    text = BASE.replace("  web:\n", "  web:\n    channel: \"#other\"\n", 1)
    assert "apps.web.channel: duplicate key (line 8)" in problems(text)


def test_yaml_syntax_error_has_a_line():
    found = problems("version: 1\naccount: [unclosed\n")
    assert len(found) == 1 and found[0].startswith("<yaml>:") and "(line 3)" in found[0]


def test_a_policy_must_be_a_mapping():
    assert problems("- just\n- a list\n") == ["<root>: a policy is a YAML mapping (line 1)"]


def test_scaling_target_names_exactly_one_resource():
    text = BASE + "scaling:\n  targets:\n    web: {account: prod}\n"
    assert "scaling.targets.web: a scaling target names exactly one of 'asg' or 'ecs_service' (line 22)" in problems(
        text)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://" + "x" * 2000, None),  # at most 2000 characters after the scheme
    ("https://" + "x" * 2001, "string should have at most 2008 characters"),
    ("https://example.com/a b", "'https://example.com/a b' contains whitespace or control characters"),
    ("ftp://example.com", "'ftp://example.com' is not https"),
    ("file:///etc/passwd", "'file:///etc/passwd' is not https"),
    ("http://hooks.example.com/x", "'http://hooks.example.com/x' is not https"),
    # loopback is refused whatever the environment says (the tests set the local world's switch): a policy ships
    ("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
     "'http://127.0.0.1:9001/2018-06-01/runtime/invocation/next' is not https"),
    ("https://127.0.0.1:9001/x", "'https://127.0.0.1:9001/x' names the Lambda runtime API (127.0.0.1)"),
    ("https://localhost/x", "'https://localhost/x' names a loopback address"),
    ("https://169.254.169.254/latest/meta-data/",
     "'https://169.254.169.254/latest/meta-data/' names the instance metadata service (169.254.169.254)"),
    ("https://[fd00:ec2::254]/", "'https://[fd00:ec2::254]/' names the instance metadata service (fd00:ec2::254)"),
    ("https://10.1.2.3/hook", "'https://10.1.2.3/hook' names a private address (10.1.2.3)"),
    ("https://hooks.example.com/x", None),
])
def test_a_receiver_url(url, expected):
    text = BASE.replace('oncall: {slack_channel: "#oncall"}', f'oncall: {{webhook: {{url: "{url}"}}}}')
    if expected is None:
        assert parse(text).alerts.receivers["oncall"].webhook.url == url
    else:
        assert problems(text) == [f"alerts.receivers.oncall.webhook.url: {expected} (line 14)"]


def test_current_rejects_a_policy_for_another_account(monkeypatch):
    from chalicelib import settings

    monkeypatch.setenv("SWITCHBOARD_ACCOUNT_NAME", "stage")
    monkeypatch.setenv("SWITCHBOARD_POLICY_FILE", "policies/prod.yaml")
    settings.get_settings.cache_clear()
    policy.current.cache_clear()
    try:
        with pytest.raises(PolicyError, match="policy is for account 'prod' but this stage is 'stage'"):
            policy.current()
    finally:
        settings.get_settings.cache_clear()
        policy.current.cache_clear()


def test_health_check_urls_are_refused_with_their_line(tmp_path, capsys):
    text = BASE + textwrap.dedent("""\
        promotion:
          enabled: true
          paths: {web: [stage, prod]}
          apps:
            web:
              health_checks:
                stage: file:///etc/passwd
                prod: http://127.0.0.1:9001/2018-06-01/runtime/invocation/next
        """)
    assert problems(text) == [
        "promotion.apps.web.health_checks.stage: 'file:///etc/passwd' is not https (line 26)",
        "promotion.apps.web.health_checks.prod: 'http://127.0.0.1:9001/2018-06-01/runtime/invocation/next' is not "
        "https (line 27)"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert cli.main(["policy", "validate", str(bad)]) == 2
    assert "promotion.apps.web.health_checks.stage: 'file:///etc/passwd' is not https (line 26)" in (
        capsys.readouterr().err)
    good = text.replace("file:///etc/passwd", "https://web.stage.example.com/health").replace(
        "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", "https://web.example.com/health")
    assert parse(good).promotion.apps["web"].health_checks == {
        "stage": "https://web.stage.example.com/health", "prod": "https://web.example.com/health"}


def test_cli_validate_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(BASE)
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("account: prod, name: web-prod", "account: prd, name: web-prod"))
    assert cli.main(["policy", "validate", str(good)]) == 0
    assert cli.main(["policy", "validate", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: 1 problem(s)" in err
    assert "apps.web.pipelines.prod: unknown account 'prd' (line 11)" in err
    assert cli.main(["policy", "validate", str(tmp_path / "missing.yaml")]) == 2
    assert "<file>: cannot read" in capsys.readouterr().err


# ---- lazy loading (current() inside Lambda): the core at load, every other section on first read ----

def lazy_problems(text: str) -> list[str]:
    """Every problem a lazily loaded policy raises: at load, else on reading each section."""
    try:
        loaded = parse(textwrap.dedent(text), lazy=True)
    except PolicyError as exc:
        return [str(p) for p in exc.problems]
    found: set[policy.Problem] = set()
    for name in LAZY_SECTIONS:
        try:
            getattr(loaded, name)
        except PolicyError as exc:
            found.update(exc.problems)
    return [str(p) for p in sorted(found, key=lambda p: (p.line or 0, p.path, p.message))]


@pytest.mark.parametrize(("old", "new", "expected"), ONE_PROBLEM)
def test_a_lazy_load_reports_what_a_full_load_reports(old, new, expected):
    text = BASE.replace(old, new, 1)
    assert lazy_problems(text) == problems(text)


def test_a_lazy_load_reports_every_reference_problem_too():
    text = BASE.replace("account: prod, name: web-prod", "account: prd, name: web-prod").replace(
        "        receiver: oncall\n", "        receiver: nobody\n")
    assert lazy_problems(text) == problems(text) == [
        "apps.web.pipelines.prod: unknown account 'prd' (line 11)",
        "alerts.route.routes[0]: unknown receiver 'nobody' (line 19)",
    ]


def test_a_bad_section_of_a_lazy_policy_raises_on_every_read_and_spares_the_others():
    loaded = parse(BASE.replace("        receiver: oncall\n", "        receiver: on-call\n"), "prod.yaml", lazy=True)
    assert loaded.inbound_account_ids() == ["222233334444", "333344445555"]  # the core: what app.py needs
    assert loaded.pending_sections() == list(LAZY_SECTIONS)
    for _ in range(2):
        with pytest.raises(PolicyError) as caught:
            loaded.alerts  # noqa: B018
        assert caught.value.source == "prod.yaml"
        assert [str(p) for p in caught.value.problems] == [
            "alerts.route.routes[0]: unknown receiver 'on-call' (line 19)"]
    assert "alerts" in loaded.pending_sections()  # never kept half-valid
    assert loaded.apps["web"].pipelines["prod"].name == "web-prod"
    assert loaded.scaling.enabled is False  # absent: the default
    assert "alerts" in loaded.model_fields_set and "scaling" not in loaded.model_fields_set


def test_a_section_whose_shape_is_bad_raises_its_schema_problems():
    loaded = parse(BASE.replace('oncall: {slack_channel: "#oncall"}', "oncall: {}"), lazy=True)
    with pytest.raises(PolicyError) as caught:
        loaded.alerts  # noqa: B018
    assert [str(p) for p in caught.value.problems] == [
        "alerts.receivers.oncall: value error, a receiver needs at least one of slack, pagerduty, sns, webhook "
        "(line 14)"]


def test_a_section_checked_against_a_bad_section_is_not_kept_either():
    text = BASE.replace('channel: "#team-web"', 'channel: "team web"') + textwrap.dedent("""\
        scaling:
          targets:
            web: {account: prod, asg: web, guardrails: {floor: 1, ceiling: 2, max_step: 1}}
        """)
    loaded = parse(text, lazy=True)
    for _ in range(2):
        with pytest.raises(PolicyError, match=re.escape("apps.web.channel: 'team web' does not match")):
            loaded.scaling  # noqa: B018 - its check looks for the app announcing the target's changes
    assert {"apps", "scaling"} <= set(loaded.pending_sections())


def test_a_section_check_may_read_its_own_section(monkeypatch):
    from chalicelib.policy import references

    seen = []

    def reads_itself(loaded, alerts):
        seen.append((loaded.alerts is alerts, loaded.apps["web"].channel))
        return iter(())

    monkeypatch.setitem(references.SECTIONS, "alerts", reads_itself)
    loaded = parse(BASE, lazy=True)
    assert loaded.alerts.route.receiver == "oncall"
    assert seen == [(True, "#team-web")]


def test_threads_reading_a_section_first_at_once_all_get_the_one_kept():
    loaded = parse(BASE, lazy=True)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: loaded.alerts, range(32)))
    assert all(section is loaded.alerts for section in got)


def test_a_lazy_policy_read_in_full_is_the_policy_a_full_load_gives():
    text = (POLICIES / "prod.yaml").read_text()
    lazy, full = parse(text, lazy=True), parse(text)
    assert lazy.alerts == full.alerts and lazy.pending_sections() != []
    assert lazy.model_dump() == full.model_dump()  # a whole-policy view validates the rest first
    assert lazy.pending_sections() == [] and lazy == full


def test_current_is_lazy_inside_lambda_and_full_under_the_chalice_cli(monkeypatch, tmp_path):
    from chalicelib import settings

    bad = tmp_path / "prod.yaml"
    bad.write_text(BASE.replace("        receiver: oncall\n", "        receiver: on-call\n"))
    monkeypatch.setenv("SWITCHBOARD_POLICY_FILE", str(bad))
    expected = "alerts.route.routes[0]: unknown receiver 'on-call' (line 19)"

    def current():
        settings.get_settings.cache_clear()
        policy.current.cache_clear()
        return policy.current()

    try:
        monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
        with pytest.raises(PolicyError, match=re.escape(expected)):
            current()  # tests, the local world: everything up front
        monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
        monkeypatch.setenv("AWS_CHALICE_CLI_MODE", "true")
        with pytest.raises(PolicyError, match="unknown receiver 'on-call'"):
            current()  # `chalice deploy` imports app.py with the Lambda-like environment of its stage
        monkeypatch.delenv("AWS_CHALICE_CLI_MODE")
        loaded = current()  # inside Lambda: the core now
        assert loaded.account.name == "prod"
        with pytest.raises(PolicyError) as caught:
            loaded.alerts  # noqa: B018
        assert [str(p) for p in caught.value.problems] == [expected]
    finally:
        settings.get_settings.cache_clear()
        policy.current.cache_clear()


def test_chalice_deploy_refuses_a_policy_with_a_bad_section(tmp_path):
    """`chalice deploy` imports app.py (AWS_CHALICE_CLI_MODE set): the whole policy is validated there."""
    bad = tmp_path / "prod.yaml"
    bad.write_text(BASE.replace("        receiver: oncall\n", "        receiver: on-call\n"))
    env = {**os.environ, "SWITCHBOARD_ACCOUNT_NAME": "prod", "SWITCHBOARD_POLICY_FILE": str(bad),
           "AWS_CHALICE_CLI_MODE": "true", "LAMBDA_TASK_ROOT": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", "import app"], cwd=POLICIES.parent.parent, env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode != 0
    assert "PolicyError" in proc.stderr
    assert "alerts.route.routes[0]: unknown receiver 'on-call' (line 19)" in proc.stderr
