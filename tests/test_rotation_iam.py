"""The access key of an IAM service user, rotated through moto's IAM and STS: at most two keys, the old key
deactivated at finish and deleted by the next rotation, unknown keys refused, and crashes after each step."""

from __future__ import annotations

import json

import pytest

from chalicelib import aws
from chalicelib.rotation.exceptions import Refused
from chalicelib.rotation.kinds import iam_key
from tests.test_rotation_kit import Crash, client_as, crash_after, secrets_world, use_policy

USER = "ci-deployer"


@pytest.fixture
def world(aws, monkeypatch, tmp_path):
    from chalicelib import aws as factory

    use_policy(monkeypatch, tmp_path, "stage")
    monkeypatch.setattr(factory, "client_as", client_as, raising=False)  # the proposed chalicelib.aws.client_as
    return secrets_world(aws.url)


def service_user(name: str = USER, tags: dict[str, str] | None = None) -> dict:
    """A service user, tagged for rotation (iam_key.USER_TAG) unless ``tags`` says otherwise."""
    iam = aws.client("iam")
    tags = {iam_key.USER_TAG: iam_key.USER_TAG_VALUE} if tags is None else tags
    iam.create_user(UserName=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    made = iam.create_access_key(UserName=name)["AccessKey"]
    return {"user": name, "access_key_id": made["AccessKeyId"], "secret_access_key": made["SecretAccessKey"]}


def keys(name: str = USER) -> dict[str, str]:
    found = aws.client("iam").list_access_keys(UserName=name)["AccessKeyMetadata"]
    return {k["AccessKeyId"]: k["Status"] for k in found}


def identity(value: dict) -> str:
    return client_as("sts", access_key_id=value["access_key_id"],
                     secret_access_key=value["secret_access_key"]).get_caller_identity()["Arn"]


def test_a_rotation_makes_a_new_key_and_retires_the_old_one(world):
    first = service_user()
    arn = world.create("ci/deployer-key", first, kind="iam-access-key")
    report = world.rotate(arn)
    assert report.ok, report.error
    assert [d["outcome"] for d in report.done] == ["created", "already works", "tested", "finished"]
    current = world.value(arn)
    assert current["user"] == USER and current["access_key_id"] != first["access_key_id"]
    assert identity(current).endswith(f":user/{USER}")
    assert keys() == {first["access_key_id"]: "Inactive", current["access_key_id"]: "Active"}


@pytest.mark.parametrize("tags", [{}, {"switchboard:rotation": "disabled"}, {"switchboard:rotation-kind": "enabled"}])
def test_a_user_not_tagged_for_rotation_is_refused_before_any_key_is_made(world, tags):
    first = service_user(tags=tags)
    arn = world.create("ci/deployer-key", first, kind="iam-access-key")
    report = world.rotate(arn)
    assert report.failed_step == "createSecret"
    assert f"user {USER} is not tagged switchboard:rotation=enabled" in report.error
    assert keys() == {first["access_key_id"]: "Active"}  # nothing made, nothing deleted


def test_three_rotations_keep_at_most_two_keys(world):
    arn = world.create("ci/deployer-key", service_user(), kind="iam-access-key")
    for _ in range(3):
        assert world.rotate(arn).ok
        assert len(keys()) == 2 and list(keys().values()).count("Active") == 1
    assert keys()[world.value(arn)["access_key_id"]] == "Active"
    assert keys()[world.value(arn, "AWSPREVIOUS")["access_key_id"]] == "Inactive"


def test_an_active_key_no_version_holds_is_refused_not_deleted(world):
    arn = world.create("ci/deployer-key", service_user(), kind="iam-access-key")
    stranger = aws.client("iam").create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"]
    world.clock.advance(minutes=5)  # someone made that key before this rotation began
    report = world.rotate(arn)
    assert report.failed_step == "createSecret"
    assert f"has an active access key {stranger} that no version of ci/deployer-key holds" in report.error
    assert stranger in keys()


def test_a_pending_value_for_another_user_is_refused(world):
    arn = world.create("ci/deployer-key", service_user(), kind="iam-access-key")
    other = service_user("admin-person")
    pending = world.start(arn)
    world.sm.put_secret_value(SecretId=arn, ClientRequestToken=pending, VersionStages=["AWSPENDING"],
                              SecretString=json.dumps(other))
    for step in ("setSecret", "testSecret"):
        with pytest.raises(Refused, match="is for user admin-person, not ci-deployer"):
            world.step(arn, pending, step)


def test_test_fails_when_sts_does_not_answer_as_the_user(world, monkeypatch):
    arn = world.create("ci/deployer-key", service_user(), kind="iam-access-key")
    pending = world.start(arn)
    assert world.drive(arn, pending, ("createSecret", "setSecret")).ok
    pauses = []
    monkeypatch.setattr(iam_key.IamAccessKey, "_identity", lambda self, value: "arn:aws:sts::1:user/moto")
    report = world.drive(arn, pending, ("testSecret",), sleep=pauses.append)
    assert report.failed_step == "testSecret" and "STS does not accept the new key of ci-deployer" in report.error
    assert pauses == [iam_key.PROVE_PAUSE_SECONDS] * (iam_key.PROVE_ATTEMPTS - 1)  # retried, with injected sleeps
    assert world.value(arn)["access_key_id"] in keys()


def test_a_deleted_pending_key_fails_set_clearly(world):
    arn = world.create("ci/deployer-key", service_user(), kind="iam-access-key")
    pending = world.start(arn)
    assert world.drive(arn, pending, ("createSecret",)).ok
    made = world.value(arn, "AWSPENDING", pending)["access_key_id"]
    aws.client("iam").delete_access_key(UserName=USER, AccessKeyId=made)
    report = world.drive(arn, pending, ("setSecret",))
    assert report.failed_step == "setSecret"
    assert f"the new key {made} of user ci-deployer no longer exists" in report.error


def test_an_inactive_pending_key_is_reactivated_by_set(world):
    arn = world.create("ci/deployer-key", service_user(), kind="iam-access-key")
    pending = world.start(arn)
    assert world.drive(arn, pending, ("createSecret",)).ok
    made = world.value(arn, "AWSPENDING", pending)["access_key_id"]
    aws.client("iam").update_access_key(UserName=USER, AccessKeyId=made, Status="Inactive")
    assert world.step(arn, pending, "setSecret")["outcome"] == "set"
    assert keys()[made] == "Active"


# ---- crashes ----

def test_crash_between_creating_the_key_and_storing_it(world, monkeypatch):
    arn = world.create("ci/deployer-key", service_user(), kind="iam-access-key")
    pending = world.start(arn)
    crash_after(monkeypatch, aws.client("iam"), "create_access_key")  # the key exists, nobody stored it
    with pytest.raises(Crash):
        world.step(arn, pending, "createSecret")
    assert len(keys()) == 2
    assert world.step(arn, pending, "createSecret")["outcome"] == "created"  # the orphan is deleted first
    stored = world.value(arn, "AWSPENDING", pending)["access_key_id"]
    assert len(keys()) == 2 and stored in keys()
    assert world.drive(arn, pending, ("setSecret", "testSecret", "finishSecret")).ok


def test_crash_after_storing_the_key_then_create_retried(world, monkeypatch):
    arn = world.create("ci/deployer-key", service_user(), kind="iam-access-key")
    pending = world.start(arn)
    crash_after(monkeypatch, aws.client("secretsmanager"), "put_secret_value")
    with pytest.raises(Crash):
        world.step(arn, pending, "createSecret")
    before = keys()
    assert world.step(arn, pending, "createSecret")["outcome"] == "already created"
    assert keys() == before  # no third key, no key lost


@pytest.mark.parametrize("method", ["apply", "prove"])
def test_crash_after_set_or_test_then_retried(world, monkeypatch, method):
    arn = world.create("ci/deployer-key", service_user(), kind="iam-access-key")
    pending = world.start(arn)
    steps = {"apply": ("createSecret",), "prove": ("createSecret", "setSecret")}[method]
    step = {"apply": "setSecret", "prove": "testSecret"}[method]
    assert world.drive(arn, pending, steps).ok
    if method == "apply":  # make set actually have work to do
        made = world.value(arn, "AWSPENDING", pending)["access_key_id"]
        aws.client("iam").update_access_key(UserName=USER, AccessKeyId=made, Status="Inactive")
    crash_after(monkeypatch, iam_key.IamAccessKey, method)
    with pytest.raises(Crash):
        world.step(arn, pending, step)
    assert world.step(arn, pending, step)["outcome"] in ("already works", "tested")
    assert world.drive(arn, pending, ("testSecret", "finishSecret")).ok


def test_crash_after_moving_current_still_retires_the_old_key(world, monkeypatch):
    first = service_user()
    arn = world.create("ci/deployer-key", first, kind="iam-access-key")
    pending = world.start(arn)
    assert world.drive(arn, pending, ("createSecret", "setSecret", "testSecret")).ok
    crash_after(monkeypatch, aws.client("secretsmanager"), "update_secret_version_stage")
    with pytest.raises(Crash):
        world.step(arn, pending, "finishSecret")
    assert keys()[first["access_key_id"]] == "Active"  # the crash came before the old key was retired
    assert world.step(arn, pending, "finishSecret")["outcome"] == "already current"
    assert keys()[first["access_key_id"]] == "Inactive"
