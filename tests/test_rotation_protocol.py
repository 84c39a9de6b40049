"""The four-step protocol against moto's Secrets Manager: entry checks, every step of the API-key kind, crashes
after each step then the step retried, gates (freeze, group spacing, the policy's switch), and the audit trail."""

from __future__ import annotations

import json

import pytest

from chalicelib.rotation import protocol
from chalicelib.rotation.exceptions import Deferred, Malformed, NoKind, NotAVersion, NotEnabled, NotPending
from chalicelib.rotation.protocol import Entry, Invocation, Step
from chalicelib.state import audit
from tests.test_rotation_kit import Crash, crash_after, secrets_world, token, use_policy

CUR, PEN, PREV = ["AWSCURRENT"], ["AWSPENDING"], ["AWSPREVIOUS"]


# ---- entry checks (pure) ----

def meta(stages: dict[str, list[str]], enabled: bool = True) -> dict:
    return {"Name": "web/api-key", "RotationEnabled": enabled, "VersionIdsToStages": stages}


@pytest.mark.parametrize(("stages", "enabled", "expected"), [
    ({"v1": CUR, "t": PEN}, True, Entry.PROCEED),
    ({"v1": PREV, "t": CUR}, True, Entry.CURRENT),
    ({"v1": PREV, "t": ["AWSCURRENT", "AWSPENDING"]}, True, Entry.CURRENT),
    ({"v1": CUR, "t": PEN}, False, NotEnabled("rotation is not enabled for web/api-key")),
    ({"v1": CUR}, True, NotAVersion("version t is not a version of web/api-key")),
    ({"v1": CUR, "t": PREV}, True, NotPending("version t of web/api-key is not AWSPENDING: it is not being rotated")),
    ({"v1": CUR, "t": []}, True, NotPending("version t of web/api-key is not AWSPENDING: it is not being rotated")),
])
def test_entry_checks(stages, enabled, expected):
    if isinstance(expected, Exception):
        with pytest.raises(type(expected)) as caught:
            protocol.check_entry(meta(stages, enabled), "t")
        assert caught.value.reason == expected.reason
    else:
        assert protocol.check_entry(meta(stages, enabled), "t") is expected


@pytest.mark.parametrize(("event", "reason"), [
    ("not a dict", "the rotation function was invoked without an event object"),
    ({"SecretId": "s", "Step": "createSecret"}, "the rotation event lacks ClientRequestToken"),
    ({"SecretId": "s", "ClientRequestToken": "t", "Step": "dropSecret"}, "unknown rotation step 'dropSecret'"),
])
def test_malformed_invocations_are_refused(event, reason):
    with pytest.raises(Malformed) as caught:
        Invocation.parse(event)
    assert caught.value.reason == reason


def test_rotation_token_is_kept():
    inv = Invocation.parse({"SecretId": "s", "ClientRequestToken": "t", "Step": "setSecret", "RotationToken": "r"})
    assert (inv.step, inv.rotation_token) == (Step.SET, "r")


# ---- against moto: the API-key kind (no webhook: the consumer reads the secret each time) ----

@pytest.fixture
def world(aws, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "stage")
    return secrets_world(aws.url)


def test_a_full_rotation_moves_current_and_keeps_the_other_fields(world):
    arn = world.create("web/api-key", {"key": "k0", "client": "web"}, kind="api-key")
    old = world.version(arn, "AWSCURRENT")
    report = world.rotate(arn)
    assert report.ok, report.error
    assert [d["outcome"] for d in report.done] == ["created", "already works", "tested", "finished"]
    new = world.value(arn)
    assert new["client"] == "web" and new["key"] != "k0" and len(new["key"]) == 40 and new["key"].isalnum()
    assert world.stages(arn) == {old: ["AWSPREVIOUS"], report.token: ["AWSCURRENT"]}  # AWSPENDING is gone
    assert world.value(arn, "AWSPREVIOUS") == {"key": "k0", "client": "web"}
    trail = {e.action: (e.outcome, e.reason) for e in audit.for_correlation(report.token)}
    assert trail == {"rotation.createSecret": ("succeeded", "created"),
                     "rotation.setSecret": ("succeeded", "already works"),
                     "rotation.testSecret": ("succeeded", "tested"),
                     "rotation.finishSecret": ("succeeded", "finished")}
    assert {e.target for e in audit.for_correlation(report.token)} == {"secret/web/api-key"}


