"""The local world's rotation pieces: the PostgreSQL server (loopback only, password auth, cleaned up even when
its owner is killed), Secrets Manager's rotation service as the local world plays it, and the rotation tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pg8000.native
import pytest

from chalicelib.intake.events import SecretsEvent
from localworld import postgres as pg_module
from localworld import rotation_service
from tests.postgres_fixture import postgres  # noqa: F401
from tests.test_rotation_kit import secrets_world, use_policy

ROOT = Path(__file__).resolve().parent.parent


# ---- localworld/postgres.py ----

def test_the_server_listens_on_loopback_only_with_password_auth(postgres):  # noqa: F811
    conn = postgres.admin()
    try:
        settings = dict(conn.run("SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', "
                                 "'unix_socket_directories', 'password_encryption')"))
        [[superuser]] = conn.run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        version = conn.run("SHOW server_version_num")[0][0]
    finally:
        conn.close()
    assert settings == {"listen_addresses": "127.0.0.1", "unix_socket_directories": "",
                        "password_encryption": "scram-sha-256"}
    assert superuser is True and int(version) >= 150000
    hba = [line.split() for line in (postgres.data / "pg_hba.conf").read_text().splitlines()
           if line and not line.startswith("#")]
    assert hba == [["local", "all", "all", "reject"], ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"]]
    with pytest.raises(pg8000.native.DatabaseError, match="28P01"):
        postgres.connect(postgres.admin_user, "not-the-password")


def test_the_data_directory_belongs_to_the_server_user_not_root(postgres):  # noqa: F811
    owner = postgres.data.stat().st_uid
    expected = pg_module.pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid()
    assert owner == expected and oct(postgres.dir.stat().st_mode & 0o777) == "0o700"


def test_start_and_stop_leave_nothing_behind():
    server = pg_module.PostgresServer().start()
    directory, port = server.dir, server.port
    assert server.running and directory.exists()
    server.stop()
    server.stop()  # twice is fine
    assert not directory.exists() and not server.running
    with pytest.raises(pg8000.native.InterfaceError, match="Can't create a connection"):
        pg8000.native.Connection("x", host="127.0.0.1", port=port, password="x", timeout=2)


def test_a_killed_owner_does_not_leave_the_server_running(tmp_path):
    script = ("import os, signal, sys; from localworld.postgres import PostgresServer; "
              "pg = PostgresServer().start(); print(pg.dir, pg.port, flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL
    directory, port = done.stdout.split()
    deadline = time.monotonic() + 60  # the watchdog notices its pipe closing, stops the server, removes the dir
    while Path(directory).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(directory).exists()
    with pytest.raises(pg8000.native.InterfaceError, match="Can't create a connection"):
        pg8000.native.Connection("x", host="127.0.0.1", port=int(port), password="x", timeout=2)


def test_missing_binaries_are_reported_plainly(monkeypatch, tmp_path):
    monkeypatch.setenv("SWITCHBOARD_PG_BIN", str(tmp_path))
    with pytest.raises(pg_module.PostgresError, match="no PostgreSQL 15\\+ binaries in"):
        pg_module.find_bin()


# ---- localworld/rotation_service.py ----

@pytest.mark.parametrize(("outcome", "legacy"), [("Succeeded", False), ("Failed", True), ("Abandoned", False)])
def test_service_events_are_what_the_intake_accepts(outcome, legacy):
    arn = "arn:aws:secretsmanager:eu-west-1:222233334444:secret:web/api-key-AbCdEf"
    raw = {"version": "0", "id": "e", **rotation_service.service_event(
        arn, outcome, "222233334444", "eu-west-1", legacy=legacy, at=datetime(2026, 11, 20, tzinfo=UTC))}
    event = SecretsEvent.model_validate(raw)
    assert event.detail.eventName == f"Rotation{outcome}" and event.detail_type == "AWS Service Event via CloudTrail"
    assert event.detail.additionalEventData == ({"aRN": arn} if legacy else {"SecretId": arn})


def test_drive_stops_at_the_first_failed_step():
    calls = []

    def handler(event, context):
        calls.append(event["Step"])
        if event["Step"] == "testSecret":
            raise RuntimeError("no")
        return {"step": event["Step"]}

    report = rotation_service.drive(handler, "s", "t")
    assert calls == ["createSecret", "setSecret", "testSecret"]
    assert (report.ok, report.failed_step, report.error) == (False, "testSecret", "RuntimeError: no")


def test_the_rotation_function_is_registered_once(aws):
    from chalicelib import aws as clients

    first = rotation_service.ensure_function(aws.url, clients.client("lambda"), clients.client("iam"), "stage")
    again = rotation_service.ensure_function(aws.url, clients.client("lambda"), clients.client("iam"), "stage")
    assert first == again and first.endswith(":function:switchboard-stage-rotate_secret")


# ---- localworld/rotation_tasks.py, in this process (World.run_in runs the same in the account's environment) ----

def test_the_rotate_task_rotates_and_emits_what_cloudtrail_would(aws, monkeypatch, tmp_path, capsys):
    from chalicelib import aws as clients
    from localworld import rotation_tasks

    use_policy(monkeypatch, tmp_path, "stage")
    world = secrets_world(aws.url)
    arn = world.create("web/api-key", {"key": "k0"}, kind="api-key")
    sqs, events = clients.client("sqs"), clients.client("events")
    queue = sqs.create_queue(QueueName="secrets-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="secrets", EventPattern=json.dumps({"source": ["aws.secretsmanager"]}))
    events.put_targets(Rule="secrets", Targets=[{"Id": "q", "Arn": queue_arn}])
    assert rotation_tasks.main(["rotate", "web/api-key", "--days", "30"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["ok"] and [d["step"] for d in result["done"]] == list(rotation_service.STEPS)
    assert world.version(arn, "AWSCURRENT") == result["token"]
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    emitted = json.loads(message["Body"])
    assert emitted["detail"]["eventName"] == "RotationSucceeded"
    assert emitted["detail"]["additionalEventData"] == {"SecretId": arn}


def test_the_watch_task_takes_an_injected_instant(aws, monkeypatch, tmp_path, capsys):
    from localworld import rotation_tasks

    use_policy(monkeypatch, tmp_path, "stage", {"secrets": {"web/api-key": {"kind": "api-key", "max_age_days": 1}}})
    world = secrets_world(aws.url)
    world.create("web/api-key", {"key": "k0"})
    rotation_tasks.main(["watch", "--now", datetime.now(UTC).isoformat()])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["findings"][0]["code"] == "rotation-disabled"
