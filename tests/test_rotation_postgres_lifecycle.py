"""An application living with alternating PostgreSQL users over many rotations, on the real PostgreSQL 15 the suite
starts (issue 18): it migrates its schema as whichever user is current (CREATE/ALTER/DROP of tables, sequences,
views, functions and schemas, including what the other user made), a DBA grants and revokes in between, pooled
connections holding AWSPREVIOUS keep working, and every rotation is driven the hard way: steps repeated, called
out of order, and crashed where the protocol allows, as Secrets Manager's retries would.

The set-up is README's: the application's user owns its database and may manage roles (CREATEROLE), or a DBA's
admin secret is named in policy; nothing on the application's side."""

# ruff: noqa: S608 - the SQL here is built from the test's own numbers and role names, never from input
from __future__ import annotations

import json
import ssl

import pg8000.native
import pytest

from chalicelib.rotation.exceptions import TargetRejected
from chalicelib.rotation.kinds import postgres as pg_kind
from tests.postgres_fixture import database, postgres  # noqa: F401
from tests.test_rotation_kit import Crash, crash_after, secrets_world, use_policy

ROUNDS = 6


@pytest.fixture
def postgres_db(postgres):  # noqa: F811 - the session fixture imported above
    with database(postgres) as made:
        admin = postgres.admin()
        try:  # README's set-up: the application's user owns its database (so it may create schemas)
            admin.run(f"ALTER DATABASE {made.name} OWNER TO {made.user}")
            admin.run(f"CREATE ROLE analytics_{made.name[3:]} NOLOGIN")
            admin.run(f"CREATE ROLE reporting_{made.name[3:]} NOLOGIN")
        finally:
            admin.close()
        conn = postgres.admin(made.name)
        try:
            conn.run(f"GRANT USAGE ON SEQUENCE orders_id_seq TO {made.group}")  # the app inserts orders
        finally:
            conn.close()
        yield made


def world_for(aws, monkeypatch, tmp_path, db, admin: bool):
    monkeypatch.setenv("SWITCHBOARD_PG_CA_FILE", str(db.server.ca_file))
    entry = {"kind": "postgres-alternating", "probe": ["SELECT count(*) FROM orders",
                                                       "INSERT INTO orders (total) VALUES (1)"],
             "probe_objects": ["public.orders"]}
    if admin:
        entry["admin_secret"] = "db/admin"
    use_policy(monkeypatch, tmp_path, "stage", {"secrets": {"web/db-password": entry}})
    world = secrets_world(aws.url)
    if admin:
        server = db.server
        world.create("db/admin", json.dumps({"engine": "postgres", "host": server.host, "port": server.port,
                                             "username": server.admin_user, "password": server.admin_password,
                                             "dbname": db.name}))
        conn = server.admin()
        try:  # with a DBA's secret the application's user needs no CREATEROLE
            conn.run(f"ALTER ROLE {db.user} NOCREATEROLE")
        finally:
            conn.close()
    return world


def connect(db, value):
    return db.server.connect(value["username"], value["password"], db.name)


def dba(db, *statements):
    conn = db.server.admin(db.name)
    try:
        for sql in statements:
            conn.run(sql)
    finally:
        conn.close()


def migrate(conn, n: int) -> None:
    """Migration ``n``, run by whichever user is current: it alters and drops what earlier migrations (by the
    other user) made, and makes new things."""
    conn.run(f"ALTER TABLE items ADD COLUMN IF NOT EXISTS c{n} int DEFAULT {n}")
    conn.run(f"CREATE TABLE t{n} (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)")
    conn.run(f"CREATE SEQUENCE s{n}")
    conn.run(f"CREATE SCHEMA sch{n}")
    conn.run(f"CREATE TABLE sch{n}.x (v int)")
    conn.run(f"CREATE FUNCTION f{n}() RETURNS int LANGUAGE sql AS 'SELECT {n}'")
    if n >= 1:  # what the other user made in the previous migration
        conn.run(f"ALTER TABLE t{n - 1} ADD COLUMN w int")
        conn.run(f"CREATE INDEX ON t{n - 1} (v)")
        conn.run(f"ALTER SEQUENCE s{n - 1} RESTART WITH 100")
        conn.run(f"CREATE VIEW v{n} AS SELECT id, v, w FROM t{n - 1}")
        conn.run(f"CREATE OR REPLACE FUNCTION f{n - 1}() RETURNS int LANGUAGE sql AS 'SELECT {n - 1} + 1000'")
        conn.run(f"ALTER TABLE sch{n - 1}.x RENAME TO y")
    if n >= 2:  # and what it made two migrations ago
        conn.run(f"DROP VIEW IF EXISTS v{n - 1}")
        conn.run(f"DROP TABLE t{n - 2} CASCADE")
        conn.run(f"DROP SEQUENCE s{n - 2}")
        conn.run(f"DROP SCHEMA sch{n - 2} CASCADE")
        conn.run(f"DROP FUNCTION f{n - 2}()")


