"""PostgreSQL users rotated against a REAL PostgreSQL 15 server (started by the suite on loopback): single user,
alternating users over three rotations, the clone's grants, pending values naming another host/user refused before
any connection, crashes after each step, and a failed testSecret leaving AWSCURRENT untouched."""

from __future__ import annotations

import json

import pg8000.native
import pytest

from chalicelib.rotation.exceptions import Refused, TargetRejected
from chalicelib.rotation.kinds import postgres as pg_kind
from tests.postgres_fixture import database, postgres, trust_local_ca  # noqa: F401
from tests.test_rotation_kit import Crash, crash_after, secrets_world, use_policy


@pytest.fixture
def postgres_db(postgres):  # noqa: F811 - the session fixture imported above
    with database(postgres) as made:
        yield made


@pytest.fixture
def world(aws, monkeypatch, tmp_path, postgres):  # noqa: F811 - the session fixture imported above
    trust_local_ca(monkeypatch, postgres)  # as the local world does: tls verify-full
    use_policy(monkeypatch, tmp_path, "stage")
    return secrets_world(aws.url)


def can_login(db, value) -> bool:
    try:
        return db.login(value["username"], value["password"]) == value["username"]
    except pg8000.native.Error:
        return False


# ---- single user ----

def test_single_user_rotation_changes_the_password_and_the_app_still_logs_in(world, postgres_db):
    arn = world.create("api/db-password", postgres_db.secret(), kind="postgres-single")
    old = world.value(arn)
    report = world.rotate(arn)
    assert report.ok, report.error
    assert [d["outcome"] for d in report.done] == ["created", "set", "tested", "finished"]
    new = world.value(arn)
    assert new["username"] == old["username"] and new["password"] != old["password"] and len(new["password"]) == 32
    assert not set(new["password"]) & set(pg_kind.EXCLUDE_CHARACTERS)
    assert can_login(postgres_db, new) and not can_login(postgres_db, old)
    assert world.value(arn, "AWSPREVIOUS") == old


def test_the_server_stores_a_scram_verifier_never_the_password(world, postgres_db):
    arn = world.create("api/db-password", postgres_db.secret(), kind="postgres-single")
    assert world.rotate(arn).ok
    admin = postgres_db.server.admin()
    try:
        [[stored]] = admin.run("SELECT rolpassword FROM pg_authid WHERE rolname = :u", u=postgres_db.user)
    finally:
        admin.close()
    assert stored.startswith("SCRAM-SHA-256$4096:") and world.value(arn)["password"] not in stored


def test_set_falls_back_to_the_previous_value_when_current_no_longer_logs_in(world, postgres_db):
    arn = world.create("api/db-password", postgres_db.secret(), kind="postgres-single")
    assert world.rotate(arn).ok
    previous = world.value(arn, "AWSPREVIOUS")
    admin = postgres_db.server.admin()  # someone put the old password back on the server
    try:
        admin.run(f"ALTER ROLE {postgres_db.user} PASSWORD {pg8000.native.literal(previous['password'])}")
    finally:
        admin.close()
    report = world.rotate(arn)
    assert report.ok, report.error and report.done[1]["outcome"] == "set"
    assert can_login(postgres_db, world.value(arn))


def test_set_fails_clearly_when_no_value_logs_in(world, postgres_db):
    arn = world.create("api/db-password", postgres_db.secret(password="not-the-password"), kind="postgres-single")
    report = world.rotate(arn)
    assert report.failed_step == "setSecret"
    assert "cannot log in to 127.0.0.1" in report.error and "28P01" in report.error
    assert "not-the-password" not in report.error


# ---- alternating users ----

def test_alternating_users_over_three_rotations(world, postgres_db):
    arn = world.create("web/db-password", postgres_db.secret(), kind="postgres-alternating")
    base, clone = postgres_db.user, postgres_db.user + "_clone"
    expected_users = [clone, base, clone]
    for round_, expected in enumerate(expected_users, start=1):
        before = world.value(arn)
        report = world.rotate(arn)
        assert report.ok, (round_, report.error)
        current = world.value(arn)
        assert current["username"] == expected, round_
        assert postgres_db.login(current["username"], current["password"]) == expected  # reads orders: grants hold
        assert can_login(postgres_db, before), round_  # the previous user keeps working until its next turn
        assert world.value(arn, "AWSPREVIOUS") == before
    assert postgres_db.roles() == {base, clone, base + "_owner"}


