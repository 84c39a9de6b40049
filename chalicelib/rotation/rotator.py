"""The rotation function Secrets Manager invokes: ``handle({SecretId, ClientRequestToken, Step[, RotationToken]})``.

app.py wires it as a Chalice ``lambda_function``; every secret Switchboard rotates names it as its rotation
function. One invocation runs one step of ``protocol`` for the secret's kind (from policy or the secret's tag),
audits what happened (``rotation.<step>`` on ``secret/<name>``, correlated by the version id, so the four steps of
one rotation read as one story) and returns it. A step that cannot succeed raises: Secrets Manager then records
the rotation as failed, retries it, and emits RotationFailed (which ``events.py`` announces).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.policy import loader as policies
from chalicelib.rotation import gates, kinds, protocol
from chalicelib.rotation.exceptions import Deferred, Refused, RotationError
from chalicelib.rotation.kinds.base import Target
from chalicelib.rotation.protocol import Entry, Invocation, Step
from chalicelib.rotation.secrets import SecretStore, name_of, tags_of
from chalicelib.state import audit

CAPABILITY = "rotation"


def handle(event: Any, context: Any = None, *, now: Callable[[], datetime] | None = None,
           store: SecretStore | None = None, sleep: Callable[[float], None] | None = None) -> dict[str, Any]:
    clock = now or (lambda: datetime.now(UTC))
    inv = Invocation.parse(event)
    store = store or SecretStore()
    name = name_of(inv.secret_id)
    logger.set_correlation_id(inv.token)
    logger.append_keys(secret=name, step=str(inv.step))
    try:
        meta = store.describe(inv.secret_id)
        name = meta.get("Name") or name
        outcome = _step(inv, meta, store, clock, sleep)
    except Exception as exc:
        reason = exc.reason if isinstance(exc, RotationError) else f"{type(exc).__name__}: {exc}"
        result = audit.Outcome.REFUSED if isinstance(exc, Refused | Deferred) else audit.Outcome.FAILED
        logger.warning("rotation step failed", extra={"reason": reason})
        metrics.add_metric(name="RotationStepsFailed", unit=MetricUnit.Count, value=1)
        _audit(inv, name, result, reason, clock())
        metrics.flush_metrics()
        raise
    logger.info("rotation step done", extra={"outcome": outcome})
    _audit(inv, name, audit.Outcome.SUCCEEDED, outcome, clock())
    metrics.add_metric(name="RotationSteps", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    return {"secret": name, "step": str(inv.step), "version": inv.token, "outcome": outcome}


def _step(inv: Invocation, meta: dict[str, Any], store: SecretStore, clock: Callable[[], datetime],
          sleep: Callable[[float], None] | None) -> str:
    if protocol.check_entry(meta, inv.token) is Entry.CURRENT and inv.step is not Step.FINISH:
        return "already current"
    current = policies.current()
    name = meta.get("Name") or name_of(inv.secret_id)
    target = Target(arn=meta.get("ARN", inv.secret_id), name=name,
                    policy=current.rotation.effective(name, tags_of(meta)), store=store, version=inv.token, now=clock)
    if sleep is not None:
        target.sleep = sleep
    kind = kinds.for_target(target)

    def gate() -> str | None:
        return gates.may_start(current, name, clock(), gates.facts_from(store))

    return protocol.run(inv.step, store, kind, inv, meta, gate)


def _audit(inv: Invocation, name: str, outcome: audit.Outcome, reason: str, at: datetime) -> None:
    audit.record(action=f"rotation.{inv.step}", target=f"secret/{name}", outcome=outcome, correlation_id=inv.token,
                 capability=CAPABILITY, reason=reason, detail={"version": inv.token, "step": str(inv.step)}, now=at)
