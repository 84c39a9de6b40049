"""``/ops rotate <secret>``: start a rotation now (operator role, checked by the front door before this runs).

In an environment listed in ``rotation.approval`` (default: prod) it asks for an approver in Slack instead, and the
rotation starts when someone allowed approves (``decisions.py``). Before asking and again before starting: the
secret exists, rotation is enabled on it with a rotation function, its kind is known, no rotation of it is under
way or stuck, no freeze window is in force and no paired secret is rotating (``gates``). Starting is Secrets
Manager's RotateSecret with a version id derived from the request, so a retried request starts nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.decisions import service as approvals
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Policy
from chalicelib.rotation import gates
from chalicelib.rotation.facts import Facts
from chalicelib.rotation.secrets import AWSPENDING, SecretStore, describe_or_none, stages_of, tags_of
from chalicelib.slackkit import blocks, mrkdwn
from chalicelib.slackkit.commands import Answer, Asked, Command, executes
from chalicelib.state import audit
from chalicelib.timefmt import seconds

CAPABILITY = "rotation"
TOKENS = uuid.UUID("5b0e3f52-7c1e-4f0a-9a53-0d6f2a1c9e77")  # namespace of the version ids /ops rotate derives


@dataclass(frozen=True)
class Started:
    ok: bool
    message: str
    version: str | None = None


def problem(name: str, current: Policy, now: datetime, store: SecretStore) -> tuple[str | None, dict[str, Any] | None]:
    """Why ``name`` cannot start rotating now (or None), and its metadata."""
    env = current.account.environment
    meta = describe_or_none(store, name)
    if meta is None:
        return f"there is no secret {name} in {env}", None
    secret = meta.get("Name", name)
    effective = current.rotation.effective(secret, tags_of(meta))
    if effective.problem:
        return effective.problem, meta
    if effective.kind is None:
        return f"{secret} has no kind in policy or tag: Switchboard does not know how to rotate it", meta
    if not meta.get("RotationEnabled") or not meta.get("RotationLambdaARN"):
        return f"rotation is not enabled for {secret}: configure it with Switchboard's rotation function first", meta
    pending = any(AWSPENDING in s for s in stages_of(meta).values())
    facts = Facts.of(meta, store.versions(meta["ARN"]) if pending else None)
    stuck_after = timedelta(seconds=seconds(current.rotation.pending_stuck_after))
    if facts.rotating(now, stuck_after):
        return f"a rotation of {secret} is already under way (version {facts.pending_version})", meta
    if facts.pending_stuck(now, stuck_after):
        return (f"version {facts.pending_version} of {secret} is stuck in AWSPENDING: clear it first (the rotation "
                "watch offers a button)"), meta
    return gates.may_start(current, secret, now, gates.facts_from(store)), meta


def started_by(meta: dict[str, Any] | None, token_seed: str) -> str:
    """The version id a request (or decision) starts: the same one however often it is retried."""
    return str(uuid.uuid5(TOKENS, f"{(meta or {}).get('ARN', '')}:{token_seed}"))


def start(name: str, *, requester: str, approver: str | None, token_seed: str, correlation_id: str,
          now: datetime | None = None, store: SecretStore | None = None) -> Started:
    """Check again, then RotateSecret with a version id derived from ``token_seed`` (the request or decision)."""
    current = policies.current()
    now = now or datetime.now(UTC)
    store = store or SecretStore()
    reason, meta = problem(name, current, now, store)
    secret = (meta or {}).get("Name", name)
    token = started_by(meta, token_seed)
    if meta is not None and token in stages_of(meta):  # this very request (or decision) already started it
        return Started(True, f"the rotation of {secret} was already started (version {token})", token)
    if reason is not None:
        audit.record(action="rotation.rotate", target=f"secret/{secret}", outcome=audit.Outcome.REFUSED,
                     correlation_id=correlation_id, capability=CAPABILITY, actor=requester, reason=reason,
                     detail={"approver": approver}, now=now)
        return Started(False, f"not started: {reason}")
    assert meta is not None
    version = store.start_rotation(meta["ARN"], token, meta["RotationLambdaARN"])
    audit.record(action="rotation.rotate", target=f"secret/{secret}", outcome=audit.Outcome.SUCCEEDED,
                 correlation_id=correlation_id, capability=CAPABILITY, actor=requester,
                 reason=f"started version {version}", detail={"approver": approver, "version": version}, now=now)
    return Started(True, f"rotation of {secret} started (version {version})", version)


@executes("rotate")
def rotate(cmd: Command, environment: str, asked: Asked, current: Policy, *, now: datetime | None = None) -> Answer:
    name = str(cmd.args["secret"])
    now = now or datetime.now(UTC)
    store = SecretStore()
    reason, meta = problem(name, current, now, store)
    secret = (meta or {}).get("Name", name)
    if meta is not None and started_by(meta, asked.request_id) in stages_of(meta):
        reason = None  # a retried request: start() says it was already started
    if reason is not None:
        audit.record(action="rotation.rotate", target=f"secret/{secret}", outcome=audit.Outcome.REFUSED,
                     correlation_id=asked.request_id, capability=CAPABILITY, actor=asked.user, reason=reason, now=now)
        text = f"Cannot rotate {secret} in {environment}: {reason}"
        return Answer(mrkdwn.safe(text), blocks.error(text, None))
    if environment in current.rotation.approval:
        channel = current.rotation.channel_for(secret, current)
        if channel is None:
            text = f"Rotating {secret} in {environment} needs an approver, and policy names no channel to ask in"
            return Answer(mrkdwn.safe(text), blocks.error(text, None))
        decision = approvals.ask(
            capability=CAPABILITY, title=f"rotate {secret} in {environment}",
            summary=f"rotate {secret} now: a new value is made, set on its target, tested, then made current",
            environment=environment, requester=asked.user, channel=channel,
            subject={"action": "rotate", "secret": secret, "requested_by": asked.user},
            correlation_id=asked.request_id)
        audit.record(action="rotation.rotate", target=f"secret/{secret}", outcome=audit.Outcome.PLANNED,
                     correlation_id=asked.request_id, capability=CAPABILITY, actor=asked.user,
                     reason=f"waiting for an approver in {channel}", detail={"decision": decision}, now=now)
        title = f"Rotating {mrkdwn.safe(secret, 500)} in {mrkdwn.escape(environment)} needs an approver"
        line = f"asked in {mrkdwn.escape(channel)}" + (f" (decision `{mrkdwn.escape(decision)}`)" if decision else "")
        return Answer(title, blocks.reply(title, [line]))
    started = start(secret, requester=asked.user, approver=None, token_seed=asked.request_id,
                    correlation_id=asked.request_id, now=now, store=store)
    title = mrkdwn.safe(started.message, 1000)
    return Answer(title, blocks.reply(title, []) if started.ok else blocks.error(started.message, None))