def test_the_clone_gets_the_same_attributes_memberships_and_privileges(world, postgres_db):
    admin = postgres_db.server.admin(postgres_db.name)
    try:  # besides the group membership: a direct grant (with grant option), a sequence, and a table it owns
        admin.run("CREATE TABLE audit_log (id bigserial PRIMARY KEY, line text)")
        admin.run(f"GRANT SELECT, INSERT ON audit_log TO {postgres_db.user} WITH GRANT OPTION")
        admin.run(f"GRANT USAGE ON SEQUENCE audit_log_id_seq TO {postgres_db.user} WITH GRANT OPTION")
        admin.run(f"GRANT CREATE ON SCHEMA public TO {postgres_db.user} WITH GRANT OPTION")
    finally:
        admin.close()
    own = postgres_db.server.connect(postgres_db.user, postgres_db.password, postgres_db.name)
    try:
        own.run("CREATE TABLE notes (line text)")
    finally:
        own.close()
    arn = world.create("web/db-password", postgres_db.secret(), kind="postgres-alternating")
    assert world.rotate(arn).ok
    clone = world.value(arn)
    conn = postgres_db.server.connect(clone["username"], clone["password"], postgres_db.name)
    try:
        conn.run("INSERT INTO audit_log (line) VALUES ('written by the clone')")
        conn.run("INSERT INTO notes (line) VALUES ('the clone writes to its twin''s table')")
        conn.run("CREATE TABLE made_by_clone (x int)")
        assert conn.run("SELECT count(*) FROM orders") == [[2]]
        [[createrole, groups]] = conn.run(
            "SELECT rolcreaterole, array(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid "
            "WHERE m.member = r.oid) FROM pg_roles r WHERE rolname = current_user")
    finally:
        conn.close()
    assert createrole is True and set(groups) == {postgres_db.group, postgres_db.user + "_owner"}


def test_privileges_the_user_cannot_pass_on_fail_set_and_leave_no_clone(world, postgres_db):
    admin = postgres_db.server.admin(postgres_db.name)
    try:  # granted without GRANT OPTION: the user cannot give it to its clone (PostgreSQL would only warn)
        admin.run("CREATE TABLE payroll (amount int)")
        admin.run(f"GRANT SELECT ON payroll TO {postgres_db.user}")
    finally:
        admin.close()
    arn = world.create("web/db-password", postgres_db.secret(), kind="postgres-alternating")
    report = world.rotate(arn)
    assert report.failed_step == "setSecret"
    assert (f"cannot give {postgres_db.user}_clone what {postgres_db.user} has ({postgres_db.user} has SELECT on "
            "table public.payroll)") in report.error
    assert postgres_db.roles() == {postgres_db.user}  # no clone, no owner role: one transaction, rolled back
    assert can_login(postgres_db, world.value(arn))


def test_alternating_with_an_admin_secret(world, postgres_db, monkeypatch, tmp_path):
    server = postgres_db.server
    world.create("db/admin", json.dumps({"engine": "postgres", "host": server.host, "port": server.port,
                                         "username": server.admin_user, "password": server.admin_password,
                                         "dbname": postgres_db.name}))
    use_policy(monkeypatch, tmp_path, "stage", {"secrets": {"web/db-password": {
        "kind": "postgres-alternating", "admin_secret": "db/admin", "probe": "SELECT count(*) FROM orders"}}})
    admin = server.admin()
    try:  # without CREATEROLE the app user could not manage its clone itself
        admin.run(f"ALTER ROLE {postgres_db.user} NOCREATEROLE")
    finally:
        admin.close()
    arn = world.create("web/db-password", postgres_db.secret())
    for _ in range(2):
        report = world.rotate(arn)
        assert report.ok, report.error
        assert can_login(postgres_db, world.value(arn))


def test_an_admin_secret_on_another_server_is_refused(world, postgres_db, monkeypatch, tmp_path):
    server = postgres_db.server
    world.create("db/admin", json.dumps({"host": "10.0.0.9", "port": server.port, "username": "root",
                                         "password": "x", "dbname": postgres_db.name}))
    use_policy(monkeypatch, tmp_path, "stage", {"secrets": {"web/db-password": {
        "kind": "postgres-alternating", "admin_secret": "db/admin"}}})
    arn = world.create("web/db-password", postgres_db.secret())
    report = world.rotate(arn)
    assert report.failed_step == "setSecret" and "admin value of web/db-password names 10.0.0.9" in report.error


