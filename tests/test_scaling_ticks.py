"""Schedules through ticks with an injected clock: stage's night and morning across both 2026 Europe/Berlin DST
changes, exactly-once firing (duplicate and concurrent ticks), catch-up limits, a clock going backwards,
superseded fire times, restores with and without interference, and the Chalice/EventBridge entry points."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.intake.pipeline import Kind, handle
from chalicelib.scaling import store, ticks
from chalicelib.state import audit
from tests.events import context
from tests.scaling_kit import STAGE_SCALING, Bus, desired_count, ecs_service, shipped_with, use_policy, wire


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def stage(aws, monkeypatch):
    use_policy(monkeypatch, shipped_with("stage"))
    wire(monkeypatch)
    ecs_service("stage", "web", 2)
    return Bus()


def run_clock(start: datetime, end: datetime, step: timedelta) -> list[tuple[str, int]]:
    """Tick from start to end; (UTC time, desired count) at each tick where the count changed."""
    seen, now, last = [], start, desired_count("stage", "web")
    while now <= end:
        ticks.run(now)
        count = desired_count("stage", "web")
        if count != last:
            seen.append((now.strftime("%a %Y-%m-%dT%H:%MZ"), count))
            last = count
        now += step
    return seen


def test_night_and_morning_across_spring_forward(stage):
    # Fri 27 March 20:00 CET = 19:00Z; the weekend stays down; Mon 30 March 07:00 CEST = 05:00Z
    changes = run_clock(at("2026-03-27T17:00:00+00:00"), at("2026-03-30T07:00:00+00:00"), timedelta(hours=1))
    assert changes == [("Fri 2026-03-27T19:00Z", 0), ("Mon 2026-03-30T05:00Z", 2)]


def test_night_and_morning_across_fall_back(stage):
    # Fri 23 October 20:00 CEST = 18:00Z; Mon 26 October 07:00 CET = 06:00Z
    changes = run_clock(at("2026-10-23T16:00:00+00:00"), at("2026-10-26T08:00:00+00:00"), timedelta(hours=1))
    assert changes == [("Fri 2026-10-23T18:00Z", 0), ("Mon 2026-10-26T06:00Z", 2)]


def test_a_fast_clock_with_uneven_steps_fires_each_time_once(stage):
    changes = run_clock(at("2026-11-23T19:53:00+01:00"), at("2026-11-24T07:13:00+01:00"), timedelta(minutes=7))
    assert changes == [("Mon 2026-11-23T19:00Z", 0), ("Tue 2026-11-24T06:05Z", 2)]  # the first ticks at/after
    night = [e for e in audit.for_target("service/stage/web") if e.action == "scaling.scale"]
    assert [(e.actor, e.outcome, e.detail["request"]["origin"]) for e in night] == [
        ("system", "succeeded", "schedule:night")]
    assert "by schedule `night`" in stage.texts()[0] and "restored 0 → 2" in stage.texts()[1]


def test_a_tick_delivered_twice_fires_once(stage):
    ticks.run(at("2026-11-23T19:50:00+01:00"))
    first = ticks.run(at("2026-11-23T20:00:00+01:00"))
    again = ticks.run(at("2026-11-23T20:00:00+01:00"))
    assert [f["schedule"] for f in first["fired"]] == ["night"] and again["fired"] == []


def test_concurrent_ticks_fire_once(stage):
    ticks.run(at("2026-11-23T19:50:00+01:00"))
    barrier, reports = threading.Barrier(4), []

    def tick() -> None:
        barrier.wait()
        reports.append(ticks.run(at("2026-11-23T20:00:30+01:00")))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(len(r["fired"]) for r in reports) == 1 and desired_count("stage", "web") == 0


def test_a_late_tick_catches_up_within_catch_up_only(stage):
    ticks.run(at("2026-11-23T19:30:00+01:00"))
    late = ticks.run(at("2026-11-23T20:40:00+01:00"))  # 40 minutes late: still within 1h
    assert [f["at"] for f in late["fired"]] == ["2026-11-23T19:00:00+00:00"]


def test_a_fire_time_missed_for_longer_than_catch_up_is_skipped(stage):
    ticks.run(at("2026-11-23T18:00:00+01:00"))
    assert ticks.run(at("2026-11-23T21:30:00+01:00"))["fired"] == []
    assert desired_count("stage", "web") == 2


def test_the_first_tick_ever_does_not_act_on_old_fire_times(stage):
    assert ticks.run(at("2026-11-23T20:05:00+01:00"))["fired"] == []  # looks back 2 minutes, not to 20:00
    assert desired_count("stage", "web") == 2
    assert [f["schedule"] for f in ticks.run(at("2026-11-24T20:00:00+01:00"))["fired"]] == ["night"]


def test_the_first_tick_right_after_a_fire_time_acts(stage):
    assert [f["schedule"] for f in ticks.run(at("2026-11-23T20:01:00+01:00"))["fired"]] == ["night"]


def test_a_clock_that_went_backwards_acts_on_nothing(stage):
    ticks.run(at("2026-11-23T21:00:00+01:00"))
    assert ticks.run(at("2026-11-23T19:59:00+01:00"))["fired"] == []
    assert ticks.run(at("2026-11-23T20:00:00+01:00"))["fired"] == []


def test_only_the_latest_fire_time_in_a_window_acts(aws, monkeypatch):
    use_policy(monkeypatch, shipped_with("stage", STAGE_SCALING + (
        "    every-ten:\n      target: api-stage\n      cron: '*/10 * * * *'\n      set: 3\n")))
    ecs_service("stage", "web", 2)
    from tests.scaling_kit import asg
    asg("api", 0, 4, 2)
    ticks.run(at("2026-11-23T10:00:30+00:00"))
    report = ticks.run(at("2026-11-23T10:35:00+00:00"))
    assert [(f["schedule"], f["at"]) for f in report["fired"]] == [("every-ten", "2026-11-23T10:30:00+00:00")]


def test_the_morning_does_not_fight_a_change_made_in_the_night(stage):
    ticks.run(at("2026-11-23T19:59:00+01:00"))
    ticks.run(at("2026-11-23T20:00:00+01:00"))
    boto3.client("ecs").update_service(cluster="stage", service="web", desiredCount=3)  # someone needed it back
    morning = ticks.run(at("2026-11-24T07:00:00+01:00"))
    assert morning["fired"][0]["outcome"] == "refused" and desired_count("stage", "web") == 3
    assert "changed since Switchboard set it to 0 (now 3): not restoring 2" in morning["fired"][0]["reason"]
    assert store.get_saved("web-stage", "schedule:night") is None


def test_a_morning_with_nothing_saved_does_nothing(stage):
    ticks.run(at("2026-11-24T06:59:00+01:00"))
    report = ticks.run(at("2026-11-24T07:00:00+01:00"))
    assert report["fired"] == [{"schedule": "morning", "target": "web-stage", "at": "2026-11-24T06:00:00+00:00",
                                "outcome": "succeeded",
                                "reason": "nothing saved to restore (already restored, or never changed)"}]
    assert desired_count("stage", "web") == 2 and audit.for_target("service/stage/web") == []


def test_a_schedule_with_a_duration_is_restored_when_it_ends(aws, monkeypatch):
    use_policy(monkeypatch, shipped_with("stage", STAGE_SCALING.replace(
        "      set: 0\n", "      set: 4\n      duration: 2h\n").replace("restore: night", "restore: night\n")))
    ecs_service("stage", "web", 2)
    ticks.run(at("2026-11-23T19:59:00+01:00"))
    ticks.run(at("2026-11-23T20:00:00+01:00"))
    assert desired_count("stage", "web") == 4
    report = ticks.run(at("2026-11-23T22:01:00+01:00"))
    assert report["restored"][0]["outcome"] == "succeeded" and desired_count("stage", "web") == 2


def test_a_disabled_section_ticks_nothing(aws, monkeypatch):
    use_policy(monkeypatch, shipped_with("stage", STAGE_SCALING.replace("enabled: true", "enabled: false")))
    assert ticks.run(at("2026-11-23T20:00:00+01:00"))["skipped"] == "scaling is disabled in this account's policy"


def test_ticks_need_an_aware_clock(stage):
    with pytest.raises(ValueError, match="timezone-aware"):
        ticks.run(datetime(2026, 11, 23, 20, 0))


def test_an_eventbridge_scheduler_event_runs_a_tick(stage):
    event = {"version": "0", "id": "tick-1", "source": "aws.scheduler", "account": "222233334444",
             "time": "2026-11-23T19:00:00Z", "region": "eu-west-1", "detail-type": "Scheduled Event", "detail": "{}",
             "resources": ["arn:aws:scheduler:eu-west-1:222233334444:schedule/default/switchboard-scaling-tick"]}
    outcome = handle(Kind.SCHEDULE, event, context())
    assert outcome["outcome"] == "processed"
    assert outcome["results"][0]["capability"] == "scaling" and outcome["results"][0]["outcome"] == "succeeded"


def test_the_local_worlds_fast_clock_task(stage, capsys):
    import json

    from localworld import scaling_tasks

    assert scaling_tasks.main(["clock", "--from", "2026-11-23T19:55:00+01:00", "--to", "2026-11-24T07:05:00+01:00",
                               "--every", "5m"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["ticks"] == 135
    assert [(r["local"][11:16], [f["schedule"] for f in r["fired"]], r["counts"]["web-stage"])
            for r in report["acted"]] == [("20:00", ["night"], 0), ("07:00", ["morning"], 2)]
    assert scaling_tasks.main(["tick", "--at", "2026-11-24T20:00:00+01:00"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["counts"] == {"api-stage": None,
                                                                                      "web-stage": 0}
    with pytest.raises(SystemExit):
        scaling_tasks.main(["tick", "--at", "2026-11-24T20:00:00"])  # no offset: refused


def test_a_task_sends_logs_to_stderr_while_it_runs_and_gives_the_stream_back(stage, capsys):
    from chalicelib.observability import logger
    from localworld import scaling_tasks

    before = logger.registered_handler.stream
    assert scaling_tasks.main(["tick", "--at", "2026-11-24T20:00:00+01:00"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("{")  # stdout is the answer alone: logs went elsewhere
    assert logger.registered_handler.stream is before  # a capture stream closed after this test is not kept
