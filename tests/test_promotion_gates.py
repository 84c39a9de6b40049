"""Promotion gates, as tables: source gates (soak, quiet alarms, health), target gates (bad candidate, hold,
freezes, incidents, approvals with four eyes and expiry), the bake, and how gates are read (verdict, next check,
summary). Boundary instants exactly at the soak's, the bake's and the expiry's end. Pure: no AWS."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.promotion.gates import (
    ActiveFreeze,
    Gate,
    Health,
    Hold,
    SourceFacts,
    Status,
    TargetFacts,
    VerifyFacts,
    clock,
    duration,
    names,
    next_check,
    source_gates,
    summary,
    target_gates,
    verdict,
    verify,
)
from chalicelib.promotion.policy import Approvals, Resolved

T0 = datetime(2026, 11, 23, 10, 2, tzinfo=UTC)  # the source pipeline succeeded
SETTINGS = Resolved(soak="30m", bake="15m", alarms=("web-*",), approval_expiry="24h")
M = timedelta(minutes=1)
OK = Health("https://web.stage.example.com/health", 200)


def src(now: datetime, **kw) -> dict[str, Gate]:
    gates = source_gates(kw.pop("settings", SETTINGS), SourceFacts(now=now, succeeded_at=T0, **kw))
    assert [g.name for g in gates] == ["soak", "alarms", "health"]
    return {g.name: g for g in gates}


def tgt(**kw) -> dict[str, Gate]:
    settings = kw.pop("settings", SETTINGS)
    kw.setdefault("now", T0)
    kw.setdefault("requester", "UREQ")
    kw.setdefault("author", "UAUTH")
    gates = target_gates(settings, TargetFacts(**kw))
    assert [g.name for g in gates] == ["candidate", "hold", "freeze", "incidents", "approval"]
    return {g.name: g for g in gates}


def bake(now: datetime, settings: Resolved = SETTINGS, **kw) -> Gate:
    gate = verify(settings, VerifyFacts(now=now, deployed_at=T0, **kw))
    assert gate.name == "bake"
    return gate


# ---- soak ----

@pytest.mark.parametrize(("after", "status"), [
    (timedelta(0), Status.WAIT), (29 * M, Status.WAIT), (30 * M - timedelta(microseconds=1), Status.WAIT),
    (30 * M, Status.PASS),  # exactly at the soak's end
    (31 * M, Status.PASS), (timedelta(days=3), Status.PASS),
    (-5 * M, Status.WAIT),  # a clock behind the event: still waiting, never negative
])
def test_soak_boundary(after, status):
    gate = src(T0 + after)["soak"]
    assert gate.status is status
    if status is Status.WAIT:
        assert gate.until == T0 + 30 * M
        assert "of 30m since 10:02 UTC; ends at 10:32 UTC" in gate.reason
    else:
        assert gate.until is None
        assert gate.reason.endswith(f"in the environment since {clock(T0, T0 + after)} (needs 30m)")


def test_soak_reasons_read_well():
    assert src(T0 + 12 * M + timedelta(seconds=30))["soak"].reason == (
        "12m30s of 30m since 10:02 UTC; ends at 10:32 UTC")
    assert src(T0 - 5 * M)["soak"].reason.startswith("0s of 30m")
    assert src(T0 + 90 * M)["soak"].reason == "1h30m in the environment since 10:02 UTC (needs 30m)"
    two_days = src(T0 + timedelta(days=2, hours=3))["soak"].reason
    assert two_days == "2d3h in the environment since 23 Nov 10:02 UTC (needs 30m)"  # another day: the date


def test_soak_skipped():
    gate = src(T0, skip_soak=True, skipped_by="U0ALICE")["soak"]
    assert (gate.status, gate.reason, gate.until) == (Status.PASS, "skipped by <@U0ALICE>", None)
    assert src(T0, skip_soak=True)["soak"].reason == "skipped"


def test_a_zero_soak_passes_at_once():
    assert src(T0, settings=Resolved(soak="0s"))["soak"].status is Status.PASS


# ---- alarms ----

def test_alarms_in_alarm_wait_and_are_named():
    gate = src(T0 + 40 * M, alarms_in_alarm=("web-5xx", "web-latency"))["alarms"]
    assert (gate.status, gate.until) == (Status.WAIT, None)
    assert gate.reason == "in ALARM: web-5xx, web-latency"


@pytest.mark.parametrize(("count", "expected"), [
    (5, "in ALARM: a0, a1, a2, a3, a4"),
    (6, "in ALARM: a0, a1, a2, a3, a4 and 1 more"),
    (12, "in ALARM: a0, a1, a2, a3, a4 and 7 more"),
])
def test_alarm_lists_are_capped(count, expected):
    assert src(T0, alarms_in_alarm=tuple(f"a{i}" for i in range(count)))["alarms"].reason == expected


@pytest.mark.parametrize(("last", "now", "status"), [
    (T0 + 10 * M, T0 + 39 * M, Status.WAIT),  # quiet for 29m of 30m
    (T0 + 10 * M, T0 + 40 * M, Status.PASS),  # exactly 30m quiet
    (T0 + 10 * M, T0 + 41 * M, Status.PASS),
    (T0, T0 + 30 * M, Status.PASS),  # at the success itself: not after it, the soak covers it
    (T0 - 10 * M, T0 + 30 * M, Status.PASS),  # before the success: the soak covers it
    (T0 + timedelta(seconds=1), T0 + 30 * M, Status.WAIT),
])
def test_recent_alarms_must_be_waited_out(last, now, status):
    gate = src(now, last_alarm_at=last)["alarms"]
    assert gate.status is status
    if status is Status.WAIT:
        assert gate.until == last + 30 * M
        assert gate.reason.startswith(f"quiet since {clock(last)}; needs 30m (until {clock(last + 30 * M)})")
    else:
        assert gate.until is None
        assert gate.reason == f"none of web-* in ALARM; quiet since {clock(last, now)}"


def test_quiet_alarms_reason():
    assert src(T0 + 40 * M)["alarms"].reason == "none of web-* in ALARM"
    assert src(T0, settings=Resolved())["alarms"].reason == "no alarms in ALARM"
    many = Resolved(alarms=tuple(f"app{i}-*" for i in range(7)))
    assert src(T0, settings=many)["alarms"].reason == (
        "none of app0-*, app1-*, app2-*, app3-*, app4-* and 2 more in ALARM")


def test_with_the_soak_skipped_only_alarms_in_alarm_now_matter():
    gate = src(T0 + M, skip_soak=True, skipped_by="U1", last_alarm_at=T0 + 30 * timedelta(seconds=1))["alarms"]
    assert gate.status is Status.PASS
    assert gate.reason == "none of web-* in ALARM (last at 10:02 UTC; soak skipped, so not waited out)"
    waiting = src(T0 + M, skip_soak=True, alarms_in_alarm=("web-5xx",))["alarms"]
    assert (waiting.status, waiting.reason) == (Status.WAIT, "in ALARM: web-5xx")


# ---- health ----

@pytest.mark.parametrize(("health", "status", "reason"), [
    (None, Status.PASS, "no health check"),
    (OK, Status.PASS, "https://web.stage.example.com/health answered 200"),
    (Health("https://h", 503), Status.WAIT, "https://h answered 503, not 200"),
    (Health("https://h", 301, "redirect to /login"), Status.WAIT, "https://h answered 301, not 200 (redirect to "
                                                                 "/login)"),
    (Health("https://h", None, "timed out after 5s"), Status.WAIT, "https://h did not answer: timed out after 5s"),
    (Health("https://h", None), Status.WAIT, "https://h did not answer: no answer"),
])
def test_source_health(health, status, reason):
    gate = src(T0 + 40 * M, health=health)["health"]
    assert (gate.status, gate.reason, gate.until) == (status, reason, None)


def test_all_source_gates_pass_together():
    gates = source_gates(SETTINGS, SourceFacts(T0 + 30 * M, T0, health=OK))
    assert verdict(gates) is Status.PASS and next_check(gates) is None


# ---- target gates ----

def test_a_clean_candidate_waits_only_for_its_approval():
    gates = tgt()
    assert {n: g.status for n, g in gates.items()} == {
        "candidate": Status.PASS, "hold": Status.PASS, "freeze": Status.PASS, "incidents": Status.PASS,
        "approval": Status.WAIT}
    assert [g.reason for g in gates.values()] == [
        "not marked bad", "no hold", "no freeze in force", "no open incidents", "0 of 1 approvals"]


def test_a_bad_candidate_fails_unless_a_person_asked_for_it():
    gate = tgt(bad="rolled back at 11:00 UTC: web-5xx in ALARM", requester=None)["candidate"]
    assert gate.status is Status.FAIL
    assert gate.reason == "this revision is marked bad: rolled back at 11:00 UTC: web-5xx in ALARM"
    asked = tgt(bad="rolled back", requester="U0ALICE001")["candidate"]
    assert asked.status is Status.PASS
    assert asked.reason == "marked bad (rolled back); promoted on <@U0ALICE001>'s request"


def test_a_hold_waits_with_who_when_and_why():
    gate = tgt(hold=Hold("U0BOB", "db migration running", T0 - 2 * M))["hold"]
    assert (gate.status, gate.until) == (Status.WAIT, None)
    assert gate.reason == "held by <@U0BOB> since 10:00 UTC: db migration running"


def test_freezes_wait_until_the_earliest_known_end():
    end1, end2 = T0 + timedelta(hours=5), T0 + timedelta(hours=2)
    gate = tgt(freezes=(ActiveFreeze("release", None, end1), ActiveFreeze("xmas", "holidays", end2),
                        ActiveFreeze("forever", "audit", None)))["freeze"]
    assert (gate.status, gate.until) == (Status.WAIT, end2)
    assert gate.reason == ("freezes in force: 'release' until 15:02 UTC; 'xmas' (holidays) until 12:02 UTC; "
                           "'forever' (audit) (no known end)")


def test_a_freeze_without_a_known_end_has_no_until():
    gate = tgt(freezes=(ActiveFreeze("audit", None, None),))["freeze"]
    assert (gate.status, gate.until, gate.reason) == (Status.WAIT, None, "freeze in force: 'audit' (no known end)")


def test_a_freeze_ending_another_day_shows_the_date():
    gate = tgt(freezes=(ActiveFreeze("xmas", None, datetime(2026, 12, 27, 8, 0, tzinfo=UTC)),))["freeze"]
    assert gate.reason == "freeze in force: 'xmas' until 27 Dec 08:00 UTC"


def test_freeze_lists_are_capped():
    freezes = tuple(ActiveFreeze(f"f{i}", None, T0 + (i + 1) * M) for i in range(8))
    gate = tgt(freezes=freezes)["freeze"]
    assert gate.reason.endswith("'f4' until 10:07 UTC and 3 more") and "'f5'" not in gate.reason
    assert gate.until == T0 + M  # the earliest, even among those not named


@pytest.mark.parametrize(("block", "incidents", "status", "reason"), [
    (True, (), Status.PASS, "no open incidents"),
    (True, ("inc-1",), Status.WAIT, "1 open incident: inc-1"),
    (True, ("inc-1", "inc-2"), Status.WAIT, "2 open incidents: inc-1, inc-2"),
    (True, tuple(f"i{n}" for n in range(9)), Status.WAIT, "9 open incidents: i0, i1, i2, i3, i4 and 4 more"),
    (False, ("inc-1",), Status.PASS, "1 open incident (inc-1): not blocking (block_on_incident is off)"),
    (False, (), Status.PASS, "no open incidents"),
])
def test_incidents(block, incidents, status, reason):
    gate = tgt(settings=Resolved(block_on_incident=block), open_incidents=incidents)["incidents"]
    assert (gate.status, gate.reason, gate.until) == (status, reason, None)


# ---- approvals ----

@pytest.mark.parametrize(("required", "approvals", "status", "reason"), [
    (0, (), Status.PASS, "no approval required"),
    (1, (), Status.WAIT, "0 of 1 approvals"),
    (2, ("U1",), Status.WAIT, "1 of 2 approvals (<@U1>)"),
    (2, ("U1", "U1"), Status.WAIT, "1 of 2 approvals (<@U1>)"),  # one person counts once
    (1, ("U1",), Status.PASS, "approved by <@U1>"),
    (2, ("U1", "U2"), Status.PASS, "approved by <@U1>, <@U2>"),
    (1, ("U1", "U2"), Status.PASS, "approved by <@U1>, <@U2>"),
    (1, ("UREQ",), Status.WAIT, "0 of 1 approvals; not counted: <@UREQ> is the requester"),
    (1, ("UAUTH",), Status.WAIT, "0 of 1 approvals; not counted: <@UAUTH> is the commit author"),
    (1, ("UAUTH", "U1"), Status.PASS, "approved by <@U1>; not counted: <@UAUTH> is the commit author"),
    (2, ("UREQ", "U1", "UAUTH"), Status.WAIT,
     "1 of 2 approvals (<@U1>); not counted: <@UREQ> is the requester, <@UAUTH> is the commit author"),
])
def test_approval_counts_with_four_eyes(required, approvals, status, reason):
    gate = tgt(approvals_required=required, approvals=approvals)["approval"]
    assert (gate.status, gate.reason, gate.until) == (status, reason, None)


def test_the_requester_who_is_also_the_author_is_named_once():
    gate = tgt(requester="U9", author="U9", approvals=("U9",))["approval"]
    assert gate.reason == "0 of 1 approvals; not counted: <@U9> is the requester"


def test_a_rejection_fails_naming_who_and_why():
    gate = tgt(approvals=("U1",), rejected_by="U0CAROL", reject_reason="not during the sale")["approval"]
    assert (gate.status, gate.reason) == (Status.FAIL, "rejected by <@U0CAROL>: not during the sale")
    assert tgt(rejected_by="U0CAROL")["approval"].reason == "rejected by <@U0CAROL>"
    # a rejection wins even when nothing needed approving or it was already approved
    assert tgt(approvals_required=0, rejected_by="U2")["approval"].status is Status.FAIL
    assert tgt(approvals=("U1",), rejected_by="U2")["approval"].status is Status.FAIL


@pytest.mark.parametrize(("waited", "status"), [
    (timedelta(hours=23, minutes=59), Status.WAIT),
    (timedelta(hours=24) - timedelta(microseconds=1), Status.WAIT),
    (timedelta(hours=24), Status.FAIL),  # exactly at the expiry
    (timedelta(days=3), Status.FAIL),
])
def test_approval_expiry_boundary(waited, status):
    since = T0 - waited
    gate = tgt(approvals_required=2, approvals=("U1",), awaiting_since=since)["approval"]
    assert gate.status is status
    if status is Status.WAIT:
        assert gate.until == since + timedelta(hours=24)
        assert gate.reason == f"1 of 2 approvals (<@U1>); expires at {clock(since + timedelta(hours=24), T0)}"
    else:
        assert gate.until is None
        assert gate.reason == "the approval request expired after 24h with 1 of 2 approvals"


def test_expired_flag_fails_without_a_start_time():
    gate = tgt(expired=True)["approval"]
    assert (gate.status, gate.reason) == (Status.FAIL, "the approval request expired with 0 of 1 approvals")


def test_complete_approvals_pass_even_past_the_expiry():
    gate = tgt(approvals=("U1",), expired=True, awaiting_since=T0 - timedelta(days=2))["approval"]
    assert (gate.status, gate.reason) == (Status.PASS, "approved by <@U1>")


def test_the_required_count_comes_from_the_facts():
    settings = Resolved(approvals=Approvals(count=3))  # the candidate's own requirement wins (set when it arrived)
    assert tgt(settings=settings, approvals_required=1, approvals=("U1",))["approval"].status is Status.PASS


# ---- bake ----

@pytest.mark.parametrize(("after", "health", "status"), [
    (timedelta(0), None, Status.WAIT),
    (15 * M - timedelta(microseconds=1), None, Status.WAIT),
    (15 * M, None, Status.PASS),  # exactly at the bake's end
    (15 * M, Health("https://web/health", 200), Status.PASS),
    (15 * M, Health("https://web/health", 500), Status.FAIL),
    (16 * M, Health("https://web/health", None, "connection refused"), Status.FAIL),
    (2 * M, Health("https://web/health", 500), Status.WAIT),  # a health answer before the end is not read yet
])
def test_bake_boundary(after, health, status):
    gate = bake(T0 + after, health=health)
    assert gate.status is status
    assert gate.until == (T0 + 15 * M if status is Status.WAIT else None)


def test_bake_reasons():
    assert bake(T0 + 5 * M).reason == "5m of 15m since the deploy at 10:02 UTC; ends at 10:17 UTC"
    assert bake(T0 + 15 * M).reason == "quiet for the 15m bake since 10:02 UTC"
    assert bake(T0 + 15 * M, health=Health("https://web/health", 200)).reason == (
        "quiet for the 15m bake since 10:02 UTC; https://web/health answered 200")
    assert bake(T0 + 15 * M, health=Health("https://web/health", 502)).reason == (
        "quiet for the 15m bake since 10:02 UTC, but https://web/health answered 502, not 200")
    assert bake(T0 + 20 * M, health=Health("https://web/health", None, "timed out")).reason == (
        "quiet for the 15m bake since 10:02 UTC, but https://web/health did not answer: timed out")


@pytest.mark.parametrize("after", [timedelta(0), 3 * M, 15 * M, timedelta(hours=2)])
def test_any_alarm_fails_the_bake_at_any_time(after):
    gate = bake(T0 + after, alarms_in_alarm=tuple(f"web-{i}" for i in range(7)), health=Health("h", 200))
    assert (gate.status, gate.until) == (Status.FAIL, None)
    assert gate.reason == f"in ALARM {duration(after)} after the deploy: web-0, web-1, web-2, web-3, web-4 and 2 more"


# ---- naive datetimes ----

NAIVE = datetime(2026, 11, 23, 10, 2)


@pytest.mark.parametrize("make", [
    lambda: SourceFacts(NAIVE, T0),
    lambda: SourceFacts(T0, NAIVE),
    lambda: SourceFacts(T0, T0, last_alarm_at=NAIVE),
    lambda: TargetFacts(NAIVE, None, None),
    lambda: TargetFacts(T0, None, None, awaiting_since=NAIVE),
    lambda: Hold("U1", "why", NAIVE),
    lambda: ActiveFreeze("f", None, NAIVE),
    lambda: VerifyFacts(NAIVE, T0),
    lambda: VerifyFacts(T0, NAIVE),
    lambda: Gate("g", Status.WAIT, "r", until=NAIVE),
])
def test_naive_datetimes_are_refused(make):
    with pytest.raises(ValueError, match="must be a timezone-aware datetime"):
        make()


def test_other_time_zones_are_shown_in_utc():
    cet = timezone(timedelta(hours=1))
    gate = source_gates(SETTINGS, SourceFacts(datetime(2026, 11, 23, 11, 12, tzinfo=cet), T0))[0]
    assert gate.reason == "10m of 30m since 10:02 UTC; ends at 10:32 UTC"


# ---- reading gates ----

def g(status: Status, until: datetime | None = None, name: str = "x") -> Gate:
    return Gate(name, status, "why", until)


@pytest.mark.parametrize(("statuses", "expected"), [
    ((), Status.PASS),
    ((Status.PASS,), Status.PASS),
    ((Status.PASS, Status.WAIT), Status.WAIT),
    ((Status.WAIT, Status.FAIL, Status.PASS), Status.FAIL),
    ((Status.FAIL,), Status.FAIL),
])
def test_verdict(statuses, expected):
    assert verdict([g(s) for s in statuses]) is expected


def test_next_check_is_the_earliest_until_among_waits():
    gates = [g(Status.WAIT, T0 + 5 * M), g(Status.WAIT, T0 + 2 * M), g(Status.PASS, T0 + M), g(Status.WAIT),
             g(Status.FAIL, T0)]
    assert next_check(gates) == T0 + 2 * M
    assert next_check([g(Status.WAIT), g(Status.PASS)]) is None
    assert next_check([]) is None


def test_summary_lines():
    gates = src(T0 + 10 * M, alarms_in_alarm=("web-5xx",), health=Health("https://h", 200))
    assert summary(list(gates.values())) == [
        ":hourglass: soak — 10m of 30m since 10:02 UTC; ends at 10:32 UTC",
        ":hourglass: alarms — in ALARM: web-5xx",
        ":white_check_mark: health — https://h answered 200",
    ]
    assert summary([Gate("candidate", Status.FAIL, "this revision is marked bad: <b>")]) == [
        ":x: candidate — this revision is marked bad: <b>"]  # plain text: the caller escapes


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (45, "45s"), (60, "1m"), (90, "1m30s"), (1800, "30m"), (3600, "1h"), (5400, "1h30m"),
    (3661, "1h1m"), (11400, "3h10m"), (86400, "1d"), (86400 + 3 * 3600 + 600, "1d3h"), (-30, "0s"), (59.9, "59s"),
])
def test_duration_text(seconds, text):
    assert duration(seconds) == text and duration(timedelta(seconds=seconds)) == text


def test_names_cap():
    assert names([]) == "" and names(["a"]) == "a" and names("abcdef") == "a, b, c, d, e and 1 more"


# ---- properties ----

def test_verdict_and_next_check_agree_on_random_gates():
    """FAIL beats WAIT beats PASS whatever the order; next_check is an until of a WAIT gate, never earlier than
    any other WAIT's until, and None exactly when no WAIT gate carries one."""
    rng = random.Random(7)
    for _ in range(2000):
        gates = [g(rng.choice(list(Status)), rng.choice([None, T0 + rng.randint(-60, 600) * M]))
                 for _ in range(rng.randint(0, 7))]
        statuses = {x.status for x in gates}
        expected = (Status.FAIL if Status.FAIL in statuses else Status.WAIT if Status.WAIT in statuses
                    else Status.PASS)
        assert verdict(gates) is expected
        assert verdict(rng.sample(gates, len(gates))) is expected
        waits = [x.until for x in gates if x.status is Status.WAIT and x.until is not None]
        found = next_check(gates)
        assert (found is None) is (not waits)
        if found is not None:
            assert found in waits and all(found <= w for w in waits)
        assert len(summary(gates)) == len(gates)


def test_random_source_facts_are_consistent():
    """For random instants: the soak passes exactly from succeeded_at + soak; a WAIT with an until ends in the
    future; and looking again at next_check never finds the soak or the quiet period still waiting."""
    rng = random.Random(11)
    for _ in range(1000):
        now = T0 + timedelta(seconds=rng.randint(-600, 7200))
        last = rng.choice([None, T0 + timedelta(seconds=rng.randint(-600, 3600))])
        if last is not None and last > now:
            last = now
        facts = SourceFacts(now=now, succeeded_at=T0, last_alarm_at=last)
        gates = source_gates(SETTINGS, facts)
        assert (gates[0].status is Status.PASS) is (now >= T0 + 30 * M)
        for gate in gates:
            if gate.until is not None:
                assert gate.status is Status.WAIT and gate.until > now
        again = next_check(gates)
        if again is not None:
            later = source_gates(SETTINGS, replace(facts, now=max(g.until for g in gates if g.until)))
            assert verdict(later) is Status.PASS
