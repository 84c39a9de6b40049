"""The whole local world: moto's server, the Slack stand-in, every emulated account provisioned from
infra/ and seeded with the demo estate, a role per function made from the generated policies, moto's access
control switched on, one process per function that has work here (each under its own role), and the relay that
carries Switchboard events between accounts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from localworld import clock, delivery, estate, iam, slack_oidc, slack_user
from localworld.accounts import ROOT, Account, load_accounts
from localworld.emulator import Credentials, Emulator, assume, session_for
from localworld.postgres import PostgresServer
from localworld.provision import provision_account
from localworld.slack_standin import SlackStandIn

# Variables of the developer's shell that must not leak into an emulated account.
_SCRUBBED_PREFIXES = ("AWS_", "SWITCHBOARD_", "POWERTOOLS_")
# The functions that have work in the local world, each run in a process of its own (localworld.instance): the
# EventBridge handlers, the rate() schedules, and the front door's API (where the account has one). The others
# (on_schedule, rotate_secret, rotation_watch) run when the world runs them (``run_in(..., function=...)``).
LOCAL_FUNCTIONS = ("on_codepipeline", "on_alarm", "on_ecs", "on_autoscaling", "on_secrets", "on_peer",
                   "scaling_tick", "promotion_tick", "alerts_flush", "slack_outbox", "slack_cards", "api_handler")


class WorldError(RuntimeError):
    pass


class World:
    def __init__(self, root: Path = ROOT, workdir: Path | None = None, moto_port: int = 0, slack_port: int = 0,
                 log: Callable[[str], None] = lambda line: None,
                 policies: dict[str, dict[str, dict[str, Any]]] | None = None):
        self.root = root
        self.workdir = workdir or root / ".world"
        self.accounts: dict[str, Account] = load_accounts(root)
        self.log = log
        self.emulator = Emulator(moto_port)
        self.slack = SlackStandIn(port=slack_port, record_file=str(self.workdir / "slack.jsonl"))
        self.relay = delivery.Relay(self.emulator.url)
        self.credentials: dict[str, Credentials] = {}  # the provisioning identity of each account (AWS itself)
        # each function's role (as `chalice package` makes them) and its credentials; ``policies`` replaces the
        # generated documents of a stage (tests take a statement away to prove the world notices)
        self.policies = policies or {}
        self.roles: dict[str, dict[str, iam.Role]] = {}
        self.function_credentials: dict[str, dict[str, Credentials]] = {}
        self.sessions: dict[str, boto3.Session] = {}
        self.provisioned: dict[str, Any] = {}
        self.seeded: dict[str, list[str]] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._invocations: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._ready: set[str] = set()
        self._stopping = threading.Event()
        self.http: dict[str, str] = {}  # account -> URL of its REST API (the front door's Slack request URLs)
        # a real PostgreSQL on loopback, standing in for the estate's Aurora (secret rotation logs in to it)
        self.postgres = PostgresServer()

    # ---- lifecycle ----

    def start(self, ready_timeout: float = 180.0) -> World:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self.emulator.start()
        self.slack.start()
        slack_user.load_directory(self.slack)
        self.postgres.start()
        self.log(f"moto server     {self.emulator.url}")
        self.log(f"slack stand-in  {self.slack.url}")
        self.log(f"postgresql      127.0.0.1:{self.postgres.port}")
        for name, account in self.accounts.items():
            creds = assume(self.emulator.url, account.id, account.region)
            self.credentials[name] = creds
            self.sessions[name] = session_for(creds, account.region)
        for name, account in self.accounts.items():
            session = self.sessions[name]
            with _endpoint(self.emulator.url):
                self.provisioned[name] = provision_account(
                    session, account_name=name, peer_account_ids=account.admitted_peer_ids,
                    peer_links=account.peer_links, slack_front_door=account.policy.slack.front_door == name)
            self.seeded[name] = estate.seed(session, account, self.emulator.url)
            if account.policy.slack.front_door == name:  # only the front door holds a Slack secret
                self._slack_secret(session, account)
            outboxes = delivery.redirect_peer_links(session, self.emulator.url, [p for p, _ in account.peer_links])
            for peer_id, url in outboxes.items():
                peer_name = self.account_by_id(peer_id).name
                self.relay.add(session, url, self.sessions[peer_name])
            self._roles(name, account)
            self.log(f"account {name:<16} {account.id}  provisioned from infra/ ({len(self.provisioned[name].gaps)} "
                     f"moto gaps filled), {len(self.seeded[name])} estate resources, "
                     f"{len(self.roles[name]) - 1} function roles")
        iam.enforce()
        self.log("IAM             moto's access control on: every function acts under its own role")
        for name in self.accounts:
            for function in LOCAL_FUNCTIONS:
                if function in self.roles[name]:
                    self._spawn(name, function)
        deadline = time.monotonic() + ready_timeout
        with self._cond:
            while self._ready != set(self._procs):
                dead = [n for n, p in self._procs.items() if p.poll() is not None and n not in self._ready]
                if dead or time.monotonic() > deadline:
                    self.stop()
                    why = f"exited: {dead}" if dead else "timed out"
                    raise WorldError(f"Switchboard instances did not start ({why}); see {self.workdir / 'logs'}")
                self._cond.wait(0.2)
        self.relay.start()
        threading.Thread(target=self._watch_dead_letters, daemon=True, name="dead-letter-watch").start()
        self._write_state()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.relay.stop()
        self.slack.stop()
        self.postgres.stop()
        self.emulator.stop()
        iam.relax()

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _slack_secret(self, session: boto3.Session, account: Account) -> None:
        """Put the emulated workspace's signing secret and bot token where the account's stack made the secret."""
        secrets = session.client("secretsmanager", endpoint_url=self.emulator.url)
        secrets.put_secret_value(SecretId=account.policy.slack.secret_name, SecretString=json.dumps(
            {"signing_secret": slack_user.LOCAL_SIGNING_SECRET, "bot_token": slack_user.LOCAL_BOT_TOKEN,
             # the console's Sign in with Slack (the stand-in's OIDC client) and its cookie-signing key
             "client_id": slack_oidc.LOCAL_CLIENT_ID, "client_secret": slack_oidc.LOCAL_CLIENT_SECRET,
             "console_session_key": slack_oidc.LOCAL_SESSION_KEY}))

    def _roles(self, name: str, account: Account) -> None:
        """The functions' roles, made from the generated policies, and credentials for each (assumed now: moto
        checks no trust policy before access control is on; on AWS, Lambda assumes them)."""
        session = self.sessions[name]
        iam.provisioner_role(session, self.emulator.url)
        self.roles[name] = iam.create_roles(session, self.emulator.url, name, account.id, self.policies.get(name))
        iam.register(name, account.id, self.roles[name])
        self.function_credentials[name] = {
            function: assume(self.emulator.url, account.id, account.region, role.name, session_name=function)
            for function, role in self.roles[name].items()}

    def environ(self, name: str, function: str | None = None) -> dict[str, str]:
        """The environment of one of the account's functions: its stage's variables and its role's credentials
        (``function=None``: the provisioning identity, for what the world does as AWS or as the operator)."""
        if function is None:
            credentials = self.credentials[name].environ()
        else:
            if function not in self.function_credentials.get(name, {}):
                raise WorldError(f"{function} is not a function of {name} "
                                 f"(known: {', '.join(sorted(self.function_credentials.get(name, {})))})")
            credentials = self.function_credentials[name][function].environ()
        return _account_environ(self.root, self.accounts[name], credentials, self._world_variables(name))

    def _world_variables(self, name: str) -> dict[str, str]:
        """What every process of the account is told about this world (written to world.json too, so a process of
        a world another process serves gets the same: ``run_in_running_world``)."""
        return {
            "AWS_ENDPOINT_URL": self.emulator.url, "PYTHONUNBUFFERED": "1",
            "SWITCHBOARD_SLACK_API_URL": self.slack.api_url,
            "SWITCHBOARD_OIDC_ISSUER": self.slack.oidc.issuer,  # Sign in with Slack: the stand-in's OIDC
            "SWITCHBOARD_LOCAL_FAULTS": str(self.workdir / "faults" / name),
            "SWITCHBOARD_ALLOW_LOOPBACK_HTTP": "true",  # the stand-ins (webhooks, PagerDuty, consumers) are on loopback
            clock.ENV: "1",  # each instance is a freshly booted microVM: time.monotonic() starts near 0
            # rotation verifies the local PostgreSQL's certificate (tls: verify-full) against the CA it made
            "SWITCHBOARD_PG_CA_FILE": str(self.postgres.ca_file),
        }

    def fault(self, account: str, handler: str, on: bool = True) -> None:
        """Make every invocation of ``handler`` in ``account`` crash (a Lambda that dies), or stop doing so."""
        marker = self.workdir / "faults" / account / handler
        marker.parent.mkdir(parents=True, exist_ok=True)
        if on:
            marker.touch()
        else:
            marker.unlink(missing_ok=True)

    def _watch_dead_letters(self) -> None:
        """CloudWatch's part for the `switchboard-dead-letters` alarm (moto evaluates no alarms): ALARM as soon as a
        message is in an account's dead-letter queue, OK when it is empty again; each change puts the alarm event
        AWS would."""
        states: dict[str, str] = {}
        while not self._stopping.wait(1.0):
            for name in self.accounts:
                try:
                    sqs = self.client(name, "sqs")
                    url = sqs.get_queue_url(QueueName=delivery.DLQ_NAME)["QueueUrl"]
                    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                    depth = sum(int(v) for v in attrs.values())
                    state = "ALARM" if depth else "OK"
                    if states.get(name, "OK") != state:
                        self.simulator(name).alarm("switchboard-dead-letters", state,
                                                   f"{depth} message(s) in {delivery.DLQ_NAME}")
                        states[name] = state
                except Exception as exc:  # noqa: BLE001 - the world is stopping, or moto is busy: next second
                    self.log(f"dead-letter watch in {name}: {exc}")

    def run_in(self, name: str, module: str, *args: str, function: str | None) -> str:
        """Run ``python -m module args`` as the account's ``function`` would (its environment, its role); returns
        stdout. ``function=None`` runs it as the account's operator (the provisioning identity). A refused AWS call
        fails it with the function and the action named."""
        def refused() -> str:
            found = [d.line() for d in self.denials() if d.account == name and d.function == function]
            return f"; refused: {'; '.join(found)}" if found else ""

        return _run_module(self.root, self.environ(name, function), module, args,
                           f"{module} in {name} as {function or 'the operator'}", refused)

    def denials(self) -> list[iam.Denial]:
        """Every AWS call IAM refused since the world started: the function (its role) and the action."""
        return iam.denials()

    def user(self, handle: str) -> slack_user.SlackUser:
        front_door = next(iter(self.http.values()), None)
        if front_door is None:
            raise WorldError("no account serves the Slack front door (policy slack.front_door)")
        return slack_user.SlackUser(handle, front_door, self.slack)

    def wait_responses(self, response_url: str, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.slack.responses(response_url)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.slack.responses(response_url)

    def _spawn(self, name: str, function: str) -> None:
        env = self.environ(name, function)
        env["SWITCHBOARD_LOCAL_DELIVERY_CREDENTIALS"] = json.dumps(
            self.function_credentials[name][iam.DELIVERY_ROLE].environ())
        proc = subprocess.Popen([sys.executable, "-m", "localworld.instance", "--account", name, "--function",
                                 function], cwd=self.root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        key = f"{name}/{function}"
        self._procs[key] = proc
        threading.Thread(target=self._read, args=(key, proc), daemon=True).start()

    def _read(self, key: str, proc: subprocess.Popen) -> None:
        name, function = key.split("/", 1)
        with open(self.workdir / "logs" / f"{name}-{function}.log", "w", encoding="utf-8") as log_file:
            for line in proc.stdout:  # type: ignore[union-attr]
                log_file.write(line)
                log_file.flush()
                if line.startswith("HTTP "):
                    _, account_name, url = line.split()
                    self.http[account_name] = url
                elif line.startswith("READY "):
                    with self._cond:
                        self._ready.add(key)
                        self._cond.notify_all()
                elif line.startswith("INVOKED "):
                    with self._cond:
                        self._invocations.append(json.loads(line[len("INVOKED "):]))
                        self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def console_url(self) -> str | None:
        """The console's address (the front door's HTTP server), once it is serving."""
        front_door = next(iter(self.http.values()), None)
        return f"{front_door}/console" if front_door else None

    def _write_state(self) -> None:
        state = {"moto": self.emulator.url, "slack": self.slack.url, "http": self.http,
                 "accounts": {n: {"id": a.id, "region": a.region, "credentials": self.credentials[n].environ(),
                                  "functions": {f: c.environ() for f, c in self.function_credentials[n].items()},
                                  "environ": self._world_variables(n)}
                              for n, a in self.accounts.items()}}
        (self.workdir / "world.json").write_text(json.dumps(state, indent=2))

    # ---- queries ----

    def account_by_id(self, account_id: str) -> Account:
        for account in self.accounts.values():
            if account.id == account_id:
                return account
        raise WorldError(f"account {account_id} is not an emulated account "
                         f"({', '.join(f'{a.name}={a.id}' for a in self.accounts.values())})")

    def client(self, account: str, service: str) -> Any:
        return self.sessions[account].client(service, endpoint_url=self.emulator.url)

    def simulator(self, account: str) -> estate.Simulator:
        return estate.Simulator(self.sessions[account], self.accounts[account], self.emulator.url)

    def matching_rules(self, account: str, event: dict[str, Any]) -> list[str]:
        """Which of the account's handler rules match this event (moto's own pattern engine decides)."""
        events = self.client(account, "events")
        return [rule["Name"] for rule in events.list_rules(NamePrefix="switchboard-")["Rules"]
                if rule.get("EventPattern") and rule.get("State") == "ENABLED"
                and not rule["Name"].startswith("switchboard-to-") and delivery.matches(rule["EventPattern"], event)]

    def invocations(self, account: str | None = None, event_id: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [i for i in self._invocations
                    if (account is None or i["account"] == account) and (event_id is None or i["event_id"] == event_id)]

    def wait_invocations(self, account: str, event_id: str, count: int = 1, timeout: float = 20.0,
                         since: int = 0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [i for i in self._invocations[since:]
                         if i["account"] == account and i["event_id"] == event_id and i["status"] == "ok"]
                if len(found) >= count or time.monotonic() > deadline:
                    return found
                self._cond.wait(0.2)

    def mark(self) -> int:
        with self._cond:
            return len(self._invocations)

    def redeliver(self, account: str, handler: str, event: dict[str, Any]) -> None:
        """Deliver an event to a handler again, as EventBridge's at-least-once delivery sometimes does."""
        sqs = self.client(account, "sqs")
        url = sqs.get_queue_url(QueueName=delivery.queue_name(handler))["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))

    def audit(self, account: str) -> list[dict[str, Any]]:
        ddb = self.client(account, "dynamodb")
        table = self.accounts[account].env.get("SWITCHBOARD_AUDIT_TABLE", "switchboard-audit")
        deserialize = TypeDeserializer().deserialize
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            items.extend({k: deserialize(v) for k, v in item.items()} for item in page["Items"])
        for item in items:
            for key in ("before", "after", "detail"):
                if isinstance(item.get(key), str):
                    item[key] = json.loads(item[key])
        return sorted(items, key=lambda i: i["at"])


def run_in_running_world(root: Path, name: str, module: str, *args: str, workdir: Path | None = None,
                         function: str | None = None) -> str:
    """``World.run_in`` for a world another process serves (`switchboard up`): its endpoints and credentials are
    read from ``.world/world.json`` (``function=None``: the account's operator, the provisioning identity)."""
    state_file = (workdir or root / ".world") / "world.json"
    if not state_file.exists():
        raise WorldError(f"no running local world ({state_file} is missing): start one with `switchboard up`")
    state = json.loads(state_file.read_text())
    accounts = load_accounts(root)
    if name not in accounts or name not in state["accounts"]:
        raise WorldError(f"unknown account {name!r} (known: {', '.join(sorted(state['accounts']))})")
    found = state["accounts"][name]
    credentials = found["functions"][function] if function else found["credentials"]
    return _run_module(root, _account_environ(root, accounts[name], credentials, found["environ"]), module, args,
                       f"{module} in {name} as {function or 'the operator'}")


def _account_environ(root: Path, account: Account, credentials: dict[str, str],
                     world: dict[str, str]) -> dict[str, str]:
    """A process of the account: this process's environment less AWS/Switchboard settings, the stage's variables,
    the given credentials and what the world says about itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env.update(account.env)
    env.update(credentials)
    env.update({"AWS_REGION": account.region, "AWS_DEFAULT_REGION": account.region, **world,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))})
    return env


def _run_module(root: Path, env: dict[str, str], module: str, args: tuple[str, ...] | list[str], what: str,
                refused: Callable[[], str] = lambda: "") -> str:
    """``python -m module args`` in ``env``; its stdout, or WorldError with the end of its stderr."""
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0:
        raise WorldError(f"{what} failed ({done.returncode}){refused()}: {done.stderr.strip()[-500:]}")
    return done.stdout


class _endpoint:
    """Set AWS_ENDPOINT_URL for code that reads it from the environment (provisioning)."""

    def __init__(self, url: str):
        self.url = url
        self.old: str | None = None

    def __enter__(self) -> None:
        self.old = os.environ.get("AWS_ENDPOINT_URL")
        os.environ["AWS_ENDPOINT_URL"] = self.url

    def __exit__(self, *exc: object) -> None:
        if self.old is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = self.old