def uses(conn, n: int) -> None:
    """The application's everyday work on what migration ``n`` made: read, write, call."""
    conn.run(f"INSERT INTO t{n} (v) VALUES ('by ' || session_user)")
    conn.run(f"SELECT count(*) FROM t{n}")
    conn.run(f"SELECT nextval('s{n}')")
    conn.run(f"INSERT INTO sch{n}.x VALUES (1)")
    conn.run(f"SELECT f{n}()")
    conn.run("UPDATE items SET name = name")
    conn.run("INSERT INTO orders (total) VALUES (3)")
    if n >= 1:
        conn.run(f"SELECT * FROM v{n}")


def owns_everything(conn) -> list[str]:
    """Objects the application made (not the DBA's) that the connected user could not ALTER or DROP."""
    return [row[0] for row in conn.run(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND c.relkind IN ('r','v','S') "
        "AND NOT (SELECT rolsuper FROM pg_roles WHERE oid = c.relowner) AND NOT pg_has_role(c.relowner, 'USAGE')")]


def rotate_the_hard_way(world, arn, monkeypatch, round_: int) -> None:
    """One rotation as Secrets Manager may drive it: every step twice, testSecret before setSecret, a crash in
    setSecret (inside its transaction, or after it committed), setSecret again after testSecret, a crash in
    finishSecret after AWSCURRENT moved, and steps after the end."""
    token = world.start(arn)

    def step(name):
        return world.step(arn, token, name)["outcome"]

    assert step("createSecret") == "created"
    assert step("createSecret") == "already created"
    with pytest.raises(TargetRejected, match="cannot log in"):
        step("testSecret")  # out of order: the pending password is not set yet
    with monkeypatch.context() as patch:
        if round_ % 2:  # the Lambda dies inside setSecret's transaction: nothing of it stays
            crash_after(patch, pg_kind.AlternatingPostgres, "_share")
        else:  # or right after it committed: the retry finds the password working and aligns again
            crash_after(patch, pg_kind.AlternatingPostgres, "apply")
        with pytest.raises(Crash):
            step("setSecret")
    assert step("setSecret") == ("set" if round_ % 2 else "already works")
    assert step("setSecret") == "already works"
    assert step("testSecret") == "tested"
    assert step("setSecret") == "already works"  # a late retry
    assert step("testSecret") == "tested"
    from chalicelib import aws

    with monkeypatch.context() as patch:
        crash_after(patch, aws.client("secretsmanager"), "update_secret_version_stage")
        with pytest.raises(Crash):
            step("finishSecret")
    assert step("finishSecret") == "already current"
    assert step("finishSecret") == "already current"
    assert step("testSecret") == "already current"
    assert world.stages(arn)[token] == ["AWSCURRENT"]


