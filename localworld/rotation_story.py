"""The secret-rotation chapter of `switchboard demo`, in the style of ``demo.slack_story``:

    story(world, say, check)                 # numbered from 12; ``first=`` to start elsewhere

1. A real PostgreSQL server on loopback (localworld/postgres.py; started here unless one is passed in), the
   estate's ``web/db-password`` pointed at it, and the application logging in with AWSCURRENT.
2. The secret is rotated (alternating users): Secrets Manager's part is played by localworld/rotation_tasks.py in
   the account's environment; the application logs in again with the new AWSCURRENT; Slack is told.
3. An API key is rotated; its consumer (a webhook on loopback) learns the new key and accepts it.
4. A rotation fails in testSecret (the next user of the pair cannot log in): AWSCURRENT stays as it was and the
   application still logs in; Slack is told why.
5. The daily watch, a month later, flags the secrets that are overdue.

It runs in the first account whose policy enables rotation (stage in the shipped policies), with the kinds from
policy or, where policy names none, from a tag on the secret.
"""

from __future__ import annotations

import json
import secrets as pysecrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localworld import rotation_tasks
from localworld.postgres import PostgresServer

DB_SECRET, API_SECRET = "web/db-password", "web/api-key"
APP_USER, APP_GROUP, APP_DB = "web", "app_rw", "app"


class Consumer:
    """The API key's consumer: accepts the keys it was told about (``set``, with its webhook token) and answers
    ``test`` for a key (2xx if accepted, 401 if not). ``broken``: it stops accepting new keys."""

    def __init__(self) -> None:
        self.token = pysecrets.token_urlsafe(18)
        self.keys: set[str] = set()
        self.calls: list[str] = []
        consumer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                action = body.get("action")
                consumer.calls.append(str(action))
                if action == "set" and bearer == consumer.token and isinstance(body.get("key"), str):
                    consumer.keys.add(body["key"])
                    status = 200
                elif action == "test":
                    status = 200 if bearer in consumer.keys else 401
                else:
                    status = 401
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True, name="api-consumer").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/switchboard/keys"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def story(world: Any, say: Callable[[str], None], check: Callable[[str, bool, str], None], *, first: int = 12,
          postgres: PostgresServer | None = None) -> None:
    account = next((name for name, acct in world.accounts.items() if acct.policy.rotation.enabled
                    and acct.policy.slack.front_door != name), None)
    if account is None:
        check("an account's policy enables rotation", False, "no account has `rotation: {enabled: true}`")
        return
    own = postgres is None
    consumer = Consumer()
    try:
        pg = postgres or PostgresServer().start()
        _Story(world, account, pg, consumer, say, check, first).play()
    finally:
        consumer.stop()
        if own and "pg" in locals():
            pg.stop()


