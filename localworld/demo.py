"""`switchboard demo`: start the local world, play a scripted story through every capability that exists so
far, print a readable timeline, and exit 0 only if every step did what it should.

Story (foundation): a pipeline succeeds in stage, an alarm fires in prod, EventBridge delivers that alarm
twice (the ledger processes it once), a malformed event is rejected with its reason, stage hands a release
candidate to prod across accounts, and a peer that may not send release candidates is refused.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localworld.world import World


@dataclass
class Step:
    title: str
    ok: bool
    detail: str


def run(world: World, say: Callable[[str], None] = print) -> list[Step]:
    steps: list[Step] = []

    def check(title: str, ok: bool, detail: str) -> None:
        steps.append(Step(title, ok, detail))
        say(f"  [{'ok' if ok else 'FAIL'}] {title}: {detail}")

    stage, prod, shared = world.accounts["stage"], world.accounts["prod"], world.accounts["shared-services"]

    say("\n1. CodePipeline: web-stage succeeds in stage")
    event_id, _ = world.simulator("stage").pipeline("web-stage", "SUCCEEDED")
    runs = world.wait_invocations("stage", event_id)
    check("pipeline event reaches on_codepipeline in stage", _outcome(runs) == "processed",
          _describe(runs))

    say("\n2. CloudWatch: web-5xx goes into ALARM in prod")
    event_id = world.simulator("prod").alarm("web-5xx", "ALARM", "Threshold Crossed: 3 datapoints > 10.0")
    runs = world.wait_invocations("prod", event_id)
    check("alarm event reaches on_alarm in prod", _outcome(runs) == "processed", _describe(runs))

    say("\n3. EventBridge delivers the same alarm event again (at-least-once)")
    if runs:
        mark = world.mark()
        world.redeliver("prod", "on_alarm", runs[0]["event"])
        again = world.wait_invocations("prod", event_id, since=mark)
        entries = [e for e in world.audit("prod") if e["correlation_id"] == event_id]
        check("the ledger processes it once", bool(again) and again[0]["result"]["duplicate"] and len(entries) == 1,
              f"second delivery duplicate={bool(again) and again[0]['result']['duplicate']}, "
              f"audit entries for the event: {len(entries)}")

    say("\n4. A malformed CodePipeline event (no execution-id, version 1.5)")
    event_id = world.simulator("stage").put("aws.codepipeline", "CodePipeline Pipeline Execution State Change",
                                            {"pipeline": "web-stage", "state": "SUCCEEDED", "version": 1.5})
    runs = world.wait_invocations("stage", event_id)
    check("rejected with a reason, not retried", _outcome(runs) == "rejected", _describe(runs))

    say("\n5. stage hands a release candidate to prod (peer event across accounts)")
    event_id = world.simulator("stage").to_peer(prod.id, "release-candidate",
                                                {"app": "web", "revision": "9f2c1e7", "pipeline": "web-stage"})
    runs = world.wait_invocations("prod", event_id)
    check(f"prod's on_peer accepts it from stage ({stage.id})",
          _outcome(runs) == "processed" and runs[0]["result"]["results"][0]["capability"] == "promotion",
          _describe(runs))

    say("\n6. shared-services tries to send prod a release candidate (its policy admits only commands)")
    event_id = world.simulator("shared-services").to_peer(prod.id, "release-candidate", {"app": "web"})
    runs = world.wait_invocations("prod", event_id)
    check(f"prod refuses the flow from shared-services ({shared.id})", _outcome(runs) == "rejected",
          _describe(runs))
    return steps


def _outcome(runs: list[dict[str, Any]]) -> str | None:
    return runs[0]["result"]["outcome"] if runs else None


def _describe(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "no handler ran within the timeout"
    result = runs[0]["result"]
    parts = [f"{runs[0]['handler']} -> {result['outcome']}"]
    parts += [f"{r['capability']}: {r['outcome']}" for r in result.get("results", [])]
    if result.get("reason"):
        parts.append(f"reason: {result['reason'][:160]}")
    return "; ".join(parts)


def timeline(world: World) -> list[str]:
    rows = []
    for name in world.accounts:
        for entry in world.audit(name):
            rows.append((entry["at"], name, entry))
    lines = []
    for at, name, entry in sorted(rows, key=lambda r: r[0]):
        reason = f"  {entry['reason'][:90]}" if entry.get("reason") else ""
        lines.append(f"{at[11:23]}  {name:<16} {entry['action']:<19} {entry['target']:<22} "
                     f"{entry['capability']:<10} {entry['outcome']:<9}{reason}")
    return lines


def main() -> int:
    print("Starting the local world (moto + Slack stand-in + one Switchboard per account)...")
    with World(log=lambda line: print("  " + line)) as world:
        steps = run(world)
        print("\nTimeline (audit log of every account, oldest first):")
        print(f"{'time':<12}  {'account':<16} {'action':<19} {'target':<22} {'capability':<10} outcome")
        for line in timeline(world):
            print(line)
        print(f"\nSlack stand-in received {len(world.slack.calls)} call(s); instance logs in {world.workdir / 'logs'}")
    failed = [s for s in steps if not s.ok]
    print(f"\n{len(steps) - len(failed)} of {len(steps)} steps did what they should.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
