"""An organisation simulator: N emulated sender accounts talking to ONE front door, against Slack's limits.

    switchboard simulate --accounts N --rate R [--updates U] [--workers W] [--json]

What is real: the front door's code end to end. Each event is a peer envelope sealed by its account with that
account's own P-256 key (``localworld.keys``: one per account, derived from its id) and pinned in the front door's
policy written for the run; the front door's intake (``intake.handle(Kind.PEER, ...)``, as ``app.on_peer`` calls it)
verifies the signature, remembers the envelope (replay ledger), runs the ledger and the front door's handler, which
commits each card version and sends it (``cardq``) within the send budget; the card drain (``slack_cards``, whose
passes are ``cardq.drain``) sends what waited. Slack is the stand-in with Slack's rate limits on
(``localworld/slack/limits.py``); DynamoDB, KMS and Secrets Manager are moto's server.

What is emulated: the senders (one process emulates all N accounts: each seals its events as its Switchboard would;
the recipient's handlers are the real ones), EventBridge's delivery (a pool of ``W`` workers, as concurrent Lambda
invocations of ``on_peer``; deliveries may arrive out of order, as EventBridge's do), and the fan-out commands'
peers (each account's answer to ``/ops status web`` is a signed ``reply`` envelope, as its Switchboard sends it).

The storm: every account's alarm card goes through ``U`` versions (firing, escalated, ..., resolved); one account
in five also promotes a build (a promotion card of 5 versions); one ``/ops status web`` per 250 accounts (at least
one) fans out to every account and is answered once. Events are offered at ``R`` a second in total.

It reports: events per second held; Slack calls per channel per second (max, against Slack's limit); the lag from
an account's change to its card showing that version (or a newer one) in Slack (p50/p99/max); messages lost (a card
whose newest version Slack does not show, a fan-out without its one answer, an event the intake did not process:
must be 0); and the hottest DynamoDB partition's share of writes.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FRONT_DOOR = "shared-services"
FRONT_DOOR_ID = "111122223333"
ACCOUNT_BASE = 500_000_000_000
CARD = re.compile(r"\[card (?P<origin>[a-z0-9-]+) (?P<key>\S+) v(?P<version>\d+)\]")
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
CHAT_WRITES = ("chat.postMessage", "chat.update", "chat.delete")


def card_outcomes(messages: list[tuple[str, bool]], newest: dict[tuple[str, str], int],
                  still_queued: set[tuple[str, str]]) -> tuple[int, list[str]]:
    """What Slack ends up showing for each card, from the stand-in's messages ((text, deleted), oldest first):
    (how many cards are late: still queued, not lost; what is wrong). A card must end as exactly one message that
    is not deleted, showing its newest version; a deleted message (a duplicate first post the card queue took back)
    shows nothing."""
    shown: dict[tuple[str, str], list[int]] = {}
    for text, deleted in messages:
        found = CARD.search(text or "")
        if found and not deleted:
            shown.setdefault((found["origin"], found["key"]), []).append(int(found["version"]))
    late, wrong = 0, []
    for card, want in newest.items():
        versions = shown.get(card, [])
        if len(versions) > 1:
            wrong.append(f"{card[0]} {card[1]}: {len(versions)} messages in Slack (v{', v'.join(map(str, versions))})")
        elif versions != [want] and card in still_queued:
            late += 1  # committed and waiting for Slack's budget: late, not lost
        elif versions != [want]:
            wrong.append(f"{card[0]} {card[1]}: Slack shows {'v' + str(versions[0]) if versions else 'nothing'}, "
                         f"newest v{want}")
    return late, wrong


@dataclass
class Report:
    accounts: int
    offered_rate: float
    events: int
    events_per_second: float
    intake_seconds: float
    settle_seconds: float
    slack_calls: int
    slack_429: int
    max_calls_per_channel_second: int
    channel_limit: str
    channels: int
    lag_p50: float
    lag_p99: float
    lag_max: float
    lost: int
    lost_detail: list[str] = field(default_factory=list)
    late: int = 0  # cards whose newest version was still queued when the run stopped waiting (not lost: queued)
    superseded: int = 0
    dynamodb_writes: int = 0
    hottest_partition: str = ""
    hottest_share: float = 0.0
    fanouts: int = 0
    fanout_replies: int = 0
    older_over_newer: int = 0  # Slack showed a card's version after a newer one (must be 0)

    def lines(self) -> list[str]:
        return [
            f"accounts {self.accounts}, offered {self.offered_rate:g} events/s: {self.events} events "
            f"({self.superseded} older versions superseded)",
            f"events/s held          {self.events_per_second:.1f}  (intake {self.intake_seconds:.1f} s, "
            f"settled {self.settle_seconds:.1f} s later)",
            f"Slack calls            {self.slack_calls} ({self.slack_429} answered 429) in {self.channels} channels",
            f"calls/channel/second   max {self.max_calls_per_channel_second} (Slack: {self.channel_limit})",
            f"change -> card lag     p50 {self.lag_p50:.2f} s, p99 {self.lag_p99:.2f} s, max {self.lag_max:.2f} s",
            f"fan-out commands       {self.fanouts}: {self.fanout_replies} aggregated replies (one each)",
            f"older over newer       {self.older_over_newer}",
            f"still queued at stop   {self.late}",
            f"messages lost          {self.lost}" + (f": {'; '.join(self.lost_detail[:5])}" if self.lost else ""),
            f"hottest partition      {self.hottest_share:.1%} of {self.dynamodb_writes} writes "
            f"({self.hottest_partition})",
        ]


def account_name(i: int) -> str:
    return f"acct-{i:04d}"


def account_id(i: int) -> str:
    return str(ACCOUNT_BASE + i)


def channel_of(i: int) -> str:
    return f"#team-{i // 5:03d}"  # five accounts per team channel


# ---- the world for a run ----

class World:
    """moto, the rate-limited Slack stand-in, and the front door's environment, policy and tables."""

    def __init__(self, accounts: int, *, limits: Any = None, moto_url: str | None = None) -> None:
        from localworld.emulator import Emulator, free_port
        from localworld.slack import Limits, SlackStandIn

        self.accounts = accounts
        self.tmp = Path(tempfile.mkdtemp(prefix="switchboard-simulate-"))
        self.moto = None
        if moto_url is None:  # our own moto, its address known before chalicelib's models read it
            port = free_port()
            self.moto_url = f"http://127.0.0.1:{port}"
            os.environ["AWS_ENDPOINT_URL"] = self.moto_url
            self.moto = Emulator(port).start()
        else:  # one already serving (the tests'), reset by its owner
            self.moto_url = moto_url
        self.slack = SlackStandIn(limits=limits or Limits()).start()
        self.policy_file = self.tmp / "shared-services.yaml"
        self._write_policy()
        self._saved = {k: os.environ.get(k) for k in self._environ()}
        os.environ.update(self._environ())
        self._reset_caches()
        self._create()

    def _environ(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "SWITCHBOARD_ACCOUNT_NAME": FRONT_DOOR, "SWITCHBOARD_POLICY_FILE": str(self.policy_file),
            "SWITCHBOARD_SLACK_API_URL": self.slack.api_url, "SWITCHBOARD_SIGNING_KEY": "alias/switchboard-signing",
            "SWITCHBOARD_ALLOW_LOOPBACK_HTTP": "true", "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_NAMESPACE": "Switchboard", "POWERTOOLS_SERVICE_NAME": "switchboard",
            "POWERTOOLS_METRICS_DISABLED": "true"}

    def _write_policy(self) -> None:
        """The front door's shipped policy, with every emulated account as a peer and its public key pinned."""
        import yaml

        from localworld import keys

        doc = yaml.safe_load((ROOT / "chalicelib" / "policies" / f"{FRONT_DOOR}.yaml").read_text())
        for i in range(self.accounts):
            doc["peers"][account_name(i)] = {
                "id": account_id(i), "environment": "prod", "public_key": keys.demo_public_pem(account_id(i)),
                "send": ["command", "approval-result"], "receive": ["reply", "announce"]}
        self.policy_file.write_text(yaml.safe_dump(doc, sort_keys=False))

    @staticmethod
    def _reset_caches() -> None:
        from chalicelib import aws, settings
        from chalicelib.policy import loader as policy
        from chalicelib.slackkit import slack
        from chalicelib.state import ledger

        aws.reset()
        ledger.reset()
        settings.get_settings.cache_clear()
        policy.current.cache_clear()
        slack._provider.cache_clear()

    def _create(self) -> None:
        import boto3

        from chalicelib.settings import get_settings
        from chalicelib.state.models import AuditEntry, StateItem
        from localworld import keys
        from localworld.slack_user import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET

        settings = get_settings()
        client = boto3.client("dynamodb", endpoint_url=self.moto_url)
        existing = set(client.list_tables()["TableNames"])
        for model in (AuditEntry, StateItem):
            if model.Meta.table_name not in existing:
                model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        if settings.ledger_table not in existing:
            client.create_table(TableName=settings.ledger_table, BillingMode="PAY_PER_REQUEST",
                                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        if settings.console_table not in existing:
            client.create_table(TableName=settings.console_table, BillingMode="PAY_PER_REQUEST",
                                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                      {"AttributeName": "sk", "AttributeType": "S"}])
        kms = boto3.client("kms", endpoint_url=self.moto_url)
        keys.create(kms, "123456789012", "eu-west-1", for_account=FRONT_DOOR_ID)
        boto3.client("secretsmanager", endpoint_url=self.moto_url).create_secret(
            Name="switchboard/slack",
            SecretString=json.dumps({"signing_secret": LOCAL_SIGNING_SECRET, "bot_token": LOCAL_BOT_TOKEN}))

    def close(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._reset_caches()
        self.slack.stop()
        if self.moto is not None:
            self.moto.stop()


# ---- the senders ----

class Sender:
    """One emulated account's Switchboard: seals its events with its own key, as ``peering.send`` does with KMS."""

    def __init__(self, i: int) -> None:
        from localworld import keys

        self.name, self.id = account_name(i), account_id(i)
        self._key = keys.demo_private_key(self.id)

    def sign(self, digest: bytes) -> tuple[bytes, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        # KMS's RAW ECDSA_SHA_256 signs SHA-256(message); the message here is the envelope's digest (envelope.py)
        return self._key.sign(digest, ec.ECDSA(hashes.SHA256())), f"arn:aws:kms:eu-west-1:{self.id}:key/sim"

    def event(self, flow: str, payload: dict[str, Any]) -> dict[str, Any]:
        from datetime import UTC, datetime

        from chalicelib.peering import envelope

        detail = envelope.seal(sender=self.id, from_account=self.name, recipient=FRONT_DOOR_ID, flow=flow,
                               payload=payload, now=datetime.now(UTC), sign=self.sign)
        return {"version": "0", "id": detail["envelope"]["id"], "detail-type": f"Switchboard {flow}",
                "source": "switchboard", "account": self.id, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": "eu-west-1", "resources": [], "detail": detail}


@dataclass
class Planned:
    at: float  # seconds after the start: when the account changed
    sender: int
    flow: str
    payload: dict[str, Any]
    card: tuple[str, str, int] | None = None  # (origin, key, version)


def fanout_ids(accounts: int) -> list[str]:
    return [f"sim-status-web-{n}" for n in range(max(1, accounts // 250))]


def plan(accounts: int, rate: float, updates: int, seed: int = 7) -> list[Planned]:
    """The storm, as plain data: who changes what when (events offered at ``rate`` a second in total)."""
    rng = random.Random(seed)
    cards: list[list[Planned]] = []
    for fanout_id in fanout_ids(accounts):  # every account answers each `/ops status web` (a signed reply)
        cards += [[Planned(0.0, i, "reply", {"reply_to": fanout_id,
                                             "text": f"web in {account_name(i)}: 1.{i}.0 running, 2 tasks"})]
                  for i in range(accounts)]
    for i in range(accounts):
        name, channel = account_name(i), channel_of(i)
        series = [("incident/web-5xx", updates)]
        if i % 5 == 0:
            series.append((f"promotion/web/{i:07x}", 5))
        for key, versions in series:
            cards.append([Planned(0.0, i, "announce", {
                "channel": channel, "text": f"[card {name} {key} v{v}] {key} in {name}: step {v} of {versions}",
                "blocks": [], "correlation_id": f"{name}-{key}-{v}", "key": key, "version": v},
                (name, key, v)) for v in range(1, versions + 1)])
    # interleave the cards' series (each in its own order), then let deliveries overtake each other a little
    events: list[Planned] = []
    cursors = [0] * len(cards)
    live = list(range(len(cards)))
    while live:
        c = rng.choice(live)
        events.append(cards[c][cursors[c]])
        cursors[c] += 1
        if cursors[c] == len(cards[c]):
            live.remove(c)
    for n in range(len(events) - 1):
        if rng.random() < 0.1:  # EventBridge does not keep order
            events[n], events[n + 1] = events[n + 1], events[n]
    for n, event in enumerate(events):
        event.at = n / rate
    return events


# ---- measuring ----

class Meter:
    """DynamoDB writes per partition (every botocore client in this process) and Slack's accepted calls."""

    def __init__(self) -> None:
        self.writes: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def install(self) -> Any:
        import botocore.client

        real = botocore.client.BaseClient._make_api_call
        meter = self

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name == "dynamodb":
                meter.count(operation, params)
            return real(client, operation, params)

        botocore.client.BaseClient._make_api_call = counted
        return lambda: setattr(botocore.client.BaseClient, "_make_api_call", real)

    def count(self, operation: str, params: dict[str, Any]) -> None:
        items: list[tuple[str, dict[str, Any]]] = []
        if operation in WRITES:
            items.append((params.get("TableName", "?"), params.get("Key") or params.get("Item") or {}))
        elif operation == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                for body in entry.values():
                    items.append((body.get("TableName", "?"), body.get("Key") or body.get("Item") or {}))
        elif operation == "BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    body = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key")
                    items.append((table, body or {}))
        with self._lock:
            for table, key in items:
                self.writes[(table, partition_of(key))] += 1


def partition_of(key: dict[str, Any]) -> str:
    for name in ("pk", "id", "target"):
        if name in key:
            value = key[name]
            return str(value.get("S", value) if isinstance(value, dict) else value)
    return "?"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# ---- the run ----

def run(accounts: int, rate: float, *, updates: int = 4, workers: int = 8, settle_timeout: float | None = None,
        limits: Any = None, progress: Any = None, moto_url: str | None = None) -> Report:
    import logging
    import warnings

    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # no EMF lines on stdout (the report is the output)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request from moto's server
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    for name, value in (("accounts", accounts), ("rate", rate), ("updates", updates), ("workers", workers)):
        if value <= 0:
            raise ValueError(f"--{name} must be positive, not {value}")
    world = World(accounts, limits=limits, moto_url=moto_url)
    meter = Meter()
    uninstall = meter.install()
    try:
        return _run(world, meter, accounts, rate, updates, workers, settle_timeout, progress)
    finally:
        uninstall()
        world.close()


def _run(world: World, meter: Meter, accounts: int, rate: float, updates: int, workers: int,
         settle_timeout: float | None, progress: Any) -> Report:
    from chalicelib.intake.pipeline import Kind, handle
    from chalicelib.slackkit import cardq
    from localworld.instance import LambdaContext

    say = progress or (lambda _line: None)
    superseded = Counter[str]()
    real_commit = cardq.commit

    def commit(*args: Any, **kwargs: Any) -> bool:
        admitted = real_commit(*args, **kwargs)
        superseded["n"] += not admitted
        return admitted

    cardq.commit = commit
    senders = [Sender(i) for i in range(accounts)]
    events = plan(accounts, rate, updates)
    newest: dict[tuple[str, str], int] = {}
    for e in events:
        if e.card:
            newest[e.card[:2]] = max(newest.get(e.card[:2], 0), e.card[2])
    shown: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)  # card -> [(when, version)]
    lock = threading.Lock()

    def on_call(call: Any) -> None:
        if call.status != 200 or call.method not in ("chat.postMessage", "chat.update"):
            return
        found = CARD.search(str(call.body.get("text", "")))
        if found:
            with lock:
                shown[(found["origin"], found["key"])].append((call.at, int(found["version"])))

    world.slack.on_call = on_call
    work: queue.Queue[Planned | None] = queue.Queue()
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    start = time.time() + 0.5
    changed_at: dict[tuple[str, str, int], float] = {}

    def worker() -> None:
        while True:
            item = work.get()
            if item is None:
                return
            delay = start + item.at - time.time()
            if delay > 0:
                time.sleep(delay)
            if item.card:
                changed_at[item.card] = time.time()

            raw = senders[item.sender].event(item.flow, item.payload)
            try:
                outcome = handle(Kind.PEER, raw, LambdaContext("on_peer"))
                with lock:
                    outcomes[str(outcome.get("outcome"))] += 1
                    if outcome.get("outcome") != "processed":
                        failures.append(f"{item.card}: {outcome.get('reason') or outcome}")
            except Exception as exc:  # noqa: BLE001 - counted as lost unless a retry delivers it (none here)
                with lock:
                    outcomes["raised"] += 1
                    failures.append(f"{item.card}: {type(exc).__name__}: {exc}")

    stop_drain = threading.Event()

    def drainer() -> None:  # the card drain (slack_cards), as its runs pace it (here: all the time)
        while not stop_drain.is_set():
            try:
                result = cardq.drain()
            except Exception:  # noqa: BLE001 - logged by cardq; keep draining
                result = None
            # as a schedule would, not back to back: each pass queries the queue (moto scans the table for it)
            stop_drain.wait(0.2 if result is not None and result.sent else 0.5)

    from datetime import timedelta

    from chalicelib.frontdoor import fanout

    response_urls = {}
    for fanout_id in fanout_ids(accounts):  # what commands.handle does for a command resolved to every account
        response_urls[fanout_id] = world.slack.response_url(fanout_id)
        fanout.begin(fanout_id, expected=[account_name(i) for i in range(accounts)],
                     response_url=response_urls[fanout_id], title="/ops status web", user="U0DAVE0001",
                     deadline=timedelta(minutes=30))
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    drain_thread = threading.Thread(target=drainer, daemon=True)
    for e in events:
        work.put(e)
    for _ in threads:
        work.put(None)
    say(f"{accounts} accounts, {len(events)} events offered at {rate:g}/s")
    for t in threads:
        t.start()
    drain_thread.start()
    for t in threads:
        t.join()
    intake_done = time.time()
    intake_seconds = intake_done - start
    say(f"intake done in {intake_seconds:.1f} s; waiting for Slack to show every card's newest version")

    def settled() -> bool:
        if any(not world.slack.responses(url) for url in response_urls.values()):
            return False
        with lock:
            return all(any(v >= want for _, v in shown.get(card, ())) for card, want in newest.items())

    limit = settle_timeout if settle_timeout is not None else max(120.0, len(newest) * 2.0)
    deadline = time.time() + limit
    while not settled() and time.time() < deadline:
        time.sleep(0.25)
    settle_seconds = time.time() - intake_done
    stop_drain.set()
    drain_thread.join(timeout=30)

    # lag: from each change to the first Slack call that shows that version or a newer one of its card
    lags = []
    with lock:
        for (origin, key, version), at in changed_at.items():
            seen = [when for when, v in shown.get((origin, key), ()) if v >= version]
            if seen:
                lags.append(max(0.0, min(seen) - at))
    lost_detail = list(failures)
    still_queued = {(origin, key) for origin, key, _, _ in cardq.queued(limit=100_000)}
    late, wrong = card_outcomes([(m.text, m.deleted) for m in world.slack.messages()], newest, still_queued)
    lost_detail += wrong
    cardq.commit = real_commit
    with lock:
        older_over_newer = sum(1 for seq in shown.values()
                               for (_, a), (_, b) in zip(seq, seq[1:], strict=False) if b < a)
    fanout_replies = 0
    for fanout_id, url in response_urls.items():
        answers = world.slack.responses(url)
        fanout_replies += len(answers)
        whole = f"{accounts} of {accounts} accounts answered"
        if len(answers) != 1 or whole not in answers[0].get("text", ""):
            lost_detail.append(f"fan-out {fanout_id}: {len(answers)} replies "
                               f"({answers[0].get('text', '') if answers else 'none'})")

    per_channel_second: Counter[tuple[str, int]] = Counter()
    for call in world.slack.calls:
        if call.method in CHAT_WRITES and call.status == 200:
            per_channel_second[(str(call.response.get("channel")), int(call.at))] += 1
    chat_calls = [c for c in world.slack.calls if c.method in CHAT_WRITES]
    total_writes = sum(meter.writes.values())
    (hot_table, hot_pk), hot = meter.writes.most_common(1)[0] if meter.writes else (("", ""), 0)
    limits = world.slack.limiter.limits
    return Report(
        accounts=accounts, offered_rate=rate, events=len(events),
        events_per_second=len(events) / intake_seconds if intake_seconds > 0 else 0.0,
        intake_seconds=intake_seconds, settle_seconds=settle_seconds,
        slack_calls=len(chat_calls), slack_429=sum(1 for c in chat_calls if c.status == 429),
        max_calls_per_channel_second=max(per_channel_second.values(), default=0),
        channel_limit=f"{limits.channel_per_second:g}/s per channel, bursts of {limits.channel_burst}",
        channels=len({ch for ch, _ in per_channel_second}),
        lag_p50=percentile(lags, 50), lag_p99=percentile(lags, 99), lag_max=max(lags, default=0.0),
        lost=len(lost_detail), lost_detail=lost_detail, late=late,
        superseded=superseded["n"],
        dynamodb_writes=total_writes, hottest_partition=f"{hot_table} {hot_pk}",
        hottest_share=hot / total_writes if total_writes else 0.0,
        fanouts=len(response_urls), fanout_replies=fanout_replies, older_over_newer=older_over_newer)


def main(args: Any) -> int:
    report = run(args.accounts, args.rate, updates=args.updates, workers=args.workers,
                 settle_timeout=getattr(args, "settle_timeout", None),
                 progress=None if args.json else lambda line: print(f"  {line}", flush=True))
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        for line in report.lines():
            print(line)
    return 0 if report.lost == 0 and report.older_over_newer == 0 else 1
