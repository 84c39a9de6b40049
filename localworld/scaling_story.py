"""The scaling part of `switchboard demo` (hooked into ``localworld.demo.run`` by the lead, like ``slack_story``):

an alarm bumps ``web`` in prod within its ceiling; an operator's next change is refused by the cooldown; a prod
scale-in waits for an approver, who approves it, and prod plans it again and acts; stage's night schedule scales
``web-stage`` down at 20:00 Europe/Berlin and restores it at 07:00, on a fast clock.

Needs the scaling sections of the shipped policies and the wiring in app.py/capabilities.py (see the report).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from localworld.story import clip, until
from localworld.world import World

BERLIN = ZoneInfo("Europe/Berlin")


def story(world: World, say: Callable[[str], None], check: Callable[[str, bool, str], None], first: int = 12) -> None:
    n = first
    alice, carol = world.user("alice"), world.user("carol")

    say(f"\n{n}. CloudWatch: web-latency goes into ALARM in prod; its scaling rule adds 2 tasks to web (ceiling 6)")
    before = _service(world, "prod", "prod", "web")
    event_id = world.simulator("prod").alarm("web-latency", "ALARM", "Threshold Crossed: p99 latency 2.4 s > 1 s")
    runs = world.wait_invocations("prod", event_id)
    scaling = _result(runs, "scaling")
    after = until(lambda: _service(world, "prod", "prod", "web"), lambda v: v != before)
    said = until(lambda: _said(world, "#team-web", "by alarm"), bool)
    check("the alarm raises web within its guardrails, verified, audited and announced in #team-web",
          scaling.get("outcome") == "succeeded" and (before, after) == (2, 4) and bool(said),
          f"web {before} -> {after}; scaling: {scaling.get('outcome')} {scaling.get('actions')}; "
          f"Slack: {clip(said)}")

    n += 1
    say(f"\n{n}. alice (operator) types `/ops scale web 6` a moment later")
    status, _, _, url = alice.command("scale web 6")
    replies = world.wait_responses(url)
    reply = _reply(replies)
    check("refused by web's cooldown (10m), with the reason; nothing changes",
          "cooldown: the last change was" in reply and _service(world, "prod", "prod", "web") == 4,
          f"{clip(_line(reply, 'not scaled'), 80)} {clip(_line(reply, 'cooldown'), 100)}")

    n += 1
    say(f"\n{n}. alice types `/ops scale api 1`: a scale-in in prod")
    status, _, _, url = alice.command("scale api 1")
    reply = _reply(world.wait_responses(url))
    card = until(lambda: _card(world, "#team-api", "Approval needed: api "), bool)
    check("refused for now: it awaits an approver, and the card is posted in #team-api",
          "awaits an approver" in reply and card is not None and _group(world, "prod", "api") == 2,
          f"{clip(_line(reply, 'awaits'))}; card: {'posted' if card else 'missing'}")

    n += 1
    say(f"\n{n}. carol (approver) clicks Approve")
    decided = "(no card)"
    if card is not None:
        decision_id = re.search(r"id `([a-z]{3}-[0-9a-f]+)`", json.dumps(card.blocks)).group(1)
        _, _, _, url = carol.click("decision_approve", decision_id, card)
        decided = _reply(world.wait_responses(url))
    size = until(lambda: _group(world, "prod", "api"), lambda v: v == 1)
    check("prod hears the verdict, plans again against fresh state and scales api 2 -> 1",
          decided.startswith("approved") and size == 1, f"{clip(decided)}; api now {size}")

    n += 1
    monday = _next_monday()
    start = datetime.combine(monday, clock_time(19, 50), BERLIN)
    end = datetime.combine(monday + timedelta(days=1), clock_time(7, 10), BERLIN)
    say(f"\n{n}. Stage at night, on a fast clock: {start:%a %Y-%m-%d %H:%M} -> {end:%a %H:%M} Europe/Berlin, "
        f"a tick every 10 minutes")
    report = json.loads(world.run_in("stage", "localworld.scaling_tasks", "clock", "--from", start.isoformat(),
                                     "--to", end.isoformat(), "--every", "10m", function="scaling_tick")
                        .strip().splitlines()[-1])
    acted = [(datetime.fromisoformat(r["local"]).astimezone(BERLIN).strftime("%H:%M"),
              [f["schedule"] for f in r["fired"]], r["counts"].get("web-stage")) for r in report["acted"]]
    for when, fired, count in acted:
        say(f"     {when} {', '.join(fired) or 'restore'} -> web-stage {count}")
    final = _service(world, "stage", "stage", "web")
    check("web-stage goes to 0 at 20:00 and back to its saved size (2) at 07:00",
          acted == [("20:00", ["night"], 0), ("07:00", ["morning"], 2)] and final == 2,
          f"{report['ticks']} ticks; acted at {[a[0] for a in acted]}")


# ---- looking at the world ----

def _service(world: World, account: str, cluster: str, service: str) -> int:
    found = world.client(account, "ecs").describe_services(cluster=cluster, services=[service])["services"]
    return found[0]["desiredCount"]


def _group(world: World, account: str, name: str) -> int:
    groups = world.client(account, "autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return groups["AutoScalingGroups"][0]["DesiredCapacity"]


def _said(world: World, channel: str, needle: str) -> str:
    return next((m.text for m in world.slack.messages(channel) if m.text and needle in m.text), "")


def _card(world: World, channel: str, needle: str) -> Any:
    return next((m for m in world.slack.messages(channel) if needle in (m.text or "")), None)


def _result(runs: list[dict[str, Any]], capability: str) -> dict[str, Any]:
    if not runs:
        return {}
    return next((r for r in runs[0]["result"].get("results", []) if r["capability"] == capability), {})


def _reply(replies: list[dict[str, Any]]) -> str:
    """The first answer as a person reads it: its text, then the text of its blocks."""
    if not replies:
        return "(no reply)"

    def texts(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [node["text"]] if isinstance(node.get("text"), str) else [t for v in node.values() for t in texts(v)]
        return [t for v in node for t in texts(v)] if isinstance(node, list) else []

    body = texts(replies[0].get("blocks") or [])[1:]  # after the heading: the answer's lines, then the footer
    return "\n".join(body) if body else replies[0].get("text", "")


def _line(text: str, needle: str) -> str:
    """The line of ``text`` that says ``needle`` (else its first line)."""
    lines = text.splitlines() or [""]
    return next((line for line in lines if needle in line), lines[0])


def _next_monday() -> Any:
    """A Monday at least two days ahead: the fast clock must run ahead of the instances' own (real-time) ticks."""
    day = datetime.now(BERLIN).date() + timedelta(days=2)
    return day + timedelta(days=(7 - day.weekday()) % 7)
