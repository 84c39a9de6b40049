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


class _TableCopiesSkipped:
    """``moto.dynamodb.models``' ``copy`` module, except that inside a transaction run by
    ``per_item_transactions`` a deep copy of a whole ``Table`` is the table itself (its touched items are saved
    instead). Every other copy is the real one."""

    def __init__(self, real):  # type: ignore[no-untyped-def]
        self._real = real

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._real, name)

    def deepcopy(self, value, memo=None):  # type: ignore[no-untyped-def]
        from moto.dynamodb.models.table import Table

        if getattr(_in_transaction, "on", False) and isinstance(value, Table):
            return value
        return self._real.deepcopy(value, memo)


_in_transaction = threading.local()


def per_item_transactions() -> None:
    """moto backs up every table a transaction names (a deep copy of the whole table, once per action naming it,
    also when the transaction succeeds) to put it back if an action fails: each transaction costs the size of its
    tables, where DynamoDB's costs two writes per item. Here moto's own transaction runs unchanged (its checks,
    its order, its ``TransactionCanceledException`` and cancellation reasons), but the backup is of the items the
    transaction touches only (and the length of the table's stream), put back exactly when moto would swap the
    tables back: all or nothing as before, at the cost of the items written."""
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "_switchboard_per_item", False):
        return
    if not isinstance(models.copy, _TableCopiesSkipped):
        models.copy = _TableCopiesSkipped(models.copy)

    @functools.wraps(original)
    def transact_write_items(self, transact_items, *args, **kwargs):  # type: ignore[no-untyped-def]
        with _write_lock:  # the items saved are the items the transaction meets: no write in between
            saved = _save_touched(self, transact_items)
            _in_transaction.on = True
            try:
                return original(self, transact_items, *args, **kwargs)
            except BaseException:
                _restore(saved)
                raise
            finally:
                _in_transaction.on = False

    transact_write_items._switchboard_per_item = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items


def _save_touched(backend, transact_items) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    """Each item an action names, as it is now (a deep copy: moto updates items in place), and each table's
    stream length. An action moto cannot place (no such table, a key missing) writes nothing: nothing to save."""
    import copy

    items, streams = [], {}
    for action in transact_items if isinstance(transact_items, list) else []:
        for op in action.values() if isinstance(action, dict) else []:
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            slot = _slot(table, op.get("Item", op.get("Key"))) if table is not None else None
            if slot is None:
                continue
            hash_key, range_key = slot
            if range_key is None:
                current, had_partition = table.items.get(hash_key), True
            else:
                partition = table.items.get(hash_key)
                current, had_partition = (partition or {}).get(range_key), partition is not None
            items.append((table, hash_key, range_key, copy.deepcopy(current), had_partition))
            if table.stream_shard is not None and id(table) not in streams:
                streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
    return items, list(streams.values())


def _slot(table, key):  # type: ignore[no-untyped-def]
    """The item's place in moto's table (hash key, range key or None), or None when moto cannot read the key."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        return (DynamoType(key[table.hash_key_attr]),
                DynamoType(key[table.range_key_attr]) if table.range_key_attr else None)
    except Exception:  # noqa: BLE001 - a key moto cannot read: it refuses the action itself, writing nothing
        return None


def _restore(saved: tuple[list, list]) -> None:
    """Put every saved item back as it was (absent ones removed), newest save first, and drop the stream records
    the transaction added."""
    items, streams = saved
    for table, hash_key, range_key, item, had_partition in reversed(items):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
            continue
        if item is not None:
            table.items[hash_key][range_key] = item
            continue
        partition = table.items.get(hash_key)
        if partition is not None:
            partition.pop(range_key, None)
            if not partition and not had_partition:
                del table.items[hash_key]
    for shard, length in streams:
        del shard.items[length:]


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
        per_item_transactions()
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