class _Story:
    def __init__(self, world: Any, account: str, pg: PostgresServer, consumer: Consumer,
                 say: Callable[[str], None], check: Callable[[str, bool, str], None], first: int):
        self.world, self.account, self.pg, self.consumer = world, account, pg, consumer
        self.say, self.check, self.n = say, check, first
        self.policy = world.accounts[account].policy
        self.sm = world.client(account, "secretsmanager")

    def step(self, title: str) -> None:
        self.say(f"\n{self.n}. {title}")
        self.n += 1

    def play(self) -> None:
        self.database()
        self.rotate_database()
        self.rotate_api_key()
        self.failed_test()
        self.watch()

    # ---- 1. the database and the application ----

    def database(self) -> None:
        from pg8000.native import identifier, literal

        self.step(f"PostgreSQL 15 on 127.0.0.1:{self.pg.port}; {self.account}'s {DB_SECRET} points at it")
        password = pysecrets.token_urlsafe(18)
        admin = self.pg.admin()
        try:
            roles = {r[0] for r in admin.run("SELECT rolname FROM pg_roles")}
            if APP_GROUP not in roles:
                admin.run(f"CREATE ROLE {APP_GROUP} NOLOGIN")
            verb = "ALTER" if APP_USER in roles else "CREATE"
            admin.run(f"{verb} ROLE {APP_USER} WITH LOGIN CREATEROLE CONNECTION LIMIT -1 PASSWORD {literal(password)}")
            admin.run(f"GRANT {APP_GROUP} TO {APP_USER}")
            admin.run(f"DROP ROLE IF EXISTS {identifier(APP_USER + '_clone')}")
            if not admin.run("SELECT 1 FROM pg_database WHERE datname = :d", d=APP_DB):
                admin.run(f"CREATE DATABASE {APP_DB}")
        finally:
            admin.close()
        conn = self.pg.admin(APP_DB)
        try:
            conn.run("CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, total numeric NOT NULL)")
            if conn.run("SELECT count(*) FROM orders")[0][0] == 0:
                conn.run("INSERT INTO orders (total) VALUES (10), (32)")
            conn.run(f"GRANT SELECT, INSERT ON orders TO {APP_GROUP}")
        finally:
            conn.close()
        value = {"engine": "postgres", "host": self.pg.host, "port": self.pg.port, "username": APP_USER,
                 "password": password, "dbname": APP_DB}
        self._put(DB_SECRET, value, "postgres-alternating")
        who, detail = self.app_login()
        self.check("the application logs in with AWSCURRENT and reads its orders", who == APP_USER, detail)

    def _put(self, name: str, value: Any, kind: str) -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        try:
            self.sm.put_secret_value(SecretId=name, SecretString=text)
        except self.sm.exceptions.ResourceNotFoundException:
            self.sm.create_secret(Name=name, SecretString=text)
        section = self.policy.rotation
        entry = section.secrets.get(name)
        if entry is None or entry.kind is None:  # policy names no kind: say it with the secret's tag
            self.sm.tag_resource(SecretId=name, Tags=[{"Key": section.kind_tag, "Value": kind}])

    def current(self, name: str) -> tuple[str, dict[str, Any]]:
        """What an application reads: AWSCURRENT, named explicitly."""
        got = self.sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
        return got["VersionId"], json.loads(got["SecretString"])

    def app_login(self, value: dict[str, Any] | None = None) -> tuple[str | None, str]:
        value = value or self.current(DB_SECRET)[1]
        try:
            conn = self.pg.connect(value["username"], value["password"], value["dbname"])
        except Exception as exc:  # noqa: BLE001 - the story reports it
            return None, f"{value['username']} cannot log in: {exc}"[:200]
        try:
            who, orders = conn.run("SELECT current_user, (SELECT count(*) FROM orders)")[0]
        finally:
            conn.close()
        return who, f"logged in as {who}, {orders} orders"

    def rotate(self, name: str, days: int | None = 30) -> dict[str, Any]:
        """Secrets Manager's part played by the world (as AWS); the four steps run as rotate_secret, its role."""
        return rotation_tasks.rotate_in_world(self.world, self.account, name, days)

    def task(self, *args: str, function: str) -> dict[str, Any]:
        """Run a rotation task as ``function`` in the account; its answer is the last line (logs come before)."""
        out = self.world.run_in(self.account, "localworld.rotation_tasks", *args, function=function)
        return json.loads(out.strip().splitlines()[-1])

    def said(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> str | None:
        """Wait for a Slack message in the rotation channel that satisfies ``predicate``."""
        channel = self.policy.rotation.channel_for(DB_SECRET, self.policy)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.world.slack.messages(channel):
                text = message.text + " " + json.dumps(message.blocks)
                if predicate(text):
                    return message.text[:160]
            time.sleep(0.1)
        return None

    # ---- 2. the database user, rotated ----

    def rotate_database(self) -> None:
        self.step(f"Secrets Manager rotates {DB_SECRET} (alternating users) with Switchboard's rotation function")
        before = self.current(DB_SECRET)
        report = self.rotate(DB_SECRET)
        steps = ", ".join(f"{d['step']}: {d['outcome']}" for d in report["done"])
        self.check("the four steps run, each once", report["ok"] and len(report["done"]) == 4,
                   steps or f"failed in {report['failed_step']}: {report['error']}")
        version, value = self.current(DB_SECRET)
        who, detail = self.app_login()
        old_who, _ = self.app_login(before[1])
        self.check("the application logs in with the new AWSCURRENT; the previous user still works",
                   version == report["token"] and who == APP_USER + "_clone" and old_who == APP_USER,
                   f"{detail}; previous user {old_who or 'refused'}")
        told = self.said(lambda t: DB_SECRET in t and "succeeded" in t)
        self.check("RotationSucceeded reaches Switchboard, which tells Slack", told is not None, told or "nothing said")

    # ---- 3. an API key, rotated; its consumer told through its webhook ----

    def rotate_api_key(self) -> None:
        entry = self.policy.rotation.secrets.get(API_SECRET)
        hook = entry.webhook_secret if entry is not None else None
        how = f"its consumer is told through the webhook in {hook}" if hook else "its consumer reads the secret"
        self.step(f"Secrets Manager rotates {API_SECRET}; {how}")
        first_key = pysecrets.token_urlsafe(30)
        self.consumer.keys = {first_key}
        if hook:
            self._put(hook, {"url": self.consumer.url, "token": self.consumer.token}, "api-key")
            self.sm.untag_resource(SecretId=hook, TagKeys=[self.policy.rotation.kind_tag])
        self._put(API_SECRET, {"key": first_key}, "api-key")
        report = self.rotate(API_SECRET)
        _, value = self.current(API_SECRET)
        accepted = value["key"] in self.consumer.keys if hook else True
        self.check("a new key is current and the consumer accepts it",
                   report["ok"] and value["key"] != first_key and accepted,
                   f"{'ok' if report['ok'] else report['error']}; "
                   f"webhook calls: {', '.join(self.consumer.calls) or '-'}")

    # ---- 4. a failure in testSecret ----

    def failed_test(self) -> None:
        self.step(f"A DBA sets CONNECTION LIMIT 0 on {APP_USER} (the next user of the pair); {DB_SECRET} rotates again")
        admin = self.pg.admin()
        try:
            admin.run(f"ALTER ROLE {APP_USER} CONNECTION LIMIT 0")
        finally:
            admin.close()
        before = self.current(DB_SECRET)
        try:
            report = self.rotate(DB_SECRET, days=None)
        finally:
            admin = self.pg.admin()
            try:
                admin.run(f"ALTER ROLE {APP_USER} CONNECTION LIMIT -1")
            finally:
                admin.close()
        after = self.current(DB_SECRET)
        who, detail = self.app_login()
        self.check("testSecret fails; AWSCURRENT is untouched and the application still logs in",
                   report["failed_step"] == "testSecret" and after == before and who == APP_USER + "_clone",
                   f"{report['failed_step']}: {str(report['error'])[:120]}; {detail}")
        told = self.said(lambda t: DB_SECRET in t and "failed" in t and "testSecret" in t)
        self.check("RotationFailed is announced with the reason", told is not None, told or "nothing said")

    # ---- 5. the daily watch ----

    def watch(self) -> None:
        tags = {t["Key"]: t["Value"] for t in self.sm.describe_secret(SecretId=DB_SECRET).get("Tags", [])}
        days = self.policy.rotation.effective(DB_SECRET, tags).max_age_days + 1
        self.step(f"The daily watch runs as if {days} days had passed")
        later = datetime.now(UTC) + timedelta(days=days)
        report = self.task("watch", "--now", later.isoformat(), function="rotation_watch")
        overdue = sorted(f["secret"] for f in report["findings"] if f["code"] == "overdue")
        others = sorted({f["code"] for f in report["findings"] if f["code"] != "overdue"})
        self.check("it flags the overdue secrets", DB_SECRET in overdue,
                   f"overdue: {', '.join(overdue) or 'none'}; also: {', '.join(others) or 'nothing'}")
        told = self.said(lambda t: "rotation watch" in t and "overdue" in t)
        self.check("and says so in Slack", told is not None, told or "nothing said")
