"""The daily watch: findings per policy (pure table tests, then against moto), the Slack summary, one card per
stuck AWSPENDING, and clearing it after the click only when that is still right and safe."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import capabilities
from chalicelib.capabilities import Capability
from chalicelib.decisions import service as decisions
from chalicelib.rotation import handlers as rotation_handlers  # noqa: F401 - registers the decision handler
from chalicelib.rotation import watch
from chalicelib.rotation.facts import Facts
from chalicelib.rotation.policy import RotationSection
from chalicelib.state import audit
from localworld.slack_user import uid
from tests.postgres_fixture import database, postgres, trust_local_ca  # noqa: F401
from tests.test_rotation_kit import capture_bus, secrets_world, slack_workspace, texts, use_policy

NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


# ---- assess: pure ----

def facts(**over) -> Facts:
    base = {"arn": "arn:aws:secretsmanager:eu-west-1:1:secret:web/db-AbCdEf", "name": "web/db", "tags": {},
            "rotation_enabled": True, "lambda_arn": "arn:fn", "created": NOW - timedelta(days=100),
            "last_rotated": NOW - timedelta(days=3), "kms_key_id": "alias/secrets", "owning_service": None,
            "stages": {"v1": ("AWSCURRENT",)}}
    return Facts(**{**base, **over})


SECTION = RotationSection.model_validate({
    "enabled": True, "pending_stuck_after": "6h",
    "defaults": {"max_age_days": 90, "kms_customer_key_required": True},
    "secrets": {"web/db": {"kind": "postgres-single", "max_age_days": 30},
                "web/loose": {"rotation_required": False, "kms_customer_key_required": False}},
})


def codes(f: Facts, customer: bool | None = True, section: RotationSection = SECTION) -> list[str]:
    effective = section.effective(f.name, f.tags)
    return [x.code for x in watch.assess(f, effective, section, NOW, customer)]


@pytest.mark.parametrize(("over", "customer", "expected"), [
    ({}, True, []),
    ({"rotation_enabled": False}, True, ["rotation-disabled"]),
    ({"last_rotated": NOW - timedelta(days=31)}, True, ["overdue"]),
    ({"last_rotated": NOW - timedelta(days=30)}, True, []),  # exactly the max age is not over it
    ({"last_rotated": None}, True, ["overdue"]),  # never rotated: as old as the secret
    ({"kms_key_id": None}, False, ["no-customer-key"]),
    ({"kms_key_id": "arn:aws:kms:eu-west-1:1:key/k"}, None, ["no-customer-key"]),  # could not tell
    ({"stages": {"v1": ("AWSCURRENT",), "v2": ("AWSPENDING",)}, "pending_version": "v2",
      "pending_created": NOW - timedelta(hours=7)}, True, ["stuck-pending"]),
    ({"stages": {"v1": ("AWSCURRENT",), "v2": ("AWSPENDING",)}, "pending_version": "v2",
      "pending_created": NOW - timedelta(hours=1)}, True, []),  # a rotation under way
    ({"owning_service": "rds", "rotation_enabled": False, "kms_key_id": None}, False, ["no-customer-key"]),
    ({"tags": {"switchboard:rotation-kind": "api-key"}}, True, ["bad-kind"]),
])
def test_assess(over, customer, expected):
    assert codes(facts(**over), customer) == expected


def test_assess_unlisted_secrets_use_the_defaults_and_tags():
    loose = facts(name="web/loose", rotation_enabled=False, last_rotated=None, kms_key_id=None)
    assert codes(loose, False) == []  # listed as not required, no key demanded
    other = facts(name="misc/thing", rotation_enabled=False, last_rotated=None, kms_key_id=None)
    assert codes(other, False) == ["no-customer-key"]  # not required to rotate by default
    tagged = facts(name="misc/tagged", tags={"switchboard:rotation-kind": "api-key"}, rotation_enabled=False,
                   created=NOW - timedelta(days=91), last_rotated=None)
    assert codes(tagged) == ["rotation-disabled", "overdue"]  # a kind tag means: rotate me (defaults' 90 days)
    bad = facts(name="misc/bad", tags={"switchboard:rotation-kind": "ldap"})
    assert codes(bad) == ["bad-kind"]


def test_assess_messages_say_what_and_how_long():
    [overdue] = watch.assess(facts(last_rotated=NOW - timedelta(days=45)), SECTION.effective("web/db", {}), SECTION,
                             NOW, True)
    assert overdue.message == "last rotated 45 days ago (max 30)"
    [stuck] = watch.assess(facts(stages={"v1": ("AWSCURRENT",), "v9": ("AWSPENDING",)}, pending_version="v9",
                                 pending_created=NOW - timedelta(days=2)), SECTION.effective("web/db", {}), SECTION,
                           NOW, True)
    assert stuck.version == "v9"
    assert stuck.message.startswith("version v9 is stuck in AWSPENDING since 2026-11-18 07:00")


# ---- run(): against moto, from the front-door account (cards go straight to the Slack stand-in) ----

@pytest.fixture
def front(aws, slack, monkeypatch, tmp_path):
    slack_workspace(monkeypatch, slack)
    monkeypatch.setitem(capabilities.LANDED, Capability.ROTATION, "chalicelib.rotation.handlers")
    policy = {"defaults": {"kms_customer_key_required": True},
              "secrets": {"web/api-key": {"kind": "api-key", "max_age_days": 30},
                          "web/never": {"kind": "api-key"}}}
    use_policy(monkeypatch, tmp_path, "shared-services", policy)
    world = secrets_world(aws.url)
    world.slack = slack
    return world


def cmk() -> str:
    from chalicelib import aws

    key = aws.client("kms").create_key()["KeyMetadata"]["KeyId"]
    aws.client("kms").create_alias(AliasName="alias/secrets", TargetKeyId=key)
    return "alias/secrets"


def test_run_finds_each_problem_once_and_says_so_in_slack(front):
    key = cmk()
    healthy = front.create("web/api-key", {"key": "k0"}, kms_key=key)
    assert front.rotate(healthy).ok
    front.create("web/never", {"key": "k0"}, kms_key=key)  # listed, rotation never enabled (90 days: not overdue)
    stuck = front.create("ops/token", {"key": "t0"}, kind="api-key", kms_key=key)
    pending = front.start(stuck)
    front.create("misc/plain", "x")  # AWS managed key where policy wants a customer key
    report = watch.run(now=datetime.now(UTC) + timedelta(days=31))
    found = {(f["secret"], f["code"]) for f in report["findings"]}
    assert found == {("web/api-key", "overdue"), ("web/never", "rotation-disabled"),
                     ("ops/token", "stuck-pending"), ("misc/plain", "no-customer-key"),
                     ("switchboard/slack", "no-customer-key")}
    assert report["asked"] == [pending] and report["secrets"] == 5
    [summary] = [t for t in texts(front.slack, "#platform") if "rotation watch" in t]
    assert "finding(s) in 5 secret(s)" in summary and "`web/never` rotation-disabled" in summary
    [card] = [m for m in front.slack.messages("#platform") if "decision_approve" in json.dumps(m.blocks)]
    assert "clear stuck AWSPENDING of ops/token in shared" in json.dumps(card.blocks)
    entries = {(e.target, e.reason) for e in audit.for_target("secret/web/never")}
    assert ("secret/web/never", "rotation is required but not enabled") in entries


def test_a_stuck_version_is_asked_about_once(front):
    stuck = front.create("ops/token", {"key": "t0"}, kind="api-key")
    front.start(stuck)
    later = datetime.now(UTC) + timedelta(hours=7)
    assert len(watch.run(now=later)["asked"]) == 1
    assert watch.run(now=later + timedelta(days=1))["asked"] == []
    cards = [m for m in front.slack.messages("#platform") if "decision_approve" in json.dumps(m.blocks)]
    assert len(cards) == 1


def test_a_disabled_policy_watches_nothing(front, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "shared-services", {"enabled": False})
    front.create("web/never", {"key": "k0"})
    assert watch.run() == {"enabled": False, "secrets": 0, "findings": [], "asked": []}
    assert front.slack.messages("#platform") == []


def test_in_a_peer_account_the_card_is_asked_for_through_the_front_door(aws, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "prod")
    world = secrets_world(aws.url)
    take = capture_bus()
    stuck = world.create("ops/token", {"key": "t0"}, kind="api-key")
    pending = world.start(stuck)
    watch.run(now=datetime.now(UTC) + timedelta(hours=7))
    flows = {e["detail"]["flow"]: e["detail"] for e in take()}
    assert set(flows) == {"approval-request", "announce"}
    request = flows["approval-request"]["payload"]
    assert request["capability"] == "rotation" and request["role"] == "operator" and request["environment"] == "prod"
    from chalicelib import pending as requests

    stored = requests.get(request["pending"]["id"])  # what would be cleared stays in prod; its ticket travels
    assert stored.subject == {"action": "clear-pending", "secret": "ops/token", "arn": stuck, "version": pending}
    assert request["payload"] is None and stored.requester == "system" and stored.role == "operator"


# ---- clearing, after the click ----

def _a_second_later(monkeypatch) -> None:
    """The Slack send budget's clock, a second on: the channel's budget has refilled a write."""
    import time

    from chalicelib.slackkit import pacing

    at = time.time() + 1.0
    monkeypatch.setattr(pacing, "wall", lambda: at)


def click_approve(front, user: str = "alice") -> decisions.Outcome:
    [card] = [m for m in front.slack.messages("#platform") if "decision_approve" in json.dumps(m.blocks)]
    decision_id = next(e["value"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]
                       if e["action_id"] == "decision_approve")
    from localworld.slack_user import USERS

    return decisions.decide(decision_id, "approved", user=uid(user), groups=frozenset(USERS[user][1]),
                            correlation_id="test-click")


def test_clicking_clears_an_empty_stuck_version(front, monkeypatch):
    stuck = front.create("ops/token", {"key": "t0"}, kind="api-key")
    pending = front.start(stuck)
    later = datetime.now(UTC) + timedelta(hours=7)
    watch.run(now=later)
    _a_second_later(monkeypatch)  # the findings and the card spent #platform's burst: the answer goes a second later
    monkeypatch.setattr(watch, "datetime", _FrozenDatetime.at(later))
    outcome = click_approve(front)
    assert outcome.changed, outcome.message
    assert pending not in front.stages(stuck)
    assert front.rotate(stuck).ok  # rotations work again
    said = texts(front.slack, "#platform")
    assert any(f"cleared AWSPENDING from version {pending} of ops/token (it had no value)" in t and
               f"approved by <@{uid('alice')}>" in t for t in said)
    [entry] = [e for e in audit.for_target("secret/ops/token") if e.action == "rotation.clear_pending"]
    assert entry.outcome == "succeeded" and entry.actor == uid("alice")


def test_clicking_a_rejection_changes_nothing(front, monkeypatch):
    stuck = front.create("ops/token", {"key": "t0"}, kind="api-key")
    pending = front.start(stuck)
    watch.run(now=datetime.now(UTC) + timedelta(hours=7))
    _a_second_later(monkeypatch)
    [card] = [m for m in front.slack.messages("#platform") if "decision_reject" in json.dumps(m.blocks)]
    decision_id = next(e["value"] for b in card.blocks if b["type"] == "actions" for e in b["elements"])
    decisions.decide(decision_id, "rejected", user=uid("alice"), groups=frozenset({"S0PLATFORM"}),
                     correlation_id="c")
    assert front.stages(stuck)[pending] == ["AWSPENDING"]
    assert any("clear-pending of ops/token was rejected" in t for t in texts(front.slack, "#platform"))


@pytest.mark.parametrize(("situation", "cleared", "message"), [
    ("finished", False, "is no longer AWSPENDING: nothing to clear"),
    ("fresh", False, "is being rotated right now: not stuck"),
    ("gone", False, "no longer exists"),
])
def test_clear_rechecks_before_changing_anything(front, situation, cleared, message):
    arn = front.create("ops/token", {"key": "t0"}, kind="api-key")
    pending = front.start(arn)
    now = datetime.now(UTC) + timedelta(hours=7)
    if situation == "finished":
        assert front.drive(arn, pending).ok
    elif situation == "fresh":
        now = datetime.now(UTC)
    elif situation == "gone":
        front.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    result = watch.clear("ops/token", pending, now=now)
    assert result.cleared is cleared and message in result.message


def test_clear_keeps_a_pending_value_the_target_already_uses(front, postgres, monkeypatch, tmp_path):  # noqa: F811
    trust_local_ca(monkeypatch, postgres)
    use_policy(monkeypatch, tmp_path, "shared-services")
    with database(postgres) as db:
        arn = front.create("api/db-password", db.secret(), kind="postgres-single")
        pending = front.start(arn)
        assert front.drive(arn, pending, ("createSecret", "setSecret")).ok  # the password changed, then it stopped
        result = watch.clear("api/db-password", pending, now=datetime.now(UTC) + timedelta(hours=7))
        assert not result.cleared
        assert "already accepts the pending value and no longer the current one: finish this rotation" in \
            result.message
        assert front.stages(arn)[pending] == ["AWSPENDING"]


def test_clear_drops_a_pending_password_never_set(front, postgres, monkeypatch, tmp_path):  # noqa: F811
    trust_local_ca(monkeypatch, postgres)
    use_policy(monkeypatch, tmp_path, "shared-services")
    with database(postgres) as db:
        arn = front.create("api/db-password", db.secret(), kind="postgres-single")
        pending = front.start(arn)
        assert front.drive(arn, pending, ("createSecret",)).ok
        assert watch.clear("api/db-password", pending, now=datetime.now(UTC) + timedelta(hours=7)).cleared
        assert pending not in front.stages(arn)
        assert db.login(db.user, db.password) == db.user


def test_clear_deletes_the_iam_key_made_for_the_stuck_version(front, monkeypatch):
    from chalicelib import aws
    from tests.test_rotation_kit import client_as

    monkeypatch.setattr(aws, "client_as", client_as, raising=False)
    iam = aws.client("iam")
    iam.create_user(UserName="svc", Tags=[{"Key": "switchboard:rotation", "Value": "enabled"}])
    made = iam.create_access_key(UserName="svc")["AccessKey"]
    arn = front.create("ci/key", {"user": "svc", "access_key_id": made["AccessKeyId"],
                                  "secret_access_key": made["SecretAccessKey"]}, kind="iam-access-key")
    pending = front.start(arn)
    assert front.drive(arn, pending, ("createSecret",)).ok
    assert len(iam.list_access_keys(UserName="svc")["AccessKeyMetadata"]) == 2
    assert watch.clear("ci/key", pending, now=datetime.now(UTC) + timedelta(hours=7)).cleared
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="svc")["AccessKeyMetadata"]] == [
        made["AccessKeyId"]]


class _FrozenDatetime(datetime):
    """watch.datetime with now() fixed (the decision handler calls clear() without a clock)."""

    frozen: datetime

    @classmethod
    def at(cls, when: datetime) -> type[_FrozenDatetime]:
        return type("Frozen", (cls,), {"frozen": when})

    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206
        return cls.frozen
