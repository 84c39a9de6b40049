"""PostgreSQL users (Aurora PostgreSQL in the Reference Architecture), through pg8000 (pure Python: the Lambda
package stays portable). The secret is ``{"engine": "postgres", "host", "port", "username", "password", "dbname"}``.

- **single user**: setSecret logs in with the current value (else the previous one) and changes that user's
  password. Between setSecret and finishSecret AWSCURRENT no longer logs in (one password per user): use it
  where the application can wait, never in production (``policy validate`` warns).
- **alternating users**: the pending value is the *other* user of the pair ``<user>`` / ``<user>_clone``, so
  AWSCURRENT and AWSPREVIOUS both log in at every moment. setSecret logs in as a *manager* (the role in policy's
  ``admin_secret``, else the current user, which then needs CREATEROLE), changes the other user's password
  (the first rotation creates ``<user>_clone`` like ``<user>``) and, in the same transaction, ``align``s:

  1. *shared ownership*: a NOLOGIN owner role (``<user>_owner``, or policy's ``owner_role``) both users are
     members of; what either user owns in the database is reassigned to it (REASSIGN OWNED), and default
     privileges FOR each user grant the owner role everything on what they create (tables, sequences,
     functions, types, schemas). So an object one user creates is usable by the other at once, and alterable
     and droppable by both (through the owner role) from the next setSecret or finishSecret on;
  2. *grants in step*: the pending user's own privileges in the database (database, schemas, tables, columns,
     sequences, functions, default privileges, role memberships, grant and admin options) are made equal to
     the current user's: missing ones granted, extra ones revoked. Then read again: PostgreSQL only warns
     when a grantor lacks the grant option, so whatever is still different fails the step, naming it.

  The manager acts for roles it is not a member of by granting itself membership inside the transaction and
  revoking it before COMMIT (CREATEROLE allows that on PostgreSQL 15; on 16+ use an admin secret). finishSecret
  reassigns again what the users created meanwhile. testSecret logs in as the pending user and proves it can
  use every object the current user can (and own, through the owner role), then runs policy's probes.

Never trusted: a pending (or previous, or admin) value that names another host, port or database than the current
one, or a user other than the one the strategy expects, is refused before anything connects with it. Passwords are
sent as SCRAM-SHA-256 verifiers, so the plain password never reaches the server's logs or statistics.

TLS: ``tls: verify-full`` by default, the certificate checked against policy's ``ca_file`` (default: the Amazon
RDS CA bundle in ``certs/``; the local world's own CA through ``SWITCHBOARD_PG_CA_FILE``) and the host name
against it; ``require`` (encrypted, unverified) and ``disable`` only when policy says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from chalicelib.rotation.exceptions import Malformed, Refused, TargetRejected
from chalicelib.rotation.kinds.base import Kind, Value
from chalicelib.rotation.policy import SecretKind, Tls, ca_path
from chalicelib.rotation.secrets import AWSCURRENT
from chalicelib.settings import get_settings

DEFAULT_LENGTH = 32
EXCLUDE_CHARACTERS = "/@\"'\\"  # as AWS's templates: characters connection strings and shells choke on
CLONE_SUFFIX = "_clone"
OWNER_SUFFIX = "_owner"
MAX_IDENTIFIER = 63
CONNECT_TIMEOUT = 10
ENGINES = {None, "postgres", "postgresql", "aurora-postgresql"}

_USER_SCHEMA = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"

# A role's own privileges in the database (not what it has through groups or PUBLIC), one row per
# (object type, object, column, privilege): the type is the word GRANT takes (ROUTINE: functions and procedures).
_PRIVILEGES = """
WITH r AS (SELECT oid FROM pg_roles WHERE rolname = :u)
SELECT 'DATABASE', quote_ident(d.datname), '', a.privilege_type, a.is_grantable
FROM pg_database d CROSS JOIN LATERAL aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
WHERE d.datname = current_database() AND a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT 'SCHEMA', quote_ident(n.nspname), '', a.privilege_type, a.is_grantable
FROM pg_namespace n CROSS JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
WHERE @USER_SCHEMA@ AND a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname), '', a.privilege_type, a.is_grantable
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(coalesce(
    c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))) a
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') AND @USER_SCHEMA@ AND a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT 'COLUMN', quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(att.attname),
       a.privilege_type, a.is_grantable
FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(att.attacl) a
WHERE att.attacl IS NOT NULL AND att.attnum > 0 AND NOT att.attisdropped AND @USER_SCHEMA@
  AND a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT 'ROUTINE', p.oid::regprocedure::text, '', a.privilege_type, a.is_grantable
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
WHERE @USER_SCHEMA@ AND a.grantee = (SELECT oid FROM r)
""".replace("@USER_SCHEMA@", _USER_SCHEMA)
# Default privileges for objects the role creates, and those others' objects give it:
# (for role, schema or '', object type letter, grantee or PUBLIC, privilege, grantable).
_DEFAULTS = """
WITH r AS (SELECT oid FROM pg_roles WHERE rolname = :u)
SELECT pg_get_userbyid(d.defaclrole), coalesce(quote_ident(n.nspname), ''), d.defaclobjtype::text,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL aclexplode(d.defaclacl) a
WHERE d.defaclrole = (SELECT oid FROM r) OR a.grantee = (SELECT oid FROM r)
"""
_MEMBERSHIPS = """
SELECT g.rolname, m.admin_option
FROM pg_auth_members m
JOIN pg_roles g ON g.oid = m.roleid
JOIN pg_roles u ON u.oid = m.member
WHERE u.rolname = :u
ORDER BY 1
"""
_DEFAULT_OBJECTS = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}

# What the role named :cur can do in the database and the connected user cannot (testSecret, as the pending user):
# privileges however held (own, groups, PUBLIC), membership, and ownership through a role (objects the current
# user owns itself are left out: they are reassigned to the owner role at finishSecret).
_CANNOT = """
WITH cur AS (SELECT CAST(:cur AS name) AS u, (SELECT oid FROM pg_roles WHERE rolname = :cur) AS oid)
SELECT 'database ' || quote_ident(d.datname), p
FROM pg_database d, unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']) p
WHERE d.datname = current_database() AND has_database_privilege((SELECT u FROM cur), d.oid, p)
  AND NOT has_database_privilege(d.oid, p)
UNION ALL
SELECT 'schema ' || quote_ident(n.nspname), p
FROM pg_namespace n, unnest(ARRAY['USAGE', 'CREATE']) p
WHERE @USER_SCHEMA@ AND has_schema_privilege((SELECT u FROM cur), n.oid, p) AND NOT has_schema_privilege(n.oid, p)
UNION ALL
SELECT 'table ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname), p
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
     unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND @USER_SCHEMA@
  AND has_table_privilege((SELECT u FROM cur), c.oid, p) AND NOT has_table_privilege(c.oid, p)
UNION ALL
SELECT 'column ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(att.attname), p
FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
     unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p
WHERE att.attacl IS NOT NULL AND att.attnum > 0 AND NOT att.attisdropped AND @USER_SCHEMA@
  AND has_column_privilege((SELECT u FROM cur), c.oid, att.attnum, p) AND NOT has_column_privilege(c.oid, att.attnum, p)
UNION ALL
SELECT 'sequence ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname), p
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) p
WHERE c.relkind = 'S' AND @USER_SCHEMA@
  AND has_sequence_privilege((SELECT u FROM cur), c.oid, p) AND NOT has_sequence_privilege(c.oid, p)
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text, 'EXECUTE'
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE @USER_SCHEMA@ AND has_function_privilege((SELECT u FROM cur), p.oid, 'EXECUTE')
  AND NOT has_function_privilege(p.oid, 'EXECUTE')
UNION ALL
SELECT 'role ' || quote_ident(g.rolname), 'MEMBER'
FROM pg_roles g
WHERE g.rolname NOT IN ((SELECT u FROM cur), current_user) AND pg_has_role((SELECT u FROM cur), g.oid, 'MEMBER')
  AND NOT pg_has_role(g.oid, 'MEMBER')
UNION ALL
SELECT o.what, 'OWNER'
FROM (SELECT 'table ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS what, c.relowner AS owner
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') AND @USER_SCHEMA@
      UNION ALL
      SELECT 'schema ' || quote_ident(n.nspname), n.nspowner FROM pg_namespace n WHERE @USER_SCHEMA@
      UNION ALL
      SELECT 'function ' || p.oid::regprocedure::text, p.proowner
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE @USER_SCHEMA@) o
WHERE o.owner <> (SELECT oid FROM cur) AND pg_has_role((SELECT u FROM cur), o.owner, 'USAGE')
  AND NOT pg_has_role(o.owner, 'USAGE')
