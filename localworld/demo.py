"""`switchboard demo`: start the local world, play a scripted story through every capability that exists so
far, print a readable timeline, and exit 0 only if every step did what it should.

Story: a pipeline succeeds in stage, an alarm fires in prod, EventBridge delivers that alarm twice (the ledger
processes it once), a malformed event is rejected with its reason, stage hands a release candidate to prod across
accounts, and a peer that may not send release candidates is refused. Then Slack: a signed `/ops status`, a forged
request, a command forwarded to two peers, an RBAC denial, and an approval card clicked by three people.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localworld import (
    alerts_story,
    codepipeline,
    deadletter_story,
    promotion_story,
    rotation_story,
    scaling_story,
    slack_user,
)
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

    say("\n1. CodePipeline: a commit to api runs api-stage in stage, which succeeds")
    execution, _ = world.simulator("stage").push("api-stage", message="Bump api dependencies")
    codepipeline.wait_for(stage.id, stage.region, "api-stage", execution, timeout=30)
    event_id = next((e["id"] for e in codepipeline.events(stage.id, stage.region, "api-stage")
                     if e["detail"].get("execution-id") == execution and e["detail"].get("state") == "SUCCEEDED"
                     and e["detail-type"] == "CodePipeline Pipeline Execution State Change"), "?")
    runs = world.wait_invocations("stage", event_id)
    check("the pipeline's own events reach on_codepipeline in stage; promotion makes the build a candidate",
          _outcome(runs) == "processed" and "candidate" in json.dumps(runs[0]["result"] if runs else {}),
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
    sealed_detail = world.simulator("stage").seal({
        "to_account": prod.id, "from_account": "stage", "flow": "release-candidate",
        "payload": {"app": "web", "revision": "9f2c1e7", "pipeline": "web-stage"}})
    event_id = world.simulator("stage").put("switchboard", "Switchboard release-candidate", sealed_detail)
    runs = world.wait_invocations("prod", event_id)
    check(f"prod's on_peer accepts it from stage ({stage.id}); promotion refuses a payload that names no promotion",
          _outcome(runs) == "processed" and runs[0]["result"]["results"][0]["capability"] == "promotion",
          _describe(runs))

    say("\n6. shared-services tries to send prod a release candidate (its policy admits only commands)")
    event_id = world.simulator("shared-services").to_peer(prod.id, "release-candidate", {"app": "web"})
    runs = world.wait_invocations("prod", event_id)
    check(f"prod refuses the flow from shared-services ({shared.id})", _outcome(runs) == "rejected",
          _describe(runs))

    say("\n6b. Someone in stage who may call PutEvents, but is not stage's Switchboard, forges a release candidate;"
        "\n    then the genuine one from step 5 is put on the bus again")
    event_id = world.simulator("stage").to_peer(prod.id, "release-candidate", {"app": "web"}, signed=False)
    runs = world.wait_invocations("prod", event_id)
    check("prod refuses the unsigned event: only what stage's signing key signed is believed",
          _outcome(runs) == "rejected" and "unsigned" in (runs[0]["result"]["reason"] or ""), _describe(runs))
    replayed = world.simulator("stage").put("switchboard", "Switchboard release-candidate", sealed_detail)
    runs = world.wait_invocations("prod", replayed)
    check("prod refuses the copy: each envelope is believed once",
          _outcome(runs) == "rejected" and "replayed" in (runs[0]["result"]["reason"] or ""), _describe(runs))

    slack_story(world, say, check)
    # Order matters where stories share the estate: scaling's alarm rule watches web-latency, which the alerts
    # storm then fires again (scaling has already acted on it); rotation's deliberate failure opens a real stage
    # alert, so it comes after the alerts story has shown every group resolving.
    scaling_story.story(world, say, check, first=12)
    alerts_story.story(world, say, check)
    rotation_story.story(world, say, check, first=17, postgres=world.postgres)
    promotion_story.story(world, say, check, first=22)
    deadletter_story.story(world, say, check, first=29)
    return steps


def slack_story(world: World, say: Callable[[str], None], check: Callable[[str, bool, str], None]) -> None:
    front = next(iter(world.http))
    dave, bob, carol = world.user("dave"), world.user("bob"), world.user("carol")

    say(f"\n7. Slack: dave (viewer) types `/ops status web`; the front door runs in {front}")
    status, ack, seconds, url = dave.command("status web")
    replies = world.wait_responses(url)
    check("signed, acked within Slack's 3 s, answered by the lazy listener",
          status == 200 and seconds < 3 and bool(replies) and replies[0]["text"].startswith("Status"),
          f"ack {status} in {seconds * 1000:.0f} ms ({_text(ack)}); reply: {_reply(replies)}")

    say("\n8. Someone posts the same command with a forged signature")
    forged = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(int(time.time())),
              "X-Slack-Signature": "v0=" + "0" * 64}
    status, body, _, url = dave.command("status web", headers=forged)
    check("refused before anything runs", status == 401 and not world.slack.responses(url), f"HTTP {status}")

    say("\n9. dave types `/ops audit web 3`: web runs in stage and prod, so the front door forwards it to both")
    status, ack, _, url = dave.command("audit web 3")
    replies = world.wait_responses(url, count=2)
    check("each peer re-checks dave's role with its own policy and answers on the response_url",
          sorted(r["text"].split(" (")[0] for r in replies) == ["Audit in prod", "Audit in stage"],
          "; ".join(_reply([r]) for r in replies) or "no replies")

    say("\n10. dave tries `/ops hold web release freeze` (holding prod needs the operator role there)")
    status, ack, _, url = dave.command("hold web release freeze")
    replies = world.wait_responses(url)
    check("denied, naming the missing role, and audited",
          bool(replies) and "operator role in prod" in replies[0]["text"], _reply(replies))

    say("\n11. An approval card: web 9f2c1e7 to prod, requested by alice, written by bob (as promotion will ask)")
    asked = json.loads(world.run_in(front, "localworld.tasks", "request-approval", "--title", "web 9f2c1e7 to prod",
                                    "--summary", "promote web 9f2c1e7 (fix <checkout> & totals)", "--env", "prod",
                                    "--requester", slack_user.uid("alice"), "--author", "bob@acme.example",
                                    "--channel", "#team-web", function="on_peer"))
    card = next(m for m in world.slack.messages("#team-web") if m.ts == asked["ts"])
    results = []
    for person in (bob, carol, dave):
        _, _, _, url = person.click("decision_approve", asked["id"], card)
        results.append((person.handle, _reply(world.wait_responses(url))))
    card = next(m for m in world.slack.messages("#team-web") if m.ts == asked["ts"])
    for handle, reply in results:
        say(f"     {handle} clicks Approve -> {reply}")
    ok = ("four eyes: you wrote this change" in results[0][1] and results[1][1].startswith("approved")
          and results[2][1].startswith("already approved by") and card.updated == 1
          and "*Approved* by" in json.dumps(card.blocks))
    check("four eyes hold, the first allowed click decides, the card is updated in place, a late click changes nothing",
          ok, f"card now: {'Approved' if 'Approved' in json.dumps(card.blocks) else 'pending'} "
              f"(updated {card.updated}x)")


def _text(body: Any) -> str:
    return body.get("text", "") if isinstance(body, dict) else str(body)[:80]


def _reply(replies: list[dict[str, Any]]) -> str:
    return replies[0].get("text", "")[:140] if replies else "(no reply)"


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


def without(dropped: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """The generated policies of each account with the statements named ``ACCOUNT/FUNCTION/SID`` taken away (to see
    the demo fail when a story needs one of them)."""
    from infra import iam_policy

    policies: dict[str, dict[str, dict[str, Any]]] = {}
    for item in dropped:
        parts = item.split("/")
        if len(parts) != 3:
            raise ValueError(f"{item!r}: say ACCOUNT/FUNCTION/SID, e.g. prod/on_alarm/Ledger")
        account, function, sid = parts
        documents = policies.setdefault(account, iam_policy.policies_for(account))
        if function not in documents:
            raise ValueError(f"{item!r}: {account} has no function {function} ({', '.join(sorted(documents))})")
        kept = [s for s in documents[function]["Statement"] if s["Sid"] != sid]
        if len(kept) == len(documents[function]["Statement"]):
            raise ValueError(f"{item!r}: {function} in {account} has no statement {sid} "
                             f"({', '.join(s['Sid'] for s in kept)})")
        documents[function] = {**documents[function], "Statement": kept}
    return policies


def main(dropped: list[str] | None = None, stay: bool = False, announce: bool = False) -> int:
    """Play the story. ``stay``: keep the world serving afterwards until Ctrl-C or SIGTERM (`switchboard down`);
    ``announce``: say when the story is played (``background.DONE``), for the process that detached this one."""
    from localworld import background

    policies = without(dropped or [])
    for item in dropped or []:
        print(f"Taking {item} out of the generated policies")
    if stay:
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # `switchboard down`: stop as Ctrl-C does
        background.down(say=print)  # one world at a time
        background.claim()
    print("Starting the local world (moto, the Slack stand-in, one process per Switchboard function under its role)...")
    try:
        with World(log=lambda line: print("  " + line), policies=policies) as world:
            steps = run(world)
            print("\nTimeline (audit log of every account, oldest first):")
            print(f"{'time':<12}  {'account':<16} {'action':<19} {'target':<22} {'capability':<10} outcome")
            for line in timeline(world):
                print(line)
            print(f"\nSlack stand-in received {len(world.slack.calls)} call(s) "
                  f"(recorded in {world.workdir / 'slack.jsonl'}); instance logs in {world.workdir / 'logs'}")
            denied = world.denials()
            failed = [s for s in steps if not s.ok]
            print(f"\n{len(steps) - len(failed)} of {len(steps)} steps did what they should.")
            if denied:
                print(f"\nIAM refused {len(denied)} call(s): a function's generated policy lacks a permission its "
                      "story needs (fix it in the capability's permissions.py, then `make iam-policy`):",
                      file=sys.stderr)
                for line in sorted({d.line() for d in denied}):
                    print(f"  {line}", file=sys.stderr)
            rc = 1 if failed or denied else 0
            print(f"\nWhere to look: the console at {world.console_url} shows this story (promotions, incidents,")
            print("silences, scaling, rotations, audit, DORA); sign in as root (admin), alice, dave, or sam "
                  "(stage only).")
            if announce:
                print(f"{background.DONE} {rc} {world.console_url}", flush=True)
            elif stay:
                print("The world stays up until Ctrl-C.")
            else:
                print("The world stops now: `make run` (or `make console`) keeps it up to browse the console.")
            if stay:
                try:
                    while True:
                        time.sleep(1)
                except KeyboardInterrupt:
                    print("Stopping the local world.")
    finally:
        if stay:
            background.release()
    return rc


if __name__ == "__main__":
    sys.exit(main())
