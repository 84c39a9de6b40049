"""moto's server on a free loopback port, and credentials that act in one emulated account.

moto maps the credentials that ``sts:AssumeRole`` returns to the role's account, so each Switchboard
instance gets credentials for its own account exactly as it would on AWS.
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
import warnings
from dataclasses import dataclass

import boto3
import requests

BOOTSTRAP_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# and the reads that walk a table's items: moto's query and scan iterate the dict a concurrent write changes
_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "query", "scan")
_write_lock = threading.RLock()


def serialise_dynamodb_writes() -> None:
    """DynamoDB applies each conditional write atomically; moto reads, checks and writes without a lock, so two
    concurrent conditional updates (two clicks on one approval) can both pass their condition in the threaded
    server. One lock around moto's item writes restores the atomicity conditional writes rely on. Queries and scans
    take it too: moto's walk over a table's items fails (a 500) when a write changes them meanwhile."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_switchboard_serialised", False):
            continue

        @functools.wraps(original)
        def locked(self, *args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            with _write_lock:
                return _original(self, *args, **kwargs)

        locked._switchboard_serialised = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, locked)


class Emulator:
    """moto's ThreadedMotoServer bound to 127.0.0.1 only."""

    def __init__(self, port: int = 0):
        from moto.server import ThreadedMotoServer

        self.port = port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        # One log line per AWS request drowns everything else; errors still show.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Resource types moto's CloudFormation skips are filled through the API by provision.py, which
        # reports each one; moto's own warning about them would only repeat that.
        logging.getLogger("moto").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message=r"Tried to parse AWS::\S+ but it's not supported",
                                category=UserWarning)
        # moto stores pipelines but does not run them: CodePipeline executions are emulated in-process.
        from localworld import codepipeline

        codepipeline.install()
        serialise_dynamodb_writes()
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=30).raise_for_status()


@dataclass(frozen=True)
class Credentials:
    account_id: str
    access_key_id: str
    secret_access_key: str
    session_token: str

    def environ(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_SESSION_TOKEN": self.session_token}


def assume(endpoint_url: str, account_id: str, region: str, role: str = "switchboard-local",
           session_name: str = "switchboard") -> Credentials:
    """Credentials of ``role`` in the account (moto maps them to it; with access control on, to its policies).
    Called before access control is switched on (localworld.iam.enforce): moto then checks no trust policy."""
    sts = boto3.client("sts", endpoint_url=endpoint_url, region_name=region,
                       aws_access_key_id=BOOTSTRAP_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=BOOTSTRAP_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}",
                            RoleSessionName=session_name)["Credentials"]
    return Credentials(account_id, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def session_for(creds: Credentials, region: str) -> boto3.Session:
    return boto3.Session(aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
                         aws_session_token=creds.session_token, region_name=region)
