"""The reconcile tick (every minute): promotions whose next check has come are advanced.

First the promotions whose committed effects are still pending (a crash between commit and execute: GSI entry
``effects#pending``) have them performed, each once. Then:
soaks and bakes end, freezes lift, approvals expire, and deploys whose events were lost are re-read from
CodePipeline here. One promotion failing to advance is logged and left for the next tick; the others go on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.observability import logger
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Policy
from chalicelib.promotion import service, store

LIMIT = 100  # promotions advanced per tick (the rest are due at the next one)


def run(now: datetime | None = None, policy: Policy | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    policy = policy or policies.current()
    if not policy.promotion.enabled:
        return []
    report = []
    try:  # first the effects a crash left pending (committed steps not yet carried out): each once
        report += service.run_pending(policy, f"reconcile:{now:%Y%m%dT%H%M}")
    except Exception as exc:  # noqa: BLE001 - retried by the next tick; the due promotions still go on
        logger.exception("promotion effects not executed")
        report.append(f"pending effects: {type(exc).__name__}: {exc}"[:300])
    for app, promo_id in store.due(now)[:LIMIT]:
        try:
            moved = service.advance(app, promo_id, correlation_id=f"reconcile:{now:%Y%m%dT%H%M}", now=now,
                                    policy=policy)
        except Exception as exc:  # noqa: BLE001 - one bad promotion must not stop the others; retried next tick
            logger.exception("promotion not advanced", extra={"app": app, "promotion": promo_id})
            report.append(f"{app} {promo_id}: {type(exc).__name__}: {exc}"[:300])
            continue
        report.append(f"{app} {promo_id}: {moved.state if moved else 'gone'}")
    return report