ORDER BY 1, 2
""".replace("@USER_SCHEMA@", _USER_SCHEMA)


def scram_sha_256(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """The verifier PostgreSQL stores for ``password`` (RFC 5802/7677), accepted as-is by ALTER ROLE … PASSWORD."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def partner(username: str) -> str:
    """The other user of an alternating pair."""
    return username[: -len(CLONE_SUFFIX)] if username.endswith(CLONE_SUFFIX) else username + CLONE_SUFFIX


def _why(exc: Exception) -> str:
    """A short, value-free reason from a pg8000 error."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's certificate is not trusted: {exc.verify_message} (tls: verify-full)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, dict):
        return f"{detail.get('C', '?')} {detail.get('M', '')}".strip()
    return f"{type(exc).__name__}: {str(detail)[:200]}"


def base_user(username: str) -> str:
    return username[: -len(CLONE_SUFFIX)] if username.endswith(CLONE_SUFFIX) else username


@lru_cache(maxsize=8)
def _verifying_context(cafile: str) -> ssl.SSLContext:
    # only these CAs (not the system's): create_default_context loads no defaults when given a cafile
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise Malformed(f"cannot read the CA file {cafile}: {exc}") from None
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


@contextmanager
def _transaction(conn: Any) -> Iterator[None]:
    conn.run("BEGIN")
    try:
        yield
    except BaseException:
        try:
            conn.run("ROLLBACK")
        except Exception:  # noqa: BLE001, S110 - the connection is gone: the server rolls back itself
            pass
        raise
    conn.run("COMMIT")


class Postgres(Kind):
    kind = SecretKind.POSTGRES_SINGLE
    alternating = False

    def parse(self, text: str) -> Value:
        value = super().parse(text)
        for key in ("host", "username", "password"):
            if not isinstance(value.get(key), str) or not value[key]:
                raise Malformed(f"{self.target.name} has no '{key}' (a PostgreSQL secret needs host, username and "
                                f"password)")
        if value.get("engine") not in ENGINES:
            raise Malformed(f"{self.target.name} is for engine {value.get('engine')!r}, not PostgreSQL")
        try:
            port = int(value.get("port", 5432))
        except (TypeError, ValueError):
            raise Malformed(f"{self.target.name} has a port that is not a number") from None
        if not 0 < port < 65536:
            raise Malformed(f"{self.target.name} has port {port}")
        dbname = value.get("dbname", "postgres")
        if not isinstance(dbname, str) or not dbname:
            raise Malformed(f"{self.target.name} has a 'dbname' that is not a name")
        return value

    @staticmethod
    def place(value: Value) -> tuple[str, int, str]:
        return value["host"].lower(), int(value.get("port", 5432)), value.get("dbname", "postgres")

    def expected_user(self, current: Value) -> str:
        return current["username"]

    def generate(self, current: Value) -> Value:
        password = self.target.store.random(self.settings.length or DEFAULT_LENGTH,
                                            exclude_characters=EXCLUDE_CHARACTERS)
        return {**current, "username": self.expected_user(current), "password": password}

    def _same_place(self, current: Value, other: Value, what: str, user: str | None) -> None:
        (host, port, db), (o_host, o_port, o_db) = self.place(current), self.place(other)
        if (o_host, o_port) != (host, port):
            raise Refused(f"the {what} value of {self.target.name} names {o_host}:{o_port}, not the current "
                          f"{host}:{port}: refused")
        if o_db != db:
            raise Refused(f"the {what} value of {self.target.name} names database {o_db}, not {db}: refused")
        if user is not None and other["username"] != user:
            raise Refused(f"the {what} value of {self.target.name} names user {other['username']}, not {user}: "
                          "refused")

    def check_pending(self, current: Value, pending: Value) -> None:
        self._same_place(current, pending, "pending", self.expected_user(current))

    # ---- connecting ----

    def _ssl(self) -> ssl.SSLContext | None:
        """policy's ``tls``: verify-full (the default) against ``ca_file`` (the local world's CA when
        SWITCHBOARD_PG_CA_FILE says so), else require (encrypted, unverified) or disable, as policy says."""
        if self.settings.tls == Tls.DISABLE:
            return None
        if self.settings.tls == Tls.REQUIRE:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return _verifying_context(get_settings().pg_ca_file or str(ca_path(self.settings.ca_file)))

    def connect(self, value: Value) -> Any:
        """A connection as the value's user, or TargetRejected saying why not."""
        import pg8000.native

        host, port, db = self.place(value)
        try:
            return pg8000.native.Connection(value["username"], host=value["host"], port=port, database=db,
                                            password=value["password"], ssl_context=self._ssl(),
                                            timeout=CONNECT_TIMEOUT)
        except (pg8000.native.Error, OSError) as exc:
            raise TargetRejected(f"cannot log in to {host}:{port}/{db} as {value['username']}: {_why(exc)}") from None

    def works(self, value: Value) -> bool:
        try:
            conn = self.connect(value)
        except TargetRejected:
            return False
        try:
            return conn.run("SELECT current_user")[0][0] == value["username"]
        finally:
            conn.close()

    # ---- setSecret ----

    def apply(self, current: Value, pending: Value, previous: Value | None) -> None:
        from pg8000.native import identifier, literal

        conn = self._login_for_change(current, previous)
        try:
            conn.run(f"ALTER ROLE {identifier(pending['username'])} WITH PASSWORD "
                     f"{literal(scram_sha_256(pending['password']))}")
        finally:
            conn.close()

    def _login_for_change(self, current: Value, previous: Value | None) -> Any:
        try:
            return self.connect(current)
        except TargetRejected as first:
            if previous is None:
                raise
            self._same_place(current, previous, "previous", current["username"])
            try:
                return self.connect(previous)
            except TargetRejected:
                raise first from None

    # ---- testSecret ----

    def prove(self, pending: Value) -> None:
        conn = self.connect(pending)
        try:
            who = conn.run("SELECT session_user")[0][0]
            if who != pending["username"]:
                raise TargetRejected(f"logged in to {self.target.name}'s database as {who}, not "
                                     f"{pending['username']}")
            self._prove_more(conn, pending)
            self._probe(conn, pending["username"])
        finally:
            conn.close()

    def _prove_more(self, conn: Any, pending: Value) -> None:
        return None

    def _probe(self, conn: Any, user: str) -> None:
        """policy's probes: each statement, then a read of each object, in a transaction rolled back after."""
        from pg8000.native import identifier

        checks = [(f"the probe {i + 1}" if len(self.settings.probes) > 1 else "the probe query", sql)
                  for i, sql in enumerate(self.settings.probes)]
        for name in self.settings.probe_objects:
            checks.append((f"reading {name}", f"SELECT FROM {'.'.join(map(identifier, name.split('.', 1)))} "
                                              "LIMIT 0"))
        for what, sql in checks:
            try:
                with _transaction(conn):
                    conn.run(sql)
                    raise _RollBack
            except _RollBack:
                continue
            except Exception as exc:  # noqa: BLE001 - pg8000's errors: the reason, not the traceback
                raise TargetRejected(f"{what} failed as {user}: {_why(exc)}") from None


