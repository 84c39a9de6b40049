"""The promotion part of `switchboard demo`: a commit to web goes from stage to prod, gated and approved in Slack,
and a second one is rolled back when prod's alarm fires during its bake.

Pipelines run in the local world's CodePipeline emulation (localworld/codepipeline/); soaks and bakes end on a
fast clock (``localworld.promotion_tasks tick --at``), everything else happens as it would on AWS: events on the
accounts' buses, the hand-off as a ``release-candidate`` event from stage to prod, the approval card through the
front door, clicks signed like Slack's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from localworld import codepipeline
from localworld.story import clip, until
from localworld.world import World

COMMIT_1 = "4f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39"
COMMIT_2 = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a07"


def story(world: World, say: Callable[[str], None], check: Callable[[str, bool, str], None], first: int = 22) -> None:
    n = first
    stage, prod = world.accounts["stage"], world.accounts["prod"]
    bob, carol, root = world.user("bob"), world.user("carol"), world.user("root")

    say(f"\n{n}. A commit lands on web's main branch: web-stage builds and deploys it in stage")
    run = codepipeline.push(stage.id, stage.region, "web-stage", commit_id=COMMIT_1, author="alice@acme.example",
                            message="Checkout: retry payment <b>once</b> & log it")
    status = codepipeline.wait_for(stage.id, stage.region, "web-stage", run, timeout=30)
    soaking = _until(lambda: _promotion(world, "stage", COMMIT_1), lambda p: p and p["state"] == "soaking")
    card = _until(lambda: _card(world, COMMIT_1[:7], "soaking"), bool)
    check("stage's Switchboard makes it a candidate: soaking 20m, with a card in #team-web (commit message escaped)",
          status == "Succeeded" and bool(soaking) and card is not None and "&lt;b&gt;" in _text(card),
          f"web-stage {status}; promotion {soaking and soaking['state']}; card: {clip(_text(card))}")

    n += 1
    done = datetime.fromisoformat(soaking["succeeded_at"]) if soaking else datetime.now().astimezone()
    say(f"\n{n}. Fast clock: stage's tick 20 minutes later (soak over, web-* alarms quiet)")
    world.run_in("stage", "localworld.promotion_tasks", "tick", "--at", (done + timedelta(minutes=20)).isoformat(),
                 function="promotion_tick")
    target = _until(lambda: _promotion(world, "prod", COMMIT_1),
                    lambda p: p and p["state"] == "awaiting_approval" and p.get("decision_id"))
    card = _until(lambda: _card(world, COMMIT_1[:7], "awaiting approval"), lambda c: c and _buttons(c))
    check("handed to prod as a release-candidate event; prod asks two leads (S0LEADS) on the same kind of card",
          bool(target) and card is not None and "0 of 2" in _text(card),
          f"prod: {target and target['state']}; card: {clip(_text(card), 200)}")

    n += 1
    say(f"\n{n}. bob clicks Approve, then carol")
    decision = target.get("decision_id") if target else "pro-none"
    _, _, _, url = bob.click("decision_approve", decision, card)
    first_answer = _reply(world.wait_responses(url))
    _, _, _, url = carol.click("decision_approve", decision, card)
    second_answer = _reply(world.wait_responses(url))
    deploying = _until(lambda: _promotion(world, "prod", COMMIT_1),
                       lambda p: p and p["state"] in ("deploying", "verifying") and p.get("target_execution"))
    check("one approval waits for the second; with two, prod starts web-prod pinned to the stage revision",
          "1 of 2" in first_answer and bool(deploying) and _pinned(world, "prod", deploying) == COMMIT_1,
          f"bob: {clip(first_answer, 80)}; carol: {clip(second_answer, 80)}; "
          f"prod: {deploying and deploying['state']}")

    n += 1
    execution = deploying.get("target_execution") if deploying else None
    pipeline_status = (codepipeline.wait_for(prod.id, prod.region, "web-prod", execution, timeout=30)
                       if execution else "-")
    verifying = _until(lambda: _promotion(world, "prod", COMMIT_1), lambda p: p and p["state"] == "verifying")
    deployed = datetime.fromisoformat(verifying["deployed_at"]) if verifying and verifying.get("deployed_at") else None
    say(f"\n{n}. web-prod succeeds; fast clock: prod's tick after the 10m bake (web-* alarms quiet)")
    if deployed:
        later = (deployed + timedelta(minutes=10)).isoformat()
        world.run_in("prod", "localworld.promotion_tasks", "tick", "--at", later, function="promotion_tick")
    promoted = _until(lambda: _promotion(world, "prod", COMMIT_1), lambda p: p and p["state"] == "promoted")
    card = _until(lambda: _card(world, COMMIT_1[:7], "promoted"), bool)
    cards = [m for m in world.slack.messages("#team-web") if COMMIT_1[:7] in _text(m)]
    check("promoted: one card in #team-web from soak to promoted (stage's, taken over by prod), updated in place",
          pipeline_status == "Succeeded" and bool(promoted) and card is not None and not _buttons(card)
          and len(cards) == 1,
          f"web-prod {pipeline_status}; prod: {promoted and promoted['state']}; {len(cards)} card(s): "
          f"{clip(_text(card), 100)}")

    n += 1
    say(f"\n{n}. A second commit; root (admin) types `/ops promote web --skip-soak` once stage has built it")
    run = codepipeline.push(stage.id, stage.region, "web-stage", commit_id=COMMIT_2, author="carol@acme.example",
                            message="Checkout: new tax rounding")
    codepipeline.wait_for(stage.id, stage.region, "web-stage", run, timeout=30)
    _until(lambda: _promotion(world, "stage", COMMIT_2), bool)
    _, _, _, url = root.command("promote web --skip-soak")
    answer = _reply(world.wait_responses(url))
    target = _until(lambda: _promotion(world, "prod", COMMIT_2),
                    lambda p: p and p["state"] == "awaiting_approval" and p.get("decision_id"))
    card = _until(lambda: _card(world, COMMIT_2[:7], "awaiting approval"), lambda c: c and _buttons(c))
    for approver in (bob, carol):
        if target and card is not None:
            _, _, _, url = approver.click("decision_approve", target["decision_id"], card)
            world.wait_responses(url)
    second = _until(lambda: _promotion(world, "prod", COMMIT_2), lambda p: p and p["state"] == "verifying",
                    timeout=40)
    check("stage hands it over at once (soak skipped by an admin, audited); approved by two leads, deployed",
          "Promoting web" in answer and bool(second) and second.get("skip_soak") is True,
          f"{clip(answer, 80)}; prod: {second and second['state']}")

    n += 1
    say(f"\n{n}. CloudWatch: web-5xx goes into ALARM in prod during the bake")
    world.simulator("prod").alarm("web-5xx", "ALARM", "Threshold Crossed: 5xx 42 > 5")
    rolled = _until(lambda: _promotion(world, "prod", COMMIT_2), lambda p: p and p["state"] == "rolled_back"
                    and p.get("rollback_execution"))  # its id is recorded once the start is done
    back = rolled.get("rollback_execution") if rolled else None
    restored_status = codepipeline.wait_for(prod.id, prod.region, "web-prod", back, timeout=30) if back else "-"
    restored = _until(lambda: _promotion(world, "prod", COMMIT_2), lambda p: p and p.get("restored_at"))
    card = _until(lambda: _card(world, COMMIT_2[:7], "rolled back"), bool)
    check("the bake fails on web-5xx; prod redeploys the last promoted revision (pinned), the card says so",
          bool(restored) and _pinned(world, "prod", {"target_execution": back}) == COMMIT_1 and card is not None,
          f"prod: {rolled and rolled['state']} ({clip(rolled and rolled.get('failure'), 60)}); rollback run "
          f"{restored_status}; card: {clip(_text(card), 100)}")
    world.simulator("prod").alarm("web-5xx", "OK", "Threshold Crossed: 5xx 0 < 5")

    n += 1
    say(f"\n{n}. dave types `/ops status web`")
    _, _, _, url = world.user("dave").command("status web")
    replies = world.wait_responses(url, count=3, timeout=30)
    texts = [_reply([r]) for r in replies]
    prod_said = next((t for t in texts if "Running in prod" in t), "")
    check("the front door, stage and prod each answer: what runs in prod, and web's DORA keys",
          COMMIT_1[:7] in prod_said and "change failure rate: 50%" in prod_said,
          clip(" | ".join(_line(prod_said, k) for k in ("Running in prod", "deploys:", "change failure")), 240))


# ---- reading the world ----

def _promotion(world: World, account: str, commit: str) -> dict[str, Any] | None:
    """The account's newest promotion of web at ``commit``, read from its state table as stored."""
    table = world.accounts[account].env.get("SWITCHBOARD_STATE_TABLE", "switchboard-state")
    items = world.client(account, "dynamodb").query(
        TableName=table, KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": {"S": "promotion#web"}, ":sk": {"S": "promo#"}}, ConsistentRead=True)
    found = [json.loads(i["data"]["S"]) for i in items.get("Items", []) if "data" in i]
    found = sorted((p for p in found if p["revision"]["id"] == commit), key=lambda p: p["created_at"])
    return found[-1] if found else None


def _pinned(world: World, account: str, promotion: dict[str, Any] | None) -> str | None:
    execution = (promotion or {}).get("target_execution")
    if not execution:
        return None
    client = world.client(account, "codepipeline")

    def revisions() -> list[dict[str, Any]]:  # known once the run's Source action has fetched the revision
        found = client.get_pipeline_execution(pipelineName="web-prod", pipelineExecutionId=execution)
        return found["pipelineExecution"].get("artifactRevisions") or []

    found = _until(revisions, bool)
    return found[0]["revisionId"] if found else None


def _card(world: World, short: str, state: str) -> Any:
    """The newest promotion card in #team-web for the revision, if it shows ``state``."""
    cards = [m for m in world.slack.messages("#team-web") if short in _text(m)]
    return next((m for m in reversed(cards) if state in _text(m)), None)


def _text(message: Any) -> str:
    if message is None:
        return ""
    return (message.text or "") + " " + json.dumps(message.blocks or [])


def _buttons(message: Any) -> bool:
    return "decision_approve" in json.dumps(message.blocks or [])


def _reply(replies: list[dict[str, Any]]) -> str:
    if not replies:
        return "(no reply)"
    return (replies[0].get("text") or "") + " " + json.dumps(replies[0].get("blocks") or [])


def _line(text: str, needle: str) -> str:
    return next((part for part in text.replace("\\n", "\n").splitlines() if needle in part), "")


def _until(read: Callable[[], Any], done: Callable[[Any], Any], timeout: float = 30.0) -> Any:
    """``story.until`` with this story's longer wait (pipeline runs and cross-account hops)."""
    return until(read, done, timeout)