def test_a_plain_string_key_is_rotated_whole(world, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "stage", {"secrets": {"ci/token": {"kind": "api-key", "key_field": "",
                                                                          "length": 64}}})
    arn = world.create("ci/token", "plain-old-token")
    assert world.rotate(arn).ok
    assert isinstance(world.value(arn), str) and len(world.value(arn)) == 64


def test_three_rotations_in_a_row(world):
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    seen = {"k0"}
    for _ in range(3):
        report = world.rotate(arn)
        assert report.ok, report.error
        seen.add(world.value(arn)["key"])
    assert len(seen) == 4 and len(world.stages(arn)) == 2  # current + previous; older ones lose their labels


@pytest.mark.parametrize("step", ["createSecret", "setSecret", "testSecret", "finishSecret"])
def test_every_step_is_a_no_op_once_the_token_is_current(world, step):
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    report = world.rotate(arn)
    current = world.value(arn)
    assert world.step(arn, report.token, step)["outcome"] == "already current"
    assert world.value(arn) == current and world.version(arn, "AWSCURRENT") == report.token


@pytest.mark.parametrize("step", ["createSecret", "setSecret", "testSecret", "finishSecret"])
def test_a_token_that_is_not_a_version_is_refused(world, step):
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    world.start(arn)
    bogus = token()
    with pytest.raises(NotAVersion, match=f"version {bogus} is not a version of web/api-key"):
        world.step(arn, bogus, step)
    [entry] = [e for e in audit.for_correlation(bogus)]
    assert entry.outcome == "failed" and entry.action == f"rotation.{step}"


def test_a_version_that_is_not_pending_is_refused(world):
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    first = world.rotate(arn)
    world.rotate(arn)
    with pytest.raises(NotPending):  # first is AWSPREVIOUS now
        world.step(arn, first.token, "setSecret")


def test_rotation_not_enabled_is_refused(world):
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    pending = world.start(arn, days=None)  # RotateSecret without rules: moto leaves rotation disabled
    with pytest.raises(NotEnabled):
        world.step(arn, pending, "createSecret")


def test_set_and_test_without_a_pending_value_fail_clearly(world):
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    pending = world.start(arn)
    for step in ("setSecret", "testSecret"):
        with pytest.raises(NotPending, match="has no pending value"):
            world.step(arn, pending, step)


def test_a_secret_without_a_kind_is_refused(world):
    arn = world.create("misc/thing", {"key": "k0"})
    pending = world.start(arn)
    with pytest.raises(NoKind, match="misc/thing has no kind"):
        world.step(arn, pending, "createSecret")
    assert world.value(arn) == {"key": "k0"}


def test_a_tag_that_contradicts_policy_is_refused(world, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "stage", {"secrets": {"web/api-key": {"kind": "postgres-single"}}})
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    with pytest.raises(NoKind, match="policy says postgres-single but tag switchboard:rotation-kind says api-key"):
        world.step(arn, world.start(arn), "createSecret")


def test_a_pending_value_that_changes_more_than_the_key_is_refused(world):
    arn = world.create("web/api-key", {"key": "k0", "endpoint": "https://api.example"}, kind="api-key")
    pending = world.start(arn)
    world.sm.put_secret_value(SecretId=arn, ClientRequestToken=pending, VersionStages=["AWSPENDING"],
                              SecretString=json.dumps({"key": "x", "endpoint": "https://evil.example"}))
    for step in ("setSecret", "testSecret"):
        with pytest.raises(Exception, match="changes endpoint, not only 'key'"):
            world.step(arn, pending, step)


# ---- crashes: the Lambda dies right after each step's work; Secrets Manager retries the step ----

def test_crash_after_put_secret_value_then_create_retried(world, monkeypatch):
    from chalicelib import aws

    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    pending = world.start(arn)
    crash_after(monkeypatch, aws.client("secretsmanager"), "put_secret_value")
    with pytest.raises(Crash):
        world.step(arn, pending, "createSecret")
    stored = world.value(arn, "AWSPENDING", pending)
    assert world.step(arn, pending, "createSecret")["outcome"] == "already created"
    assert world.value(arn, "AWSPENDING", pending) == stored  # not generated twice
    assert world.drive(arn, pending, ("setSecret", "testSecret", "finishSecret")).ok
    assert world.value(arn) == stored