class _RollBack(Exception):
    """Ends a probe's transaction: probes never change anything."""


class AlternatingPostgres(Postgres):
    kind = SecretKind.POSTGRES_ALTERNATING
    alternating = True

    def expected_user(self, current: Value) -> str:
        other = partner(current["username"])
        if len(other.encode()) > MAX_IDENTIFIER:
            raise Refused(f"user {current['username']} is too long to have a {CLONE_SUFFIX} partner")
        return other

    def owner_role(self, current: Value) -> str:
        owner = self.settings.owner_role or base_user(current["username"]) + OWNER_SUFFIX
        if len(owner.encode()) > MAX_IDENTIFIER:
            raise Refused(f"user {current['username']} is too long to have a {OWNER_SUFFIX} role: set owner_role "
                          "in policy")
        if owner in (current["username"], partner(current["username"])):
            raise Refused(f"owner_role {owner} is one of the pair's users: name a role of its own")
        return owner

    def _manager(self, current: Value) -> Any:
        """Who manages the pair: the role in admin_secret, else the current user."""
        name = self.settings.admin_secret
        if name is None:
            return self.connect(current)
        found = self.target.store.value(name, AWSCURRENT)
        if found is None:
            raise Malformed(f"the admin secret {name} of {self.target.name} has no current value")
        admin = Postgres.parse(self, found.text)
        self._same_place(current, admin, "admin", None)
        return self.connect(admin)

    # ---- setSecret ----

    def apply(self, current: Value, pending: Value, previous: Value | None) -> None:
        from pg8000.native import identifier, literal

        conn = self._manager(current)
        try:
            with self._changing(conn, current, pending):
                self._may_manage(conn)
                user, verifier = pending["username"], scram_sha_256(pending["password"])
                if conn.run("SELECT 1 FROM pg_roles WHERE rolname = :u", u=user):
                    conn.run(f"ALTER ROLE {identifier(user)} WITH LOGIN PASSWORD {literal(verifier)}")
                else:
                    self._create_like(conn, current["username"], user, verifier)
                self._align(conn, current["username"], user, self.owner_role(current))
        finally:
            conn.close()

    def align(self, current: Value, pending: Value) -> None:
        """Again on every setSecret (a retry after a crash finds the password already set)."""
        conn = self._manager(current)
        try:
            with self._changing(conn, current, pending):
                self._align(conn, current["username"], pending["username"], self.owner_role(current))
        finally:
            conn.close()

    def finished(self, previous: Value | None, current: Value) -> None:
        """What the previous user created between setSecret and now goes to the owner role too."""
        if previous is None or previous.get("username") != partner(current["username"]):
            return
        conn = self._manager(current)
        try:
            with self._changing(conn, current, previous):
                self._may_manage(conn)
                self._share(conn, (current["username"], previous["username"]), self.owner_role(current))
        finally:
            conn.close()

    @contextmanager
    def _changing(self, conn: Any, current: Value, other: Value) -> Iterator[None]:
        """One transaction; a server error becomes a one-line reason."""
        import pg8000.native

        try:
            with _transaction(conn):
                yield
        except pg8000.native.DatabaseError as exc:
            raise TargetRejected(f"cannot set up {other['username']} like {current['username']} on "
                                 f"{self.target.name}'s database: {_why(exc)}{self._hint()}") from None

    def _hint(self) -> str:
        return "" if self.settings.admin_secret else " (set admin_secret in policy to a role that may do it)"

    def _may_manage(self, conn: Any) -> None:
        [[who, superuser, createrole]] = conn.run(
            "SELECT rolname, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        if not (superuser or createrole):
            raise TargetRejected(f"{who} cannot manage the roles of {self.target.name}'s user pair (it has no "
                                 f"CREATEROLE){self._hint()}")

    def _create_like(self, conn: Any, source: str, clone: str, verifier: str) -> None:
        from pg8000.native import identifier, literal

        rows = conn.run("SELECT rolcreatedb, rolcreaterole, rolinherit, rolconnlimit FROM pg_roles "
                        "WHERE rolname = :u", u=source)
        if not rows:
            raise TargetRejected(f"user {source} does not exist on {self.target.name}'s server")
        createdb, createrole, inherit, limit = rows[0]
        options = ["LOGIN", "CREATEDB" if createdb else "NOCREATEDB", "CREATEROLE" if createrole else "NOCREATEROLE",
                   "INHERIT" if inherit else "NOINHERIT", f"CONNECTION LIMIT {int(limit)}"]
        conn.run(f"CREATE ROLE {identifier(clone)} WITH {' '.join(options)} PASSWORD {literal(verifier)}")

    def _align(self, conn: Any, source: str, target: str, owner: str) -> None:
        """Shared ownership, then ``target``'s privileges made equal to ``source``'s, then checked."""
        self._may_manage(conn)
        self._owner_role(conn, owner, (source, target))
        self._share(conn, (source, target), owner)
        with _acting_for(conn, _others_in_defaults(conn, source, target)):
            for statement in _sync_statements(conn, source, target):
                conn.run(statement)
        left = _differences(conn, source, target)
        if left:
            how = "WITH GRANT OPTION" + ("" if self.settings.admin_secret else ", or set admin_secret in policy")
            raise TargetRejected(
                f"cannot give {target} what {source} has ({', '.join(left[:5])}{', …' if len(left) > 5 else ''}): "
                f"grant it through a group role, {how}")

    def _owner_role(self, conn: Any, owner: str, users: tuple[str, str]) -> None:
        from pg8000.native import identifier

        found = conn.run("SELECT rolcanlogin FROM pg_roles WHERE rolname = :u", u=owner)
        if not found:
            conn.run(f"CREATE ROLE {identifier(owner)} NOLOGIN")
        elif found[0][0]:
            raise TargetRejected(f"the owner role {owner} can log in: it must be NOLOGIN (no one logs in as it)")
        for user in users:
            [[inherit, member]] = conn.run(
                "SELECT rolinherit, EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid AND m.roleid = "
                "(SELECT oid FROM pg_roles WHERE rolname = :o)) FROM pg_roles r WHERE rolname = :u", u=user, o=owner)
            if not inherit:
                raise TargetRejected(f"{user} is NOINHERIT: it would not have the privileges of {owner}")
            if not member:
                conn.run(f"GRANT {identifier(owner)} TO {identifier(user)}")

    def _share(self, conn: Any, users: tuple[str, str], owner: str) -> None:
        """What either user owns goes to ``owner``; what they create from now on is the owner's to use."""
        from pg8000.native import identifier

        with _acting_for(conn, (*users, owner)):
            for user in users:
                conn.run(f"REASSIGN OWNED BY {identifier(user)} TO {identifier(owner)}")
                for objects in _DEFAULT_OBJECTS.values():
                    conn.run(f"ALTER DEFAULT PRIVILEGES FOR ROLE {identifier(user)} GRANT ALL ON {objects} "
                             f"TO {identifier(owner)}")

    # ---- testSecret ----

    def _prove_more(self, conn: Any, pending: Value) -> None:
        current = partner(pending["username"])
        cannot = [f"{what} {privilege}" for what, privilege in conn.run(_CANNOT, cur=current)]
        if cannot:
            raise TargetRejected(
                f"{pending['username']} cannot do what {current} can: {', '.join(cannot[:5])}"
                f"{f' (and {len(cannot) - 5} more)' if len(cannot) > 5 else ''}")


@contextmanager
def _acting_for(conn: Any, roles: Any) -> Iterator[None]:
    """Inside the caller's transaction: membership in each role the connected one lacks, revoked before COMMIT
    (other sessions never see it). CREATEROLE may grant it on PostgreSQL 15; a superuser needs none."""
    from pg8000.native import identifier

    granted = []
    for role in dict.fromkeys(roles):
        if not conn.run("SELECT pg_has_role(current_user, :r, 'USAGE')", r=role)[0][0]:
            conn.run(f"GRANT {identifier(role)} TO CURRENT_USER")
            granted.append(role)
    yield
    for role in reversed(granted):
        conn.run(f"REVOKE {identifier(role)} FROM CURRENT_USER")


def _privileges(conn: Any, role: str) -> dict[tuple[str, str, str, str], bool]:
    return {(kind, obj, column, privilege): grantable
            for kind, obj, column, privilege, grantable in conn.run(_PRIVILEGES, u=role)}


def _defaults(conn: Any, role: str, pair: tuple[str, str]) -> dict[tuple[str, str, str, str, str], bool]:
    """``role``'s default privileges with the pair's names as SELF/OTHER (so the two users' sets compare); rows
    between the two users themselves are left out."""
    me, other = role, pair[1] if role == pair[0] else pair[0]
    names = {me: "\0SELF", other: "\0OTHER"}
    found = {}
    for for_role, schema, objtype, grantee, privilege, grantable in conn.run(_DEFAULTS, u=role):
        if for_role in pair and grantee in pair:
            continue
        found[(names.get(for_role, for_role), schema, objtype, names.get(grantee, grantee), privilege)] = grantable
    return found


def _memberships(conn: Any, role: str, pair: tuple[str, str]) -> dict[str, bool]:
    return {group: admin for group, admin in conn.run(_MEMBERSHIPS, u=role) if group not in pair}


def _others_in_defaults(conn: Any, source: str, target: str) -> list[str]:
    """Roles whose default privileges name a user of the pair: the manager must act for them to copy them."""
    pair = (source, target)
    roles = {target}
    for role in pair:
        for for_role, *_ in _defaults(conn, role, pair):
            if not for_role.startswith("\0"):
                roles.add(for_role)
    return sorted(roles)


def _grant_target(kind: str, obj: str, column: str) -> str:
    return f"TABLE {obj}" if kind == "COLUMN" else f"{kind} {obj}"


def _sync_statements(conn: Any, source: str, target: str) -> list[str]:
    """GRANT/REVOKE statements that make ``target``'s own privileges, default privileges and memberships equal to
    ``source``'s (none when they already are)."""
    from pg8000.native import identifier

    to = identifier(target)
    out: list[str] = []
    want, have = _privileges(conn, source), _privileges(conn, target)
    for (kind, obj, column, privilege), grantable in sorted(want.items()):
        what = f"{privilege}{f' ({column})' if column else ''} ON {_grant_target(kind, obj, column)}"
        if (kind, obj, column, privilege) not in have or (grantable and not have[(kind, obj, column, privilege)]):
            out.append(f"GRANT {what} TO {to}" + (" WITH GRANT OPTION" if grantable else ""))
        elif not grantable and have[(kind, obj, column, privilege)]:
            out.append(f"REVOKE GRANT OPTION FOR {what} FROM {to}")
    for kind, obj, column, privilege in sorted(set(have) - set(want)):
        out.append(f"REVOKE {privilege}{f' ({column})' if column else ''} ON {_grant_target(kind, obj, column)} "
                   f"FROM {to}")

    pair = (source, target)
    names = {"\0SELF": target, "\0OTHER": source}
    want_d, have_d = _defaults(conn, source, pair), _defaults(conn, target, pair)

    def default(row: tuple[str, str, str, str, str], verb: str) -> str:
        for_role, schema, objtype, grantee, privilege = row
        grantee = names.get(grantee, grantee)
        who = "PUBLIC" if grantee == "PUBLIC" else identifier(grantee)
        head = f"ALTER DEFAULT PRIVILEGES FOR ROLE {identifier(names.get(for_role, for_role))}"
        head += f" IN SCHEMA {schema}" if schema else ""
        objects = _DEFAULT_OBJECTS[objtype]
        return (f"{head} GRANT {privilege} ON {objects} TO {who}" if verb == "GRANT"
                else f"{head} {verb}{privilege} ON {objects} FROM {who}")

    for row, grantable in sorted(want_d.items()):
        if row not in have_d or (grantable and not have_d[row]):
            out.append(default(row, "GRANT") + (" WITH GRANT OPTION" if grantable else ""))
        elif not grantable and have_d[row]:
            out.append(default(row, "REVOKE GRANT OPTION FOR "))
    for row in sorted(set(have_d) - set(want_d)):
        out.append(default(row, "REVOKE "))

    want_m, have_m = _memberships(conn, source, pair), _memberships(conn, target, pair)
    for group, admin in sorted(want_m.items()):
        if group not in have_m or (admin and not have_m[group]):
            out.append(f"GRANT {identifier(group)} TO {to}" + (" WITH ADMIN OPTION" if admin else ""))
        elif not admin and have_m[group]:
            out.append(f"REVOKE ADMIN OPTION FOR {identifier(group)} FROM {to}")
    for group in sorted(set(have_m) - set(want_m)):
        out.append(f"REVOKE {identifier(group)} FROM {to}")
    return out


def _differences(conn: Any, source: str, target: str) -> list[str]:
    """What still differs after the statements ran, readably (PostgreSQL only warns when a grant does nothing)."""
    pair = (source, target)
    out = []
    want, have = _privileges(conn, source), _privileges(conn, target)
    for key in sorted(set(want) | set(have)):
        if want.get(key) != have.get(key):
            kind, obj, column, privilege = key
            verb = "has" if key in want else "does not have"
            out.append(f"{source} {verb} {privilege} on {kind.lower()} {obj}{f' ({column})' if column else ''}")
    want_d, have_d = _defaults(conn, source, pair), _defaults(conn, target, pair)
    for row in sorted(set(want_d) ^ set(have_d)):
        out.append(f"default privilege {' '.join(filter(None, row)).replace(chr(0), '')}")
    want_m, have_m = _memberships(conn, source, pair), _memberships(conn, target, pair)
    for group in sorted(set(want_m) | set(have_m)):
        if want_m.get(group) != have_m.get(group):
            out.append(f"membership in {group}")
    return out
