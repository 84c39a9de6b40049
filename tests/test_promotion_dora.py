"""The four DORA keys, as tables: the window's edges, medians over odd and even counts, failure rates, restores,
other apps ignored, no data (None / n/a), the Slack lines and the EMF metrics. Pure: no AWS."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.promotion.dora import Deployment, Keys, emf_metrics, keys

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def dep(deployed_at: datetime, lead: timedelta | None = H, app: str = "web", failed: bool = False,
        failed_at: datetime | None = None, restored_after: timedelta | None = None, rev: str = "abc") -> Deployment:
    restored = None if restored_after is None else (failed_at or deployed_at) + restored_after
    return Deployment(app, rev, None if lead is None else deployed_at - lead, deployed_at, failed, failed_at, restored)


# ---- the window ----

@pytest.mark.parametrize(("ago", "counted"), [
    (timedelta(0), True),  # now itself: (now - window, now] includes now
    (timedelta(seconds=1), True),
    (timedelta(days=30) - timedelta(microseconds=1), True),
    (timedelta(days=30), False),  # exactly the window's start: excluded
    (timedelta(days=31), False),
    (-timedelta(seconds=1), False),  # after now: not yet
])
def test_window_edges(ago, counted):
    k = keys("web", [dep(NOW - ago)], NOW)
    assert k.deployments == (1 if counted else 0)


def test_a_shorter_window():
    found = [dep(NOW - timedelta(days=d)) for d in (1, 6, 7, 8)]
    k = keys("web", found, NOW, window_days=7)
    assert (k.deployments, k.window_days, k.per_day) == (2, 7, 2 / 7)


def test_other_apps_are_ignored():
    k = keys("web", [dep(NOW - H), dep(NOW - H, app="api", failed=True, lead=timedelta(days=9)),
                     dep(NOW - 2 * H, app="web-admin")], NOW)
    assert (k.app, k.deployments, k.change_failure_rate, k.lead_time_median_s) == ("web", 1, 0.0, 3600.0)


def test_no_data():
    k = keys("web", [], NOW)
    assert k == Keys("web", 30, 0, 0.0, None, None, None)
    assert k.lines() == ["deploys: 0 in 30d (0/day)", "lead time: n/a", "change failure rate: n/a",
                         "time to restore: n/a"]
    assert emf_metrics(k) == {"DeploymentFrequency": (0.0, "Count")}


def test_the_deployments_can_be_a_generator():
    k = keys("web", (dep(NOW - d * H) for d in range(1, 4)), NOW)
    assert k.deployments == 3


# ---- lead time ----

@pytest.mark.parametrize(("leads_minutes", "median_s"), [
    ((30,), 1800.0),
    ((10, 30, 200), 1800.0),  # odd: the middle one
    ((10, 30, 50, 200), 2400.0),  # even: the mean of the two middle ones
    ((200, 10, 50, 30), 2400.0),  # order does not matter
    ((5, 5, 5, 5, 600), 300.0),  # an outlier does not move the median
])
def test_lead_time_median(leads_minutes, median_s):
    found = [dep(NOW - (i + 1) * H, lead=m * M) for i, m in enumerate(leads_minutes)]
    assert keys("web", found, NOW).lead_time_median_s == median_s


def test_lead_time_leaves_out_deployments_without_a_commit_time():
    k = keys("web", [dep(NOW - H, lead=None), dep(NOW - 2 * H, lead=20 * M)], NOW)
    assert (k.deployments, k.lead_time_median_s) == (2, 1200.0)
    assert keys("web", [dep(NOW - H, lead=None)], NOW).lead_time_median_s is None


def test_a_commit_after_its_deploy_counts_as_zero_lead_time():
    assert keys("web", [dep(NOW - H, lead=-5 * M)], NOW).lead_time_median_s == 0.0  # clocks disagree


# ---- failures and restores ----

def test_change_failure_rate_and_time_to_restore():
    found = [dep(NOW - d * H) for d in range(1, 11)]
    found += [dep(NOW - 20 * H, failed=True, failed_at=NOW - 19 * H, restored_after=25 * M),
              dep(NOW - 30 * H, failed=True, restored_after=45 * M)]  # no failed_at: from the deploy
    k = keys("web", found, NOW)
    assert (k.deployments, k.change_failure_rate) == (12, 2 / 12)
    assert k.time_to_restore_median_s == 35 * 60.0  # even: (25m + 45m) / 2
    assert k.failures == 2


@pytest.mark.parametrize(("restores", "median_s"), [
    ((10,), 600.0), ((10, 20, 90), 1200.0), ((10, 20, 30, 90), 1500.0),
])
def test_time_to_restore_median(restores, median_s):
    found = [dep(NOW - (i + 1) * H, failed=True, restored_after=m * M) for i, m in enumerate(restores)]
    k = keys("web", found, NOW)
    assert (k.time_to_restore_median_s, k.change_failure_rate) == (median_s, 1.0)


def test_unrestored_failures_count_as_failures_but_not_restores():
    k = keys("web", [dep(NOW - H, failed=True), dep(NOW - 2 * H)], NOW)
    assert (k.change_failure_rate, k.time_to_restore_median_s) == (0.5, None)


def test_only_failed_deployments_have_restores():
    k = keys("web", [dep(NOW - H, restored_after=5 * M)], NOW)  # restored_at on a good one: ignored
    assert k.time_to_restore_median_s is None


def test_naive_datetimes_are_refused():
    naive = datetime(2026, 11, 23, 10, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        keys("web", [], naive)
    with pytest.raises(ValueError, match="deployed_at must be a timezone-aware"):
        keys("web", [Deployment("web", "r", None, naive)], NOW)
    with pytest.raises(ValueError, match="restored_at"):
        keys("web", [Deployment("web", "r", None, NOW, True, None, naive)], NOW)
    keys("web", [Deployment("api", "r", None, naive)], NOW)  # another app's record is not read


def test_window_days_must_be_positive():
    with pytest.raises(ValueError, match="window_days"):
        keys("web", [], NOW, window_days=0)


# ---- lines and metrics ----

def test_lines_read_well():
    found = [dep(NOW - d * H, lead=3 * H + 10 * M) for d in range(1, 12)]
    found.append(dep(NOW - 50 * H, lead=3 * H + 10 * M, failed=True, restored_after=25 * M))
    k = keys("web", found, NOW)
    assert k.lines() == [
        "deploys: 12 in 30d (0.4/day)",
        "lead time: median 3h10m",
        "change failure rate: 8% (1 of 12)",
        "time to restore: median 25m",
    ]


@pytest.mark.parametrize(("count", "days", "text"), [
    (1, 30, "0.033"), (12, 30, "0.4"), (30, 30, "1"), (75, 30, "2.5"), (360, 30, "12"), (0, 7, "0"),
])
def test_frequency_text(count, days, text):
    k = keys("web", [dep(NOW - i * M) for i in range(count)], NOW, window_days=days)
    assert k.lines()[0] == f"deploys: {count} in {days}d ({text}/day)"


def test_emf_metrics():
    k = Keys("web", 30, 12, 0.4, 11400.0, 1 / 12, 1500.0)
    metrics = emf_metrics(k)
    assert metrics == {
        "DeploymentFrequency": (0.4, "Count"),
        "LeadTime": (11400.0, "Seconds"),
        "ChangeFailureRate": (pytest.approx(100 / 12), "Percent"),
        "TimeToRestore": (1500.0, "Seconds"),
    }
    assert set(emf_metrics(Keys("web", 30, 3, 0.1, None, 0.0, None))) == {"DeploymentFrequency", "ChangeFailureRate"}
    assert emf_metrics(Keys("web", 30, 3, 0.1, None, 0.0, None))["ChangeFailureRate"] == (0.0, "Percent")


# ---- property ----

def test_random_histories_against_a_direct_count():
    """Random histories of two apps: every key equals a direct computation over the in-window records of the app,
    and the lines never say n/a for a defined key."""
    rng = random.Random(2026)
    for _ in range(300):
        found = []
        for _ in range(rng.randint(0, 25)):
            at = NOW - timedelta(minutes=rng.randint(-600, 50000))
            failed = rng.random() < 0.3
            found.append(dep(at, lead=rng.choice([None, rng.randint(1, 5000) * M]), app=rng.choice(["web", "api"]),
                             failed=failed, restored_after=rng.choice([None, rng.randint(1, 300) * M])))
        k = keys("web", found, NOW)
        mine = [d for d in found if d.app == "web" and NOW - timedelta(days=30) < d.deployed_at <= NOW]
        assert k.deployments == len(mine) and k.per_day == len(mine) / 30
        leads = [(d.deployed_at - d.committed_at).total_seconds() for d in mine if d.committed_at]
        assert k.lead_time_median_s == (statistics.median(leads) if leads else None)
        bad = [d for d in mine if d.failed]
        assert k.change_failure_rate == (len(bad) / len(mine) if mine else None)
        assert k.failures == len(bad)
        restores = [(d.restored_at - d.deployed_at).total_seconds() for d in bad if d.restored_at]
        assert k.time_to_restore_median_s == (statistics.median(restores) if restores else None)
        lines = k.lines()
        assert ("n/a" in lines[1]) is (not leads) and ("n/a" in lines[3]) is (not restores)
        assert set(emf_metrics(k)) == {"DeploymentFrequency"} | ({"LeadTime"} if leads else set()) | (
            {"ChangeFailureRate"} if mine else set()) | ({"TimeToRestore"} if restores else set())
