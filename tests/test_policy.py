"""The policy validator: every problem reported with its YAML path and line; valid policies load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chalicelib import policy
from chalicelib.policy import PolicyError, parse
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


@pytest.mark.parametrize(("old", "new", "expected"), [
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
     "'approval-result' or 'announce' (line 4)"),
])
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
