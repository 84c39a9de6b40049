"""The daily watch on every secret of the account: what is wrong, per policy, said once a day in Slack.

Findings (``assess`` is pure over a secret's metadata, what policy says about it, and an instant):

    rotation-disabled   the secret must rotate (listed, tagged with a kind, or defaults.rotation_required) but
                        rotation is not enabled on it
    overdue             last rotated (or, never rotated, created) longer ago than its max_age_days
    stuck-pending       AWSPENDING sits on a version that is not AWSCURRENT for longer than pending_stuck_after:
                        every later rotation fails until it is cleared. The watch asks once, with a Slack card,
                        whether to clear it; the click is re-checked here before anything changes (``clear``)
    no-customer-key     policy wants a KMS customer managed key; the secret uses the AWS managed one
    bad-kind            the secret is listed but its kind is missing, or its tag contradicts policy

Secrets owned by another service (RDS-managed master passwords: ``OwningService``) are rotated by that service and
only checked for their key. No secret value is read by the watch; clearing reads the two values it decides on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.observability import logger
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Policy, Role
from chalicelib.rotation import store
from chalicelib.rotation.exceptions import RotationError
from chalicelib.rotation.facts import Facts
from chalicelib.rotation.policy import Effective, RotationSection
from chalicelib.rotation.secrets import (
    AWSCURRENT,
    AWSPENDING,
    SecretStore,
    code_of,
    describe_or_none,
    stages_of,
    tags_of,
)
from chalicelib.state import audit
from chalicelib.timefmt import seconds, shown

CAPABILITY = "rotation"


@dataclass(frozen=True)
class Finding:
    code: str
    secret: str
    message: str
    arn: str = ""
    version: str | None = None  # stuck-pending: the version to clear


def _days(delta: timedelta) -> int:
    return int(delta.total_seconds() // 86400)


def assess(facts: Facts, effective: Effective, section: RotationSection, now: datetime,
           customer_key: bool | None = None) -> list[Finding]:
    """What is wrong with one secret. ``customer_key``: whether its KMS key is customer managed (None: not known,
    only asked when policy demands one)."""
    found: list[Finding] = []

    def add(code: str, message: str, version: str | None = None) -> None:
        found.append(Finding(code, facts.name, message, facts.arn, version))

    if effective.kms_customer_key_required and not customer_key:
        add("no-customer-key", "encrypted with the AWS managed key; policy wants a KMS customer managed key"
            if facts.kms_key_id is None or customer_key is False else
            f"could not tell whether KMS key {facts.kms_key_id} is customer managed")
    if facts.owning_service:
        return found
    if effective.problem:
        add("bad-kind", effective.problem)
    elif effective.listed and effective.kind is None and (effective.rotation_required or facts.rotation_enabled):
        add("bad-kind", "listed for rotation but no kind in policy or tag: the rotation function will refuse it")
    if effective.rotation_required and not facts.rotation_enabled:
        add("rotation-disabled", "rotation is required but not enabled")
    age = facts.age(now)
    if (effective.rotation_required or facts.rotation_enabled) and age is not None and \
            age > timedelta(days=effective.max_age_days):
        when = f"last rotated {_days(age)} days ago" if facts.last_rotated else f"never rotated, created " \
                                                                                 f"{_days(age)} days ago"
        add("overdue", f"{when} (max {effective.max_age_days})")
    stuck_after = timedelta(seconds=seconds(section.pending_stuck_after))
    if facts.pending_stuck(now, stuck_after):
        since = f" since {shown(facts.pending_created)}" if facts.pending_created else ""
        add("stuck-pending", f"version {facts.pending_version} is stuck in AWSPENDING{since}: every later "
                             "rotation fails until it is cleared", facts.pending_version)
    return found


# ---- the daily run ----

def run(now: datetime | None = None, *, store: SecretStore | None = None) -> dict[str, Any]:
    """Look at every secret, audit and announce the findings, ask about stuck versions. Returns the report."""
    current = policies.current()
    section = current.rotation
    if not section.enabled:
        return {"enabled": False, "secrets": 0, "findings": [], "asked": []}
    now = now or datetime.now(UTC)
    store = store or SecretStore()
    keys: dict[str, bool | None] = {}
    findings: list[Finding] = []
    seen: list[Any] = []  # the console's Changes page: each secret's schedule (chalicelib/console/feed.py)
    count = 0
    for meta in store.secrets():
        count += 1
        name = meta.get("Name", "")
        effective = section.effective(name, tags_of(meta))
        pending = any(AWSPENDING in s and AWSCURRENT not in s for s in stages_of(meta).values())
        facts = Facts.of(meta, store.versions(meta["ARN"]) if pending else None)
        customer = _customer_key(facts.kms_key_id, keys) if effective.kms_customer_key_required else None
        findings += assess(facts, effective, section, now, customer)
        if (effective.rotation_required or facts.rotation_enabled) and not facts.owning_service:
            seen.append((facts, effective.max_age_days))
    correlation = f"rotation-watch:{now:%Y-%m-%d}"
    for finding in findings:
        audit.record(action="rotation.watch", target=f"secret/{finding.secret}", outcome=audit.Outcome.FAILED,
                     correlation_id=correlation, capability=CAPABILITY, reason=finding.message,
                     detail={"finding": finding.code, "version": finding.version}, now=now)
    asked = [f.version for f in findings if f.code == "stuck-pending" and _ask_to_clear(current, f, now, correlation)]
    _announce(current, findings, count, correlation)
    audit.record(action="rotation.watch", target="rotation/watch", outcome=audit.Outcome.SUCCEEDED,
                 correlation_id=correlation, capability=CAPABILITY,
                 reason=f"{count} secret(s), {len(findings)} finding(s)", now=now,
                 detail={"findings": [asdict(f) for f in findings][:50], "asked": asked})
    _feed(seen, findings, now)
    logger.info("rotation watch done", extra={"secrets": count, "findings": len(findings)})
    return {"enabled": True, "secrets": count, "findings": [asdict(f) for f in findings], "asked": asked}


def _feed(seen: list[Any], findings: list[Finding], now: datetime) -> None:
    from chalicelib.console import feed, records

    here = feed.here()
    feed.publish(*[feed.build(lambda f=f, days=days: records.rotation_schedule(
        f.name, now, enabled=f.rotation_enabled, every_days=days, last_rotated=f.last_rotated, created=f.created,
        **here)) for f, days in seen[:200]])
    feed.publish(*[feed.build(lambda f=f: records.finding(f.secret, f.code, f.message, now, **here))
                   for f in findings[:200]])


def _customer_key(key_id: str | None, cache: dict[str, bool | None]) -> bool | None:
    if key_id is None:
        return False
    if key_id not in cache:
        try:
            cache[key_id] = aws.client("kms").describe_key(KeyId=key_id)["KeyMetadata"].get("KeyManager") == "CUSTOMER"
        except ClientError as exc:
            logger.warning("cannot describe a secret's KMS key", extra={"key": key_id, "code": code_of(exc)})
            cache[key_id] = None
    return cache[key_id]


def _announce(current: Policy, findings: list[Finding], count: int, correlation: str) -> None:
    from chalicelib.slackkit import announcements, blocks, mrkdwn

    by_channel: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        channel = current.rotation.channel_for(finding.secret, current)
        if channel:
            by_channel[channel].append(finding)
    for channel, mine in sorted(by_channel.items()):
        title = (f"Secret rotation watch in {current.account.environment} ({current.account.name}): "
                 f"{len(mine)} finding(s) in {count} secret(s)")
        lines = [f"• {mrkdwn.code(f.secret, 200)} {mrkdwn.escape(f.code)}: {mrkdwn.safe(f.message, 400)}"
                 for f in sorted(mine, key=lambda f: (f.secret, f.code))]
        announcements.announce(channel=channel, text=mrkdwn.safe(title, 300), blocks=blocks.reply(
            mrkdwn.safe(title, 300), lines), correlation_id=correlation)


def _ask_to_clear(current: Policy, finding: Finding, now: datetime, correlation: str) -> bool:
    """Post one card per stuck version (never twice for the same version)."""
    from chalicelib.decisions import service as approvals

    channel = current.rotation.channel_for(finding.secret, current)
    if channel is None or finding.version is None:
        return False
    _, created = store.mark_once(finding.secret, f"stuck#{finding.version}", now)
    if not created:
        return False
    try:
        decision = approvals.ask(
            capability=CAPABILITY, title=f"clear stuck AWSPENDING of {finding.secret} in "
                                         f"{current.account.environment}",
            summary=f"{finding.message}. Clearing takes AWSPENDING off version {finding.version}, after checking "
                    "that the current value still works (and, for an IAM key, deleting the key made for it).",
            environment=current.account.environment, requester="system", channel=channel, role=Role.OPERATOR,
            subject={"action": "clear-pending", "secret": finding.secret, "arn": finding.arn,
                     "version": finding.version}, correlation_id=correlation)
    except Exception:
        store.forget(finding.secret, f"stuck#{finding.version}")
        raise
    if decision:
        store.RotationItem(store.key(finding.secret), f"stuck#{finding.version}").update(
            actions=[store.RotationItem.decision.set(decision)])
    return True


# ---- clearing a stuck AWSPENDING, after the click ----

@dataclass(frozen=True)
class Cleared:
    cleared: bool
    message: str


def clear(secret: str, version: str, *, now: datetime | None = None, store: SecretStore | None = None) -> Cleared:
    """Take AWSPENDING off ``version`` of ``secret`` if that is still right and safe:

    - it is still AWSPENDING, not AWSCURRENT, and still stuck (a rotation retried since would have finished it);
    - an empty pending version is always safe to clear;
    - otherwise the current value must still work with the target (database, consumer, IAM). If only the pending
      value works, the target has already moved: clearing would strand the current value, so it is refused.
    """
    from chalicelib.rotation import kinds
    from chalicelib.rotation.kinds.base import Target

    current = policies.current()
    now = now or datetime.now(UTC)
    store = store or SecretStore()
    meta = describe_or_none(store, secret)
    if meta is None:
        return Cleared(False, f"{secret} no longer exists")
    stages = stages_of(meta).get(version)
    if stages is None or AWSPENDING not in stages:
        return Cleared(False, f"version {version} of {secret} is no longer AWSPENDING: nothing to clear")
    if AWSCURRENT in stages:
        return Cleared(False, f"version {version} of {secret} has become AWSCURRENT: the rotation finished")
    facts = Facts.of(meta, store.versions(meta["ARN"]))
    if not facts.pending_stuck(now, timedelta(seconds=seconds(current.rotation.pending_stuck_after))):
        return Cleared(False, f"version {version} of {secret} is being rotated right now: not stuck")
    pending = store.value(meta["ARN"], AWSPENDING, version)
    if pending is not None:
        name = meta.get("Name", secret)
        target = Target(arn=meta["ARN"], name=name, policy=current.rotation.effective(name, tags_of(meta)),
                        store=store, version=version)
        try:
            kind = kinds.for_target(target)
            old = store.value(meta["ARN"], AWSCURRENT)
            if old is None:
                return Cleared(False, f"{secret} has no AWSCURRENT value: clear it by hand")
            current_value, pending_value = kind.parse(old.text), kind.parse(pending.text)
            if not kind.works(current_value):
                kind.check_pending(current_value, pending_value)
                if kind.works(pending_value):
                    return Cleared(False, f"the target of {secret} already accepts the pending value and no longer "
                                          f"the current one: finish this rotation (move AWSCURRENT to {version}) "
                                          "instead of clearing it")
                return Cleared(False, f"neither the current nor the pending value of {secret} works: look at it "
                                      "by hand")
            kind.discard(pending_value, current_value)
        except RotationError as exc:
            return Cleared(False, f"not cleared: {exc.reason}")
    store.detach(meta["ARN"], AWSPENDING, version)
    return Cleared(True, f"cleared AWSPENDING from version {version} of {secret}"
                         + ("" if pending is not None else " (it had no value)"))