@pytest.mark.parametrize("admin", [False, True], ids=["createrole-user", "admin-secret"])
def test_an_application_that_migrates_keeps_full_access_through_many_rotations(
        aws, monkeypatch, tmp_path, postgres_db, admin):
    db = postgres_db
    suffix = db.name[3:]
    analytics, reporting = f"analytics_{suffix}", f"reporting_{suffix}"
    grant_option = "" if admin else " WITH GRANT OPTION"  # without a DBA's secret, the user passes grants on
    world = world_for(aws, monkeypatch, tmp_path, db, admin)
    arn = world.create("web/db-password", db.secret())
    first = world.value(arn)
    conn = connect(db, first)
    try:  # the application's first migration, as the only user there is
        conn.run("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL DEFAULT '')")
        conn.run("INSERT INTO items (name) VALUES ('a')")
        migrate(conn, 0)
    finally:
        conn.close()
    dba(db, "CREATE SCHEMA dba_reports", "CREATE TABLE dba_reports.kpi (v int, secret int)",
        "CREATE TABLE dba_reports.daily (v int, secret int)")

    for n in range(1, ROUNDS + 1):
        before = world.value(arn)
        pooled = connect(db, before)  # an application connection opened with the value about to become previous
        rotate_the_hard_way(world, arn, monkeypatch, n)
        current, previous = world.value(arn), world.value(arn, "AWSPREVIOUS")
        assert previous == before and current["username"] != before["username"]

        cur = connect(db, current)
        try:
            assert owns_everything(cur) == [], n  # everything either user made, alterable by the current one
            uses(cur, n - 1)
            migrate(cur, n)
            uses(cur, n)
        finally:
            cur.close()
        try:  # the pooled AWSPREVIOUS connection uses what the new user just made, at once
            uses(pooled, n)
        finally:
            pooled.close()
        old = connect(db, previous)  # and new connections with AWSPREVIOUS still log in and work
        try:
            uses(old, n)
            assert old.run("SELECT count(*) FROM items")[0][0] >= 1
        finally:
            old.close()

        me = current["username"]
        if n == 2:  # a DBA grants the current user a new reporting schema, a column, a group, default privileges
            dba(db, f"GRANT USAGE ON SCHEMA dba_reports TO {me}{grant_option}",
                f"GRANT SELECT ON dba_reports.kpi TO {me}{grant_option}",
                f"GRANT SELECT (v) ON dba_reports.daily TO {me}{grant_option}",
                f"GRANT {reporting} TO {me}" + (" WITH ADMIN OPTION" if not admin else ""),
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {me} GRANT SELECT ON TABLES TO {analytics}")
        if n == 3:  # ... which reached the other user at this rotation
            cur = connect(db, current)
            try:
                cur.run("SELECT * FROM dba_reports.kpi")
                cur.run("SELECT v FROM dba_reports.daily")
                assert cur.run(f"SELECT pg_has_role('{reporting}', 'MEMBER')")[0][0]
                cur.run("CREATE TABLE for_analytics (v int)")
                assert cur.run(f"SELECT has_table_privilege('{analytics}', 'for_analytics', 'SELECT')")[0][0]
                with pytest.raises(pg8000.native.DatabaseError, match="42501"):
                    cur.run("SELECT secret FROM dba_reports.daily")  # and no more than was granted
            finally:
                cur.close()
        if n == 4:  # the DBA takes the reporting schema and the group away from the current user
            cascade = "" if admin else " CASCADE"
            dba(db, f"REVOKE SELECT ON dba_reports.kpi FROM {me}{cascade}",
                f"REVOKE {reporting} FROM {me}" + (" CASCADE" if not admin else ""))
        if n == 5:  # ... and from the other one too, at this rotation
            for value in (current, previous):
                c = connect(db, value)
                try:
                    with pytest.raises(pg8000.native.DatabaseError, match="42501"):
                        c.run("SELECT * FROM dba_reports.kpi")
                    assert not c.run(f"SELECT pg_has_role('{reporting}', 'MEMBER')")[0][0]
                finally:
                    c.close()

    roles = db.roles()
    assert roles == {db.user, db.user + "_clone", db.user + "_owner"}


def test_objects_made_by_either_user_belong_to_the_owner_role(aws, monkeypatch, tmp_path, postgres_db):
    db = postgres_db
    world = world_for(aws, monkeypatch, tmp_path, db, admin=False)
    arn = world.create("web/db-password", db.secret())
    conn = connect(db, world.value(arn))
    try:
        conn.run("CREATE TABLE mine (v int)")
    finally:
        conn.close()
    assert world.rotate(arn).ok
    owner = db.user + "_owner"
    admin = db.server.admin(db.name)
    try:
        [[table_owner, db_owner, can_login]] = admin.run(
            "SELECT pg_get_userbyid(c.relowner), pg_get_userbyid(d.datdba), r.rolcanlogin FROM pg_class c, "
            "pg_database d, pg_roles r WHERE c.relname = 'mine' AND d.datname = current_database() "
            "AND r.rolname = :o", o=owner)
        members = {row[0] for row in admin.run(
            "SELECT u.rolname FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member "
            "WHERE m.roleid = (SELECT oid FROM pg_roles WHERE rolname = :o)", o=owner)}
    finally:
        admin.close()
    assert (table_owner, db_owner, can_login) == (owner, owner, False)
    assert members == {db.user, db.user + "_clone"}


def test_a_grant_given_between_set_and_test_fails_test_until_set_runs_again(aws, monkeypatch, tmp_path, postgres_db):
    db = postgres_db
    world = world_for(aws, monkeypatch, tmp_path, db, admin=True)
    arn = world.create("web/db-password", db.secret())
    token = world.start(arn)
    assert world.drive(arn, token, ("createSecret", "setSecret")).ok
    dba(db, "CREATE TABLE late (v int)", f"GRANT SELECT ON late TO {db.user}")
    with pytest.raises(TargetRejected, match=rf"{db.user}_clone cannot do what {db.user} can: table public.late "
                                             "SELECT"):
        world.step(arn, token, "testSecret")
    assert world.step(arn, token, "setSecret")["outcome"] == "already works"  # Secrets Manager starts over
    assert world.drive(arn, token, ("testSecret", "finishSecret")).ok


def test_a_revoked_privilege_is_revoked_from_the_other_user(aws, monkeypatch, tmp_path, postgres_db):
    db = postgres_db
    world = world_for(aws, monkeypatch, tmp_path, db, admin=True)
    dba(db, "CREATE TABLE ledger (v int)", f"GRANT SELECT, UPDATE ON ledger TO {db.user}")
    arn = world.create("web/db-password", db.secret())
    assert world.rotate(arn).ok and world.rotate(arn).ok  # both users have SELECT, UPDATE on ledger
    dba(db, f"REVOKE UPDATE ON ledger FROM {db.user}")  # the current user, again
    assert world.rotate(arn).ok
    admin = db.server.admin(db.name)
    try:
        got = {u: admin.run("SELECT has_table_privilege(:u, 'ledger', 'SELECT'), "
                            "has_table_privilege(:u, 'ledger', 'UPDATE')", u=u)[0]
               for u in (db.user, db.user + "_clone")}
    finally:
        admin.close()
    assert got == {db.user: [True, False], db.user + "_clone": [True, False]}


def test_a_probe_never_changes_anything(aws, monkeypatch, tmp_path, postgres_db):
    db = postgres_db
    world = world_for(aws, monkeypatch, tmp_path, db, admin=False)  # its probes INSERT into orders
    arn = world.create("web/db-password", db.secret())
    assert world.rotate(arn).ok
    conn = connect(db, world.value(arn))
    try:
        assert conn.run("SELECT count(*) FROM orders") == [[2]]
    finally:
        conn.close()


def test_without_createrole_or_an_admin_secret_set_says_what_to_do(aws, monkeypatch, tmp_path, postgres_db):
    db = postgres_db
    world = world_for(aws, monkeypatch, tmp_path, db, admin=False)
    dba(db, f"ALTER ROLE {db.user} NOCREATEROLE")
    arn = world.create("web/db-password", db.secret())
    report = world.rotate(arn)
    assert report.failed_step == "setSecret"
    assert (f"{db.user} cannot manage the roles of web/db-password's user pair (it has no CREATEROLE) (set "
            "admin_secret in policy") in report.error


def test_a_missing_probe_object_fails_test(aws, monkeypatch, tmp_path, postgres_db):
    db = postgres_db
    monkeypatch.setenv("SWITCHBOARD_PG_CA_FILE", str(db.server.ca_file))
    use_policy(monkeypatch, tmp_path, "stage", {"secrets": {"web/db-password": {
        "kind": "postgres-alternating", "probe_objects": ["public.orders", "billing.invoices"]}}})
    world = secrets_world(aws.url)
    arn = world.create("web/db-password", db.secret())
    report = world.rotate(arn)
    assert report.failed_step == "testSecret"
    assert f"reading billing.invoices failed as {db.user}_clone: 42P01" in report.error


# ---- TLS ----

def tls_world(aws, monkeypatch, tmp_path, db, entry, ca=None):
    if ca is not None:
        monkeypatch.setenv("SWITCHBOARD_PG_CA_FILE", str(ca))
    else:
        monkeypatch.delenv("SWITCHBOARD_PG_CA_FILE", raising=False)
    use_policy(monkeypatch, tmp_path, "stage", {"secrets": {"api/db-password": {"kind": "postgres-single",
                                                                                 **entry}}})
    return secrets_world(aws.url)


def encrypted(db, value) -> bool:
    conn = connect(db, value)
    try:
        return conn.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0][0]
    finally:
        conn.close()


