"""PostgreSQL users (Aurora PostgreSQL in the Reference Architecture), through pg8000 (pure Python: the Lambda
package stays portable). The secret is ``{"engine": "postgres", "host", "port", "username", "password", "dbname"}``.

- **single user**: setSecret logs in with the current value (else the previous one) and changes that user's
  password.
- **alternating users**: the pending value is the *other* user of the pair ``<user>`` / ``<user>_clone``. setSecret
  logs in with the current value (or, with ``admin_secret`` in policy, as that role) and changes the other user's
  password; the first rotation creates ``<user>_clone`` with the same role attributes, role memberships and schema,
  table and sequence privileges as ``<user>``, in one transaction. Objects should be owned by a group role both
  users belong to: privileges granted to ``<user>`` later are not copied again.

Never trusted: a pending (or previous, or admin) value that names another host, port or database than the current
one, or a user other than the one the strategy expects, is refused before anything connects with it. Passwords are
sent as SCRAM-SHA-256 verifiers, so the plain password never reaches the server's logs or statistics.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import ssl
from typing import Any

from chalicelib.rotation.exceptions import Malformed, Refused, TargetRejected
from chalicelib.rotation.kinds.api_key import is_loopback
from chalicelib.rotation.kinds.base import Kind, Value
from chalicelib.rotation.policy import SecretKind, Tls
from chalicelib.rotation.store import AWSCURRENT

DEFAULT_LENGTH = 32
EXCLUDE_CHARACTERS = "/@\"'\\"  # as AWS's templates: characters connection strings and shells choke on
CLONE_SUFFIX = "_clone"
MAX_IDENTIFIER = 63
CONNECT_TIMEOUT = 10
ENGINES = {None, "postgres", "postgresql", "aurora-postgresql"}

_RELATION_GRANTS = """
SELECT n.nspname, c.relname, c.relkind, a.privilege_type
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(coalesce(
    c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))) a
WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = :u)
  AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1, 2, 4
