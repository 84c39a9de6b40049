"""Promotion's policy section, IAM statements and card text (pure: no emulator)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.policy.loader import PolicyError, load, parse
from chalicelib.promotion import messages, permissions
from chalicelib.promotion.gates import Health
from chalicelib.promotion.store import Promotion, Revision

POLICIES = Path(__file__).resolve().parent.parent / "chalicelib" / "policies"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def policy(name: str):
    return load(POLICIES / f"{name}.yaml")


def test_prod_may_start_its_pipelines_and_answer_only_the_named_approval_action():
    found = {s["Sid"]: s for s in permissions.statements(policy("prod"))}
    assert found["PromotionDeploy"]["Resource"] == [
        "arn:aws:codepipeline:eu-west-1:333344445555:api-prod",
        "arn:aws:codepipeline:eu-west-1:333344445555:web-prod"]
    assert found["PromotionApprove"]["Resource"] == [
        "arn:aws:codepipeline:eu-west-1:333344445555:api-prod/Prod/ApproveProd"]
    assert found["PromotionAlarms"]["Resource"] == "arn:aws:cloudwatch:eu-west-1:333344445555:alarm:*"


def test_stage_only_reads_its_pipelines():
    found = {s["Sid"]: s for s in permissions.statements(policy("stage"))}
    assert set(found) == {"PromotionAlarms", "PromotionPipelinesRead"}
    assert found["PromotionPipelinesRead"]["Resource"] == [
        "arn:aws:codepipeline:eu-west-1:222233334444:api-stage",
        "arn:aws:codepipeline:eu-west-1:222233334444:web-stage"]


def test_the_front_door_account_gets_nothing_for_promotion():
    assert permissions.statements(policy("shared-services")) == []


def test_app_settings_fall_back_to_defaults_and_watch_the_alarm_prefixes():
    prod = policy("prod")
    web, api = prod.promotion.settings("web", ("web-",)), prod.promotion.settings("api", ("api-",))
    assert (web.approvals.count, web.approvals.group, web.bake, web.approval_expiry) == (2, "S0LEADS", "10m", "24h")
    assert (api.approvals.count, api.bake, str(api.rollback), str(api.deploy.mode)) == (1, "15m", "notify", "approval")
    assert web.alarms == ("web-*",)


def _with(section: str) -> str:
    text = (POLICIES / "prod.yaml").read_text()
    start = text.index("promotion:\n")
    end = text.index("\nrotation:")
    return text[:start] + section + text[end:]


def test_approval_mode_must_name_its_action():
    with pytest.raises(PolicyError) as err:
        parse(_with("promotion:\n  enabled: true\n  paths: {api: [stage, prod]}\n"
                    "  apps:\n    api: {deploy: {mode: approval}}\n"), "prod.yaml")
    assert "needs the 'stage' and 'action'" in str(err.value)
    assert "promotion.apps.api.deploy" in str(err.value)


def test_settings_for_an_app_without_a_path_and_unknown_apps_are_named():
    with pytest.raises(PolicyError) as err:
        parse(_with("promotion:\n  enabled: true\n  paths: {web: [stage, prod]}\n"
                    "  apps:\n    api: {soak: 1h}\n    nope: {soak: 1h}\n"), "prod.yaml")
    text = str(err.value)
    assert "app 'api' has settings but no promotion path" in text and "unknown app 'nope'" in text


def _promotion(**kw) -> Promotion:
    base = dict(id="abc123def0", app="web", source_env="stage", target_env="prod", side="target",
                revision=Revision(id="4f1c2a9d8e7b", summary="<!channel> & <https://evil|click> fix",
                                  author="<@U0EVIL> eve"),
                succeeded_at=NOW, created_at=NOW, updated_at=NOW)
    return Promotion(**{**base, **kw})


def test_the_card_escapes_what_came_from_outside():
    text = str(messages.body(_promotion(requester="U0ALICE001")))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil|click>" not in text
    assert "<@U0EVIL>" not in text  # an author is text, never a mention
    assert "<@U0ALICE001>" in text  # the requester is a checked user id


def test_gate_reasons_keep_only_well_formed_user_mentions():
    p = _promotion(gates=[{"name": "approval", "status": "wait", "reason": "1 of 2 approvals (<@U0BOB00001>)"},
                          {"name": "hold", "status": "wait", "reason": "held: <!here> <@not-a-user>"}])
    lines = messages.gate_lines(p.gates)
    assert "<@U0BOB00001>" in lines[0]
    assert "<!here>" not in lines[1] and "&lt;@not-a-user&gt;" in lines[1]


# ---- invisible text: what a commit carries is shown, never acted on ----

def test_a_right_to_left_override_in_a_commit_is_neutralised_on_the_card():
    p = _promotion(revision=Revision(id="4f1c2a9d8e7b", summary="fix login \u202egnp.exe\u202c for \u200bmobile",
                                     author="mallory\u2066 <@U0BOSS>\u2069", url="https://git.example/c/4f1c\u202e"))
    text = str(messages.body(p)) + messages.text(p)
    assert not any(ch in text for ch in "\u202e\u202c\u200b\u2066\u2069")
    assert "fix login [U+202E]gnp.exe[U+202C] for [U+200B]mobile" in text
    assert "mallory[U+2066] &lt;@U0BOSS&gt;[U+2069]" in text
    assert "|commit>" not in text  # a link whose URL hides something is not linked


# ---- the health check, at run time: the outbound adapter's rules ----

@pytest.mark.parametrize(("url", "error"), [
    ("file:///etc/passwd", "refused: the URL is not https"),
    ("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
     "refused: the URL names the Lambda runtime API (127.0.0.1)"),
    ("https://169.254.169.254/latest/meta-data/",
     "refused: the URL names the instance metadata service (169.254.169.254)"),
])
def test_a_health_check_to_a_forbidden_url_is_refused_not_called(url, error):
    from chalicelib.promotion import facts

    assert facts.health(url, 1.0) == Health(url, None, error)


@pytest.mark.parametrize(("status", "passes"), [(200, True), (302, False), (503, False)])
def test_a_health_check_redirect_is_not_followed(status, passes):
    from chalicelib.promotion import facts
    from chalicelib.promotion.gates import OK
    from tests.test_outbound import serve

    target, target_seen = serve()
    server, seen = serve((status, {"Location": f"http://127.0.0.1:{target.server_address[1]}/ok"}, b"x" * 100_000))
    try:
        found = facts.health(f"http://127.0.0.1:{server.server_address[1]}/health", 2.0)
    finally:
        for running in (server, target):
            running.shutdown()
            running.server_close()
    assert (found.status_code == OK) is passes and found.status_code == status
    assert [s["path"] for s in seen] == ["/health"] and target_seen == []
