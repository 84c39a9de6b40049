"""Fixtures shared by the whole test run.

- Fake credentials and a Switchboard environment are set before anything imports chalicelib.
- ``moto_server``: one moto server on loopback for the whole run; ``aws``: reset it per test and create the
  tables, so every test starts from an empty account.
- ``slack``: the Slack stand-in, reset per test.
- A guard fails any test that opens a connection to anything but loopback (so no test can reach AWS).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from localworld import clock  # noqa: E402
from localworld.emulator import free_port  # noqa: E402
from tests.harness import create_signing_keys, create_tables, reset_caches  # noqa: E402

MOTO_PORT = free_port()
MOTO_URL = f"http://127.0.0.1:{MOTO_PORT}"

for key in [k for k in os.environ if k.startswith(("AWS_", "SWITCHBOARD_"))]:
    del os.environ[key]
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ENDPOINT_URL": MOTO_URL, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "SWITCHBOARD_ACCOUNT_NAME": "prod", "SWITCHBOARD_POLICY_FILE": "policies/prod.yaml",
    "SWITCHBOARD_SIGNING_KEY": "alias/switchboard-signing-prod",
    "SWITCHBOARD_ALLOW_LOOPBACK_HTTP": "true",  # as the local world: its stand-ins listen on loopback
    "POWERTOOLS_METRICS_NAMESPACE": "Switchboard", "POWERTOOLS_SERVICE_NAME": "switchboard",
})
# moto's default account: credentials that are not from sts:AssumeRole act here. The tests' "prod" policy
# uses another id; the intake never compares the caller's account with the policy, so this is harmless.


# ---- the guard: nothing but loopback ----

class NonLoopbackConnection(RuntimeError):
    pass


_violations: list[str] = []
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: object) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0] if isinstance(address, tuple) else str(address)
    if not _is_loopback(str(host)):
        _violations.append(f"{host}")
        raise NonLoopbackConnection(f"a test tried to connect to {address!r}; tests may only reach loopback")


_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    # A name lookup for anything but loopback is itself traffic (to a resolver): refuse it too.
    if host is not None and not _is_loopback(host.decode() if isinstance(host, bytes) else str(host)):
        try:
            ipaddress.ip_address(str(host))  # a literal address needs no resolver; connect() decides
        except ValueError:
            _violations.append(str(host))
            raise NonLoopbackConnection(f"a test tried to resolve {host!r}; tests may only reach loopback") from None
    return _real_getaddrinfo(host, *args, **kwargs)


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture
def network_guard():
    """The guard itself, for the tests that prove it works."""
    from types import SimpleNamespace

    return SimpleNamespace(error=NonLoopbackConnection, violations=_violations)


@pytest.fixture(autouse=True)
def _no_network_escape():
    before = len(_violations)
    yield
    escaped = _violations[before:]
    del _violations[before:]
    if escaped:
        pytest.fail(f"test tried to reach non-loopback address(es): {escaped}")


# ---- the clock: every test runs on a freshly booted machine ----

@pytest.fixture(autouse=True)
def fresh_boot_clock():
    """``time.monotonic()`` reads about 0.5 s when each test starts, as on a machine booted a moment ago or in a
    new Lambda microVM: a cache that takes "never filled" for fresh fails a test (localworld/clock.py).
    Its own MonkeyPatch: the test's ``monkeypatch`` must still be undone before the other fixtures' teardown."""
    booted = clock.booted()
    patch = pytest.MonkeyPatch()
    clock.install(booted, patch.setattr)
    yield booted
    patch.undo()


# ---- moto ----

@pytest.fixture(scope="session")
def moto_server():
    from localworld.emulator import Emulator

    server = Emulator(MOTO_PORT).start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server):
    """An empty emulated account with Switchboard's tables, fresh for each test."""
    moto_server.reset()
    reset_caches()
    create_tables()
    create_signing_keys()
    yield moto_server
    reset_caches()


# ---- Slack ----

@pytest.fixture(scope="session")
def _slack_server():
    from localworld.slack_standin import SlackStandIn

    server = SlackStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def slack(_slack_server):
    _slack_server.reset()
    yield _slack_server


# ---- the Slack front door (shared-services) ----

@pytest.fixture
def front(aws, slack, monkeypatch):
    """The shared-services account (the front door), with the Slack secret, directory and a lazy runner."""
    from chalice.test import Client

    from chalicelib.frontdoor import http
    from localworld.lambda_runner import LocalLambdaClient
    from tests.frontdoor_kit import Slack, app_for, directory, put_slack_secret

    monkeypatch.setenv("SWITCHBOARD_SLACK_API_URL", slack.api_url)
    front_door = app_for(monkeypatch, "shared-services")  # app.py as the front door imports it: Slack routes
    reset_caches()
    put_slack_secret()
    slack.reset(directory=True)
    directory(slack)
    runner = LocalLambdaClient(front_door.app, asynchronous=False)
    http.use_lambda_client(runner)
    with Client(front_door.app, stage_name="shared-services", project_dir=str(ROOT)) as client:
        kit = Slack(client, slack, runner=runner, app=front_door)
        yield kit


@pytest.fixture
def bus(front):
    """Capture what the front door puts on its bus (a rule on source=switchboard -> an SQS queue)."""
    from tests.harness import capture_switchboard_events

    return capture_switchboard_events("captured")
