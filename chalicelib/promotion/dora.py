"""The four DORA keys of an app, from its promotion records: deployment frequency, lead time for changes, change
failure rate and time to restore service. Pure: the records come in as ``Deployment`` values.

- A deployment counts when it finished in the window ``(now - window_days, now]``.
- Lead time: from the commit to the deploy (deployments without a commit time are left out of it).
- Change failure rate: the share of the window's deployments that failed in production.
- Time to restore: from the failure (``failed_at``, else the deploy) to ``restored_at``, over the failed
  deployments that were restored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from chalicelib.promotion.gates import duration


@dataclass(frozen=True)
class Deployment:
    app: str
    revision: str
    committed_at: datetime | None
    deployed_at: datetime  # the target pipeline succeeded (or the rollback redeploy finished)
    failed: bool = False  # the change failed in production: verify failed, rolled back, or the deploy failed
    failed_at: datetime | None = None
    restored_at: datetime | None = None  # service restored (rollback done / next good deploy)


@dataclass(frozen=True)
class Keys:
    app: str
    window_days: int
    deployments: int
    per_day: float
    lead_time_median_s: float | None
    change_failure_rate: float | None  # 0..1; None without deployments
    time_to_restore_median_s: float | None

    @property
    def failures(self) -> int:
        return round((self.change_failure_rate or 0.0) * self.deployments)

    def lines(self) -> list[str]:
        """Human lines for Slack; ``n/a`` where a key is undefined."""
        lead = "n/a" if self.lead_time_median_s is None else f"median {duration(self.lead_time_median_s)}"
        restore = ("n/a" if self.time_to_restore_median_s is None
                   else f"median {duration(self.time_to_restore_median_s)}")
        rate = ("n/a" if self.change_failure_rate is None
                else f"{self.change_failure_rate * 100:.0f}% ({self.failures} of {self.deployments})")
        return [
            f"deploys: {self.deployments} in {self.window_days}d ({_rate(self.per_day)}/day)",
            f"lead time: {lead}",
            f"change failure rate: {rate}",
            f"time to restore: {restore}",
        ]


def keys(app: str, deployments: Iterable[Deployment], now: datetime, window_days: int = 30) -> Keys:
    """The keys of ``app`` over the ``window_days`` up to ``now`` (other apps' deployments are ignored)."""
    _aware("now", now)
    if window_days <= 0:
        raise ValueError(f"window_days must be positive, not {window_days}")
    start = now - timedelta(days=window_days)
    chosen = []
    for d in deployments:
        if d.app != app:
            continue
        for name in ("committed_at", "deployed_at", "failed_at", "restored_at"):
            _aware(name, getattr(d, name))
        if start < d.deployed_at <= now:
            chosen.append(d)
    leads = [max((d.deployed_at - d.committed_at).total_seconds(), 0.0) for d in chosen if d.committed_at]
    failed = [d for d in chosen if d.failed]
    restores = [max((d.restored_at - (d.failed_at or d.deployed_at)).total_seconds(), 0.0)
                for d in failed if d.restored_at is not None]
    count = len(chosen)
    return Keys(
        app=app, window_days=window_days, deployments=count, per_day=count / window_days,
        lead_time_median_s=float(median(leads)) if leads else None,
        change_failure_rate=len(failed) / count if count else None,
        time_to_restore_median_s=float(median(restores)) if restores else None,
    )


def emf_metrics(k: Keys) -> dict[str, tuple[float, str]]:
    """Metric name -> (value, unit) for CloudWatch embedded metrics; undefined keys are left out."""
    metrics: dict[str, tuple[float, str]] = {"DeploymentFrequency": (k.per_day, "Count")}
    if k.lead_time_median_s is not None:
        metrics["LeadTime"] = (k.lead_time_median_s, "Seconds")
    if k.change_failure_rate is not None:
        metrics["ChangeFailureRate"] = (k.change_failure_rate * 100, "Percent")
    if k.time_to_restore_median_s is not None:
        metrics["TimeToRestore"] = (k.time_to_restore_median_s, "Seconds")
    return metrics


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, not {value!r}")


def _rate(per_day: float) -> str:
    """``0.4``, ``0.033``, ``2.5``, ``12``: two significant digits below 1, one decimal (if any) above."""
    if per_day < 1:
        return f"{per_day:.2g}"
    text = f"{per_day:.1f}"
    return text.removesuffix(".0")
