"""The dead-letter part of `switchboard demo`: a function that keeps crashing is noticed and its work redriven.

The local world injects the crash (``World.fault``: the handler's invocations raise, as a Lambda that dies or
times out would). After the first try and Lambda's two retries the instance writes Lambda's failure record to
``switchboard-dead-letters``; the world plays CloudWatch's part for the queue's alarm; the alarm event goes
through Switchboard's own alert routing; then the operator redrives it, as `switchboard dead-letters redrive`
does, and the event is processed once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from localworld.story import clip, until
from localworld.world import World

ALARM = "switchboard-dead-letters"


def story(world: World, say: Callable[[str], None], check: Callable[[str, bool, str], None], first: int) -> None:
    n = first
    say(f"\n{n}. on_autoscaling in stage crashes on every try (a fault the local world injects), and an Auto "
        "Scaling event arrives")
    world.fault("stage", "on_autoscaling")
    event_id = world.simulator("stage").put("aws.autoscaling", "EC2 Instance Launch Successful", {
        "AutoScalingGroupName": "api", "StatusCode": "InProgress", "EC2InstanceId": "i-0deadbeef"})
    tries = until(lambda: world.invocations("stage", event_id), lambda runs: len(runs) >= 3, timeout=30)
    letters = until(lambda: _letters(world), lambda found: any(d["function"].endswith("on_autoscaling")
                                                               for d in found), timeout=15)
    noticed = until(lambda: _alarm_entries(world), bool, timeout=20)
    check("after Lambda's two retries it is a dead letter, and the queue's alarm reaches alert routing in stage",
          len(tries) >= 3 and all(r["status"] == "error" for r in tries) and bool(letters) and bool(noticed),
          f"tries: {len(tries)}; dead letters: "
          f"{clip([(d['function'], d['condition'], d['attempts']) for d in letters])}; "
          f"{ALARM} audit: {clip([(e['action'], e['outcome']) for e in noticed])}")

    n += 1
    say(f"\n{n}. The fault is fixed; the operator runs `switchboard dead-letters redrive --account stage --all`")
    world.fault("stage", "on_autoscaling", on=False)
    redriven = json.loads(world.run_in("stage", "localworld.deadletter_tasks", "redrive", "--all",
                                       function=None))["redriven"]
    runs = until(lambda: [r for r in world.invocations("stage", event_id) if r["status"] == "ok"], bool, timeout=20)
    empty = until(lambda: _letters(world), lambda found: not found, timeout=10)
    audited = [e for e in world.audit("stage") if e["action"] == "deadletters.redrive"]
    check("the function runs the event once more and it is processed; the queue is empty; the redrive is audited",
          len(runs) == 1 and runs[0]["result"]["outcome"] == "processed" and not empty and len(audited) == 1,
          f"redriven: {clip([(r['function'], r['outcome']) for r in redriven])}; "
          f"then {runs and runs[0]['result']['outcome']}; audit: {clip([e['reason'] for e in audited])}")


def _letters(world: World) -> list[dict[str, Any]]:
    return json.loads(world.run_in("stage", "localworld.deadletter_tasks", "list", function=None))["letters"]


def _alarm_entries(world: World) -> list[dict[str, Any]]:
    return [e for e in world.audit("stage") if e["target"] == f"alarm/{ALARM}" and e["action"].startswith("alerts")]