# ---- never trust the pending host or user ----

@pytest.fixture
def connections(monkeypatch):
    """Every connection attempt the kind makes: (user, host, port, database)."""
    made = []
    real = pg8000.native.Connection

    def spy(user, **kwargs):
        made.append((user, kwargs.get("host"), kwargs.get("port"), kwargs.get("database")))
        return real(user, **kwargs)

    monkeypatch.setattr(pg8000.native, "Connection", spy)
    return made


@pytest.mark.parametrize(("kind", "change", "message"), [
    ("postgres-single", {"host": "db.attacker.example"}, "names db.attacker.example:{port}, not the current"),
    ("postgres-single", {"port": 6543}, "names 127.0.0.1:6543, not the current"),
    ("postgres-single", {"dbname": "other"}, "names database other, not"),
    ("postgres-single", {"username": "postgres"}, "names user postgres, not {user}"),
    ("postgres-alternating", {"username": "postgres"}, "names user postgres, not {user}_clone"),
    ("postgres-alternating", {"username": "{user}"}, "names user {user}, not {user}_clone"),
    ("postgres-alternating", {"host": "10.1.2.3", "username": "{user}_clone"}, "names 10.1.2.3:{port}"),
])
@pytest.mark.parametrize("step", ["setSecret", "testSecret"])
def test_a_pending_value_naming_another_host_or_user_is_refused_before_connecting(
        world, postgres_db, connections, kind, change, message, step):
    arn = world.create("web/db-password", postgres_db.secret(), kind=kind)
    pending = world.start(arn)
    fill = {"user": postgres_db.user, "port": postgres_db.server.port}
    forged = {**postgres_db.secret(password="chosen-by-someone"),
              **{k: v.format(**fill) if isinstance(v, str) else v for k, v in change.items()}}
    world.sm.put_secret_value(SecretId=arn, ClientRequestToken=pending, VersionStages=["AWSPENDING"],
                              SecretString=json.dumps(forged))
    with pytest.raises(Refused, match=message.format(**fill)):
        world.step(arn, pending, step)
    assert connections == []  # refused before anything connected anywhere
    assert can_login(postgres_db, world.value(arn))  # and nothing changed


# ---- crashes after each step, then the step retried ----

def test_crash_after_create_then_retried(world, postgres_db, monkeypatch):
    from chalicelib import aws

    arn = world.create("web/db-password", postgres_db.secret(), kind="postgres-alternating")
    pending = world.start(arn)
    crash_after(monkeypatch, aws.client("secretsmanager"), "put_secret_value")
    with pytest.raises(Crash):
        world.step(arn, pending, "createSecret")
    stored = world.value(arn, "AWSPENDING", pending)
    assert world.step(arn, pending, "createSecret")["outcome"] == "already created"
    assert world.value(arn, "AWSPENDING", pending) == stored
    assert world.drive(arn, pending, ("setSecret", "testSecret", "finishSecret")).ok
    assert can_login(postgres_db, world.value(arn))


@pytest.mark.parametrize("kind", ["postgres-single", "postgres-alternating"])
def test_crash_after_set_then_retried(world, postgres_db, monkeypatch, kind):
    cls = pg_kind.AlternatingPostgres if kind == "postgres-alternating" else pg_kind.Postgres
    arn = world.create("web/db-password", postgres_db.secret(), kind=kind)
    pending = world.start(arn)
    assert world.drive(arn, pending, ("createSecret",)).ok
    crash_after(monkeypatch, cls, "apply")  # the password was changed, then the Lambda died
    with pytest.raises(Crash):
        world.step(arn, pending, "setSecret")
    assert world.step(arn, pending, "setSecret")["outcome"] == "already works"
    assert world.drive(arn, pending, ("testSecret", "finishSecret")).ok
    assert can_login(postgres_db, world.value(arn))