@pytest.mark.parametrize("method", ["update_secret_version_stage"])
def test_crash_after_moving_current_then_finish_retried(world, monkeypatch, method):
    from chalicelib import aws

    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    pending = world.start(arn)
    assert world.drive(arn, pending, ("createSecret", "setSecret", "testSecret")).ok
    crash_after(monkeypatch, aws.client("secretsmanager"), method)  # AWSCURRENT moved, AWSPENDING still on it
    with pytest.raises(Crash):
        world.step(arn, pending, "finishSecret")
    assert world.stages(arn)[pending] == ["AWSCURRENT", "AWSPENDING"]
    assert world.step(arn, pending, "finishSecret")["outcome"] == "already current"
    assert world.stages(arn)[pending] == ["AWSCURRENT"]
    assert world.rotate(arn).ok  # nothing left behind that would block the next rotation


@pytest.mark.parametrize("step", ["setSecret", "testSecret", "finishSecret"])
def test_each_step_can_simply_run_again(world, step):
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    pending = world.start(arn)
    order = ["createSecret", "setSecret", "testSecret", "finishSecret"]
    assert world.drive(arn, pending, tuple(order[: order.index(step) + 1])).ok
    again = world.step(arn, pending, step)
    assert again["outcome"] in ("already works", "tested", "already current")
    assert world.drive(arn, pending, tuple(order[order.index(step) + 1:])).ok
    assert world.version(arn, "AWSCURRENT") == pending


# ---- gates: createSecret defers (and leaves nothing behind); later steps still finish ----

def test_a_freeze_defers_create_and_removes_the_empty_pending_label(world, monkeypatch, tmp_path):
    always = {"name": "holidays", "environments": ["stage"], "weekly": {"days": ["mon", "tue", "wed", "thu", "fri",
              "sat", "sun"], "from": "00:00", "to": "23:59"}, "reason": "end of year"}
    use_policy(monkeypatch, tmp_path, "stage", freezes=[always])
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    world.clock.at = world.clock.at.replace(hour=12)
    pending = world.start(arn)
    with pytest.raises(Deferred, match=r"freeze 'holidays' is in force in stage \(end of year\)"):
        world.step(arn, pending, "createSecret")
    assert pending not in world.stages(arn)  # nothing blocks a later rotation
    assert world.value(arn) == {"key": "k0"}
    [entry] = audit.for_correlation(pending)
    assert entry.outcome == "refused"


def test_a_freeze_does_not_stop_a_rotation_already_past_create(world, monkeypatch, tmp_path):
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    pending = world.start(arn)
    assert world.drive(arn, pending, ("createSecret",)).ok
    use_policy(monkeypatch, tmp_path, "stage", freezes=[{"name": "now", "environments": ["stage"], "weekly": {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "00:00", "to": "23:59"}}])
    world.clock.at = world.clock.at.replace(hour=12)
    assert world.step(arn, pending, "createSecret")["outcome"] == "already created"
    assert world.drive(arn, pending, ("setSecret", "testSecret", "finishSecret")).ok


def test_the_policy_switch_defers_new_rotations(world, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "stage", {"enabled": False})
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    with pytest.raises(Deferred, match="rotation is disabled in this account's policy"):
        world.step(arn, world.start(arn), "createSecret")


def test_paired_secrets_never_start_within_the_spacing(world, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "stage", {"groups": {"app-db": {"secrets": ["a/key", "b/key"],
                                                                        "spacing": "1h"}}})
    a = world.create("a/key", {"key": "a0"}, kind="api-key")
    b = world.create("b/key", {"key": "b0"}, kind="api-key")
    assert world.rotate(a).ok
    pending = world.start(b)
    with pytest.raises(Deferred, match=r"a/key \(group app-db\) rotated at .*; b/key may start from"):
        world.step(b, pending, "createSecret")
    world.clock.advance(hours=1, minutes=1)
    assert world.rotate(b).ok


def test_a_paired_secret_being_rotated_blocks_the_other(world, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "stage", {"groups": {"app-db": {"secrets": ["a/key", "b/key"],
                                                                        "spacing": "1m"}}})
    a = world.create("a/key", {"key": "a0"}, kind="api-key")
    b = world.create("b/key", {"key": "b0"}, kind="api-key")
    a_pending = world.start(a)
    assert world.drive(a, a_pending, ("createSecret",)).ok
    world.clock.advance(minutes=5)  # past the spacing, but a is still rotating
    with pytest.raises(Deferred, match=r"a/key \(group app-db\) is being rotated"):
        world.step(b, world.start(b), "createSecret")
    assert world.drive(a, a_pending, ("setSecret", "testSecret", "finishSecret")).ok
    world.clock.advance(minutes=5)
    assert world.rotate(b).ok
