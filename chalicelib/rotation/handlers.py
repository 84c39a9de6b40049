"""Rotation outcomes from Secrets Manager, and the registration of the whole rotation capability.

Secrets Manager reports the end of a rotation as a CloudTrail service event on the default bus (detail-type "AWS
Service Event via CloudTrail"): ``RotationSucceeded``, ``RotationFailed``, ``RotationAbandoned``. The secret is in
``additionalEventData.SecretId``; events from before February 2024 spell the ARN key ``aRN``. Each outcome is
audited on ``secret/<name>`` and said in the secret's channel; a failure also opens an alert through alert routing
(and a later success resolves it). For a failure, the reason the rotation
function recorded for its last failed step is quoted (Secrets Manager's event does not say why).

Secrets Manager's API calls (detail-type "AWS API Call via CloudTrail": RotateSecret, PutSecretValue, …) reach this
handler too; they are recorded as received and nothing else happens.

This module is what ``capabilities.LANDED`` imports for rotation: it also imports the ``/ops rotate`` executor and
the decision handler, so one import registers everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import capabilities
from chalicelib.capabilities import Capability, Context, Result
from chalicelib.observability import logger
from chalicelib.policy.schema import Policy
from chalicelib.rotation import commands, decisions  # noqa: F401 - registers the executor and decision handler
from chalicelib.rotation.secrets import name_of
from chalicelib.state import audit
from chalicelib.state.audit import Outcome
from chalicelib.timefmt import stamp

CAPABILITY = "rotation"
OUTCOMES: dict[str, Outcome] = {
    "RotationSucceeded": Outcome.SUCCEEDED,
    "RotationFailed": Outcome.FAILED,
    "RotationAbandoned": Outcome.FAILED,
}
WORDS = {"RotationSucceeded": "succeeded", "RotationFailed": "failed", "RotationAbandoned": "was abandoned"}
_ARN_KEYS = ("SecretId", "aRN", "arn", "ARN", "secretId")


def secret_id_of(detail: Mapping[str, Any], resources: Sequence[str] = ()) -> str | None:
    """Where the secret is named, newest spelling first (pure)."""
    for holder in ("additionalEventData", "requestParameters", "responseElements", "serviceEventDetails"):
        found = detail.get(holder)
        if isinstance(found, Mapping):
            for key in _ARN_KEYS:
                if isinstance(found.get(key), str) and found[key]:
                    return found[key]
    for item in detail.get("resources") or []:
        if isinstance(item, Mapping) and isinstance(item.get("ARN"), str) and ":secretsmanager:" in item["ARN"]:
            return item["ARN"]
    return next((r for r in resources if isinstance(r, str) and ":secretsmanager:" in r), None)


@capabilities.register(Capability.ROTATION)
def on_secrets_event(event: Any, ctx: Context) -> Result:
    detail = event.detail.model_dump(by_alias=True)
    name = detail.get("eventName", "")
    secret_id = secret_id_of(detail, event.resources)
    secret = name_of(secret_id) if secret_id else None
    target = f"secret/{secret}" if secret else event.target

    if name not in OUTCOMES:
        reason = f"{name}: not a rotation outcome"
        audit.record(action=f"rotation.{name or 'event'}"[:100], target=target, outcome=Outcome.RECEIVED,
                     correlation_id=ctx.event_id, capability=CAPABILITY, reason=reason,
                     detail={"detail-type": event.detail_type, "errorCode": detail.get("errorCode")})
        return Result(Outcome.RECEIVED, reason)
    if secret is None:
        reason = f"a {name} event that names no secret"
        audit.record(action=f"rotation.{name}", target=target, outcome=Outcome.REJECTED, correlation_id=ctx.event_id,
                     capability=CAPABILITY, reason=reason)
        return Result(Outcome.REJECTED, reason)

    outcome = OUTCOMES[name]
    at = event.time if isinstance(event.time, datetime) else datetime.now(UTC)
    why = last_failure(target, at) if outcome is Outcome.FAILED else None
    actions = [f"{secret} rotation {WORDS[name]}"]
    alert = _alert(ctx.policy, secret, secret_id or secret, outcome, why, at, ctx.event_id)
    if alert:
        actions.append(alert)
    audit.record(action=f"rotation.{name}", target=target, outcome=outcome, correlation_id=ctx.event_id,
                 capability=CAPABILITY, reason=why, detail={"arn": secret_id, "alert": alert,
                                                            "eventID": detail.get("eventID")})
    from chalicelib.console import feed, records  # the console's Changes page (chalicelib/console/feed.py)

    feed.publish(feed.build(lambda: records.rotation_result(secret, at, outcome=WORDS[name], why=why,
                                                            **feed.here())))
    announced = _announce(ctx.policy, secret, name, why, ctx.event_id)
    actions.append(f"announced in {announced}" if announced else "no channel to announce in")
    return Result(outcome, why, actions)


def last_failure(target: str, before: datetime, within: timedelta = timedelta(days=1)) -> str | None:
    """The reason of the rotation function's latest failed step on this secret (audited by rotator.py)."""
    since = stamp(before - within)
    for entry in audit.for_target(target, limit=50):
        if entry.at < since:
            break
        if entry.capability == CAPABILITY and entry.outcome in ("failed", "refused") and entry.action.endswith(
                "Secret"):
            return f"{entry.action.removeprefix('rotation.')}: {entry.reason}"
    return None