"""
_SCHEMA_GRANTS = """
SELECT n.nspname, a.privilege_type
FROM pg_namespace n
CROSS JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))) a
WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = :u)
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1, 2
"""
_MEMBERSHIPS = """
SELECT g.rolname, m.admin_option
FROM pg_auth_members m
JOIN pg_roles g ON g.oid = m.roleid
JOIN pg_roles u ON u.oid = m.member
WHERE u.rolname = :u
ORDER BY 1
"""


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
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, dict):
        return f"{detail.get('C', '?')} {detail.get('M', '')}".strip()
    return f"{type(exc).__name__}: {str(detail)[:200]}"


def _grants(conn: Any, role: str) -> dict[str, list[tuple[Any, ...]]]:
    return {"memberships": [tuple(r) for r in conn.run(_MEMBERSHIPS, u=role)],
            "schemas": [tuple(r) for r in conn.run(_SCHEMA_GRANTS, u=role)],
            "relations": [tuple(r) for r in conn.run(_RELATION_GRANTS, u=role)]}


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

    def _ssl(self, host: str) -> Any:
        if is_loopback(host):
            return None
        context = ssl.create_default_context()
        if self.settings.tls == Tls.REQUIRE:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def connect(self, value: Value) -> Any:
        """A connection as the value's user, or TargetRejected saying why not."""
        import pg8000.native

        host, port, db = self.place(value)
        try:
            return pg8000.native.Connection(value["username"], host=value["host"], port=port, database=db,
                                            password=value["password"], ssl_context=self._ssl(host),
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
            who = conn.run("SELECT current_user")[0][0]
            if who != pending["username"]:
                raise TargetRejected(f"logged in to {self.target.name}'s database as {who}, not "
                                     f"{pending['username']}")
            if self.settings.probe:
                try:
                    conn.run(self.settings.probe)
                except Exception as exc:  # noqa: BLE001 - pg8000's errors: the reason, not the traceback
                    raise TargetRejected(f"the probe query failed as {pending['username']}: {_why(exc)}") from None
        finally:
            conn.close()


class AlternatingPostgres(Postgres):
    kind = SecretKind.POSTGRES_ALTERNATING
    alternating = True

    def expected_user(self, current: Value) -> str:
        other = partner(current["username"])
        if len(other.encode()) > MAX_IDENTIFIER:
            raise Refused(f"user {current['username']} is too long to have a {CLONE_SUFFIX} partner")
        return other

    def _manager(self, current: Value, previous: Value | None) -> Any:
        """Who changes the other user: the role in admin_secret, else the current user (else the previous value,
        which for this strategy is the other user itself, so it is not a way in)."""
        name = self.settings.admin_secret
        if name is None:
            return self.connect(current)
        found = self.target.store.value(name, AWSCURRENT)
        if found is None:
            raise Malformed(f"the admin secret {name} of {self.target.name} has no current value")
        admin = Postgres.parse(self, found.text)
        self._same_place(current, admin, "admin", None)
        return self.connect(admin)

    def apply(self, current: Value, pending: Value, previous: Value | None) -> None:
        from pg8000.native import identifier, literal

        conn = self._manager(current, previous)
        try:
            user, verifier = pending["username"], scram_sha_256(pending["password"])
            if conn.run("SELECT 1 FROM pg_roles WHERE rolname = :u", u=user):
                conn.run(f"ALTER ROLE {identifier(user)} WITH LOGIN PASSWORD {literal(verifier)}")
            else:
                self._clone(conn, current["username"], user, verifier)
        finally:
            conn.close()

    def _clone(self, conn: Any, source: str, clone: str, verifier: str) -> None:
        """Create ``clone`` like ``source``: attributes, memberships and privileges, all or nothing."""
        from pg8000.native import identifier, literal

        rows = conn.run("SELECT rolcreatedb, rolcreaterole, rolinherit, rolconnlimit FROM pg_roles "
                        "WHERE rolname = :u", u=source)
        if not rows:
            raise TargetRejected(f"user {source} does not exist on {self.target.name}'s server")
        createdb, createrole, inherit, limit = rows[0]
        options = ["LOGIN", "CREATEDB" if createdb else "NOCREATEDB", "CREATEROLE" if createrole else "NOCREATEROLE",
                   "INHERIT" if inherit else "NOINHERIT", f"CONNECTION LIMIT {int(limit)}"]
        ident = identifier(clone)
        wanted = _grants(conn, source)
        conn.run("BEGIN")
        try:
            conn.run(f"CREATE ROLE {ident} WITH {' '.join(options)} PASSWORD {literal(verifier)}")
            for group, admin_option in wanted["memberships"]:
                conn.run(f"GRANT {identifier(group)} TO {ident}" + (" WITH ADMIN OPTION" if admin_option else ""))
            for schema, privilege in wanted["schemas"]:
                conn.run(f"GRANT {privilege} ON SCHEMA {identifier(schema)} TO {ident}")
            for schema, relation, relkind, privilege in wanted["relations"]:
                what = "SEQUENCE" if relkind == "S" else "TABLE"
                conn.run(f"GRANT {privilege} ON {what} {identifier(schema)}.{identifier(relation)} TO {ident}")
            # PostgreSQL only warns when a grantor lacks the grant option: check the clone really got everything
            got = _grants(conn, clone)
            missing = [f"{' '.join(map(str, row))}" for part in ("memberships", "schemas", "relations")
                       for row in sorted(set(wanted[part]) - set(got[part]))]
            if missing:
                raise TargetRejected(
                    f"cannot give {clone} what {source} has ({', '.join(missing[:5])}"
                    f"{', …' if len(missing) > 5 else ''}): grant it through a group role, WITH GRANT OPTION, or "
                    "set admin_secret in policy")
            conn.run("COMMIT")
        except Exception:
            conn.run("ROLLBACK")
            raise
