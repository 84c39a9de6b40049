"""A real PostgreSQL 15 server for the whole test run, started from scratch on loopback (localworld/postgres.py).

Import the fixture into a test module with ``from tests.postgres_fixture import postgres  # noqa: F401``. pytest
makes one session fixture per module that imports it, so the server itself is shared: the first use starts it,
the last teardown stops it (and localworld/postgres.py's watchdog removes it if the run is killed).

``database(postgres)`` gives a test its own database and login role on that server (dropped afterwards), so
tests never see each other's roles or tables.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from localworld.postgres import PostgresServer

_lock = threading.Lock()
_server: PostgresServer | None = None
_users = 0


def _acquire() -> PostgresServer:
    global _server, _users
    with _lock:
        if _server is None:
            _server = PostgresServer().start()
        _users += 1
        return _server


def _release() -> None:
    global _server, _users
    with _lock:
        _users -= 1
        if _users == 0 and _server is not None:
            _server.stop()
            _server = None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = _acquire()
    try:
        yield server
    finally:
        _release()


def trust_local_ca(monkeypatch: pytest.MonkeyPatch, server: PostgresServer) -> None:
    """Rotation verifies the server (tls: verify-full) against the CA the test server made, as in the local world
    (set before ``use_policy``, which reloads the settings)."""
    monkeypatch.setenv("SWITCHBOARD_PG_CA_FILE", str(server.ca_file))


@dataclass(frozen=True)
class Database:
    server: PostgresServer
    name: str  # database name
    user: str  # a login role owned by the test (base name, e.g. app_1a2b3c)
    password: str
    group: str  # a group role holding the table grants; `user` is a member

    def secret(self, **overrides: object) -> dict[str, object]:
        """The secret value an application would hold for ``user``."""
        value = {"engine": "postgres", "host": self.server.host, "port": self.server.port,
                 "username": self.user, "password": self.password, "dbname": self.name}
        return {**value, **overrides}

    def login(self, user: str, password: str) -> str:
        """Log in as the application would and read a row through the group's grants; returns current_user."""
        conn = self.server.connect(user, password, self.name)
        try:
            who = conn.run("SELECT current_user")[0][0]
            conn.run("SELECT count(*) FROM orders")
            return who
        finally:
            conn.close()

    def roles(self) -> set[str]:
        conn = self.server.admin()
        try:
            return {row[0] for row in conn.run("SELECT rolname FROM pg_roles WHERE rolname LIKE :p",
                                               p=f"{self.user}%")}
        finally:
            conn.close()


@contextmanager
def database(postgres: PostgresServer) -> Iterator[Database]:
    """A database with an ``orders`` table, a group role with grants on it, and a login role in that group that
    may manage roles (CREATEROLE: the alternating-users strategy logs in with the current user to set up its
    clone). Everything is dropped afterwards.

        @pytest.fixture
        def db(postgres):  # noqa: F811 - the session fixture imported above
            with database(postgres) as made:
                yield made
    """
    from pg8000.native import identifier, literal

    suffix = secrets.token_hex(3)
    db = Database(postgres, f"db_{suffix}", f"app_{suffix}", secrets.token_urlsafe(18), f"rw_{suffix}")
    admin = postgres.admin()
    try:
        admin.run(f"CREATE ROLE {identifier(db.group)} NOLOGIN")
        admin.run(f"CREATE ROLE {identifier(db.user)} LOGIN CREATEROLE PASSWORD {literal(db.password)} "
                  f"IN ROLE {identifier(db.group)}")
        admin.run(f"CREATE DATABASE {identifier(db.name)}")
    finally:
        admin.close()
    conn = postgres.admin(db.name)
    try:
        conn.run("CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL)")
        conn.run("INSERT INTO orders (total) VALUES (10), (32)")
        conn.run(f"GRANT SELECT, INSERT ON orders TO {identifier(db.group)}")
    finally:
        conn.close()
    try:
        yield db
    finally:
        admin = postgres.admin()
        try:
            admin.run(f"DROP DATABASE IF EXISTS {identifier(db.name)} WITH (FORCE)")
            for (role,) in admin.run("SELECT rolname FROM pg_roles WHERE rolname LIKE :p", p=f"%\\_{suffix}%"):
                admin.run(f"DROP ROLE IF EXISTS {identifier(role)}")
        finally:
            admin.close()