@pytest.fixture
def sessions(monkeypatch):
    """Whether each connection the kind opened used TLS, and how it checked the server."""
    made = []
    real = pg8000.native.Connection

    def spy(user, **kwargs):
        context = kwargs.get("ssl_context")
        made.append(None if context is None else (context.verify_mode, context.check_hostname))
        return real(user, **kwargs)

    monkeypatch.setattr(pg8000.native, "Connection", spy)
    return made


def test_verify_full_is_the_default_and_checks_the_servers_certificate(aws, monkeypatch, tmp_path, postgres_db,
                                                                       sessions):
    world = tls_world(aws, monkeypatch, tmp_path, postgres_db, {}, ca=postgres_db.server.ca_file)
    arn = world.create("api/db-password", postgres_db.secret())
    assert world.rotate(arn).ok
    assert sessions and set(sessions) == {(ssl.CERT_REQUIRED, True)}


def test_verify_full_refuses_a_server_its_cas_did_not_sign(aws, monkeypatch, tmp_path, postgres_db):
    # no local CA: the shipped Amazon RDS bundle is trusted, and the local server is not signed by it
    world = tls_world(aws, monkeypatch, tmp_path, postgres_db, {})
    arn = world.create("api/db-password", postgres_db.secret())
    report = world.rotate(arn)
    assert report.failed_step == "setSecret"
    assert "the server's certificate is not trusted: unable to get local issuer certificate" in report.error
    assert encrypted(postgres_db, world.value(arn))  # nothing changed: the old password still works