def _announce(current: Policy, secret: str, name: str, why: str | None, correlation: str) -> str | None:
    from chalicelib.slackkit import announcements, mrkdwn

    channel = current.rotation.channel_for(secret, current)
    if channel is None:
        return None
    icon = ":white_check_mark:" if name == "RotationSucceeded" else ":x:"
    text = (f"{icon} Rotation of {mrkdwn.code(secret, 300)} in {mrkdwn.escape(current.account.environment)} "
            f"{WORDS[name]}" + (f": {mrkdwn.safe(why, 1500)}" if why else ""))
    announcements.announce(channel=channel, text=text, correlation_id=correlation)
    return channel


def _alert(current: Policy, secret: str, arn: str, outcome: Outcome, why: str | None, at: datetime,
           event_id: str) -> str | None:
    """Open (a failure) or resolve (a success) the secret's rotation alert through alert routing. Never fails the
    event: the outcome is already audited and announced."""
    if Capability.ALERTS not in capabilities.landed():
        return "alert routing has not landed: announced only" if outcome is Outcome.FAILED else None
    try:
        capabilities.ensure_loaded(Capability.ALERTS)
        from chalicelib.alerts import clock, handlers, model, routing
        from chalicelib.alerts.policy import section

        alerts_section = section(current)
        root = routing.tree(alerts_section)
        if root is None:
            return "the policy has no alerts.route: announced only"
        env = current.account.environment
        app = next((a for a in current.apps if secret.startswith(f"{a}/")), None)
        labels = {"account": current.account.name, "account_id": current.account.id, "environment": env,
                  "region": current.account.region, "alarm": "SecretRotationFailed", "secret": secret,
                  "capability": CAPABILITY, "severity": "page" if env in current.rotation.approval else "ticket",
                  **({"app": app} if app else {})}
        state = "ALARM" if outcome is Outcome.FAILED else "OK"
        alert = model.Alert(fingerprint=model.fingerprint(arn, "rotation"), name="SecretRotationFailed", arn=arn,
                            account_id=current.account.id, region=current.account.region, state=state,
                            previous_state="ALARM" if state == "OK" else "OK", at=at, labels=labels,
                            reason=why or "", description=f"rotation of {secret}", event_id=event_id)
        touched = handlers.ingest(alert, root, alerts_section, environment=env, now=clock.now())
        return "; ".join(f"alert {state}: {inc} {note} ({receiver})" for inc, note, receiver in touched) or None
    except Exception as exc:  # noqa: BLE001 - an alert we could not open is reported, the event still counts
        logger.exception("could not open the rotation alert")
        return f"could not open an alert: {type(exc).__name__}: {exc}"[:300]