def test_crash_after_test_then_retried(world, postgres_db, monkeypatch):
    arn = world.create("web/db-password", postgres_db.secret(), kind="postgres-single")
    pending = world.start(arn)
    assert world.drive(arn, pending, ("createSecret", "setSecret")).ok
    crash_after(monkeypatch, pg_kind.Postgres, "prove")
    with pytest.raises(Crash):
        world.step(arn, pending, "testSecret")
    assert world.step(arn, pending, "testSecret")["outcome"] == "tested"
    assert world.drive(arn, pending, ("finishSecret",)).ok


def test_crash_after_finish_then_retried(world, postgres_db, monkeypatch):
    from chalicelib import aws

    arn = world.create("web/db-password", postgres_db.secret(), kind="postgres-alternating")
    pending = world.start(arn)
    assert world.drive(arn, pending, ("createSecret", "setSecret", "testSecret")).ok
    crash_after(monkeypatch, aws.client("secretsmanager"), "update_secret_version_stage")
    with pytest.raises(Crash):
        world.step(arn, pending, "finishSecret")
    assert world.step(arn, pending, "finishSecret")["outcome"] == "already current"
    assert world.stages(arn)[pending] == ["AWSCURRENT"]
    assert can_login(postgres_db, world.value(arn)) and world.rotate(arn).ok


def test_a_failure_while_creating_the_clone_leaves_no_half_made_user(world, postgres_db, monkeypatch):
    arn = world.create("web/db-password", postgres_db.secret(), kind="postgres-alternating")
    pending = world.start(arn)
    assert world.drive(arn, pending, ("createSecret",)).ok
    real = pg8000.native.Connection.run

    def run(self, sql, **params):
        if sql.startswith("GRANT "):
            raise Crash("the connection dropped in the middle of the grants")
        return real(self, sql, **params)

    monkeypatch.setattr(pg8000.native.Connection, "run", run)
    with pytest.raises(Crash):
        world.step(arn, pending, "setSecret")
    monkeypatch.setattr(pg8000.native.Connection, "run", real)
    assert postgres_db.roles() == {postgres_db.user}  # CREATE ROLE was rolled back with the grants
    assert world.drive(arn, pending, ("setSecret", "testSecret", "finishSecret")).ok
    assert postgres_db.roles() == {postgres_db.user, postgres_db.user + "_clone", postgres_db.user + "_owner"}


# ---- a failed testSecret leaves AWSCURRENT untouched ----

def test_a_failed_probe_leaves_awscurrent_untouched_and_working(world, postgres_db, monkeypatch, tmp_path):
    use_policy(monkeypatch, tmp_path, "stage", {"secrets": {"web/db-password": {
        "kind": "postgres-alternating", "probe": "SELECT * FROM payroll"}}})
    admin = postgres_db.server.admin(postgres_db.name)
    try:  # only the original user may read payroll: the clone does not get it through the group
        admin.run("CREATE TABLE payroll (amount int)")
    finally:
        admin.close()
    arn = world.create("web/db-password", postgres_db.secret())
    current, version = world.value(arn), world.version(arn, "AWSCURRENT")
    report = world.rotate(arn)
    assert report.failed_step == "testSecret"
    assert "the probe query failed as" in report.error and "42501 permission denied for table payroll" in report.error
    assert world.version(arn, "AWSCURRENT") == version and world.value(arn) == current
    assert can_login(postgres_db, current)
    assert world.stages(arn)[report.token] == ["AWSPENDING"]


def test_prove_refuses_a_value_that_logs_in_as_someone_else(world, postgres_db):
    from chalicelib.rotation.kinds.base import Target
    from chalicelib.rotation.policy import RotationSection
    from chalicelib.rotation.secrets import SecretStore

    target = Target("arn", "x", RotationSection().effective("x", {}), SecretStore(client=object()))
    kind = pg_kind.Postgres(target)
    with pytest.raises(TargetRejected, match="cannot log in"):
        kind.prove(postgres_db.secret(password="wrong"))


def test_scram_verifier_matches_postgres(postgres_db):
    verifier = pg_kind.scram_sha_256("correct horse", salt=b"0123456789abcdef")
    assert verifier.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    admin = postgres_db.server.admin()
    try:
        admin.run(f"ALTER ROLE {postgres_db.user} PASSWORD '{verifier}'")
    finally:
        admin.close()
    assert postgres_db.login(postgres_db.user, "correct horse") == postgres_db.user