def test_verify_full_checks_the_host_name(aws, monkeypatch, tmp_path, postgres_db):
    # the local server's certificate names 127.0.0.1 only; "localhost" reaches the same server, under another name
    world = tls_world(aws, monkeypatch, tmp_path, postgres_db, {}, ca=postgres_db.server.ca_file)
    arn = world.create("api/db-password", postgres_db.secret(host="localhost"))
    report = world.rotate(arn)
    assert report.failed_step == "setSecret"
    assert "certificate is not trusted: Hostname mismatch, certificate is not valid for 'localhost'" in report.error


def test_a_ca_that_did_not_sign_the_server_is_refused(aws, monkeypatch, tmp_path, postgres_db, tmp_path_factory):
    from localworld.postgres import make_certificates

    ca, _, _ = make_certificates("127.0.0.1")  # another CA, for the same address
    other = tmp_path_factory.mktemp("ca") / "other-ca.pem"
    other.write_bytes(ca)
    world = tls_world(aws, monkeypatch, tmp_path, postgres_db, {}, ca=other)
    arn = world.create("api/db-password", postgres_db.secret())
    assert "certificate is not trusted: unable to get local issuer certificate" in world.rotate(arn).error


@pytest.mark.parametrize(("tls", "expected"), [("require", (ssl.CERT_NONE, False)), ("disable", None)])
def test_require_and_disable_only_when_policy_says_so(aws, monkeypatch, tmp_path, postgres_db, sessions, tls,
                                                      expected):
    world = tls_world(aws, monkeypatch, tmp_path, postgres_db, {"tls": tls})
    arn = world.create("api/db-password", postgres_db.secret())
    assert world.rotate(arn).ok
    assert set(sessions) == {expected}


def test_the_shipped_rds_bundle_is_the_default_trust():
    from cryptography import x509

    from chalicelib.rotation.policy import ca_path

    path = ca_path(None)
    certs = x509.load_pem_x509_certificates(path.read_bytes())
    subjects = {c.subject.rfc4514_string() for c in certs}
    assert any("CN=Amazon RDS eu-west-1 Root CA RSA2048 G1" in s for s in subjects)
    by_subject = {c.subject: c for c in certs}
    for cert in certs:  # every certificate is signed by one in the bundle (roots by themselves)
        cert.verify_directly_issued_by(by_subject[cert.issuer])
    assert pg_kind._verifying_context(str(path)).cert_store_stats()["x509_ca"] >= 100


def test_default_privileges_follow_the_current_users_both_ways(aws, monkeypatch, tmp_path, postgres_db):
    db = postgres_db
    analytics = f"analytics_{db.name[3:]}"
    world = world_for(aws, monkeypatch, tmp_path, db, admin=True)
    arn = world.create("web/db-password", db.secret())
    clone = db.user + "_clone"

    def analytics_defaults(user):
        conn = db.server.admin(db.name)
        try:
            return conn.run(
                "SELECT a.privilege_type FROM pg_default_acl d CROSS JOIN LATERAL aclexplode(d.defaclacl) a "
                "WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = :u) "
                "AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = :g)", u=user, g=analytics)
        finally:
            conn.close()

    dba(db, f"ALTER DEFAULT PRIVILEGES FOR ROLE {db.user} GRANT SELECT ON TABLES TO {analytics}")
    assert world.rotate(arn).ok
    assert analytics_defaults(clone) == [["SELECT"]]
    assert world.rotate(arn).ok  # the base user is current again
    dba(db, f"ALTER DEFAULT PRIVILEGES FOR ROLE {db.user} REVOKE SELECT ON TABLES FROM {analytics}")
    assert world.rotate(arn).ok
    assert analytics_defaults(clone) == [] and analytics_defaults(db.user) == []
