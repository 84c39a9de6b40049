"""The alert-routing part of `switchboard demo`: an alarm storm in two accounts, on the local world.

    story(world, say, check)      played by localworld/demo.py after the Slack story

Alarms flip in prod and stage; each account's Switchboard groups them into incidents and the front door shows
one Slack message per group, updated in place; a silence typed in Slack takes effect; an account-wide load
balancer alarm inhibits the per-service 5xx alarm; nobody acknowledges web's incident in time, so PagerDuty (a
loopback stand-in) is paged; alice clicks Ack; everything recovers and every message says so, in place.

The flushes that send notifications run every minute in each instance; the story does not wait for them: it
runs the same flush in the account's environment with a clock moved forward (``python -m localworld.alerts_story
flush --at <iso>``, through ``World.run_in``), which is the local world's fast clock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

PD_SECRET = "switchboard/pagerduty/web"  # noqa: S105 - a Secrets Manager name
PD_KEY = "L0CA1W0R1DPAGERDUTYR0UT1NGKEY000"  # noqa: S105 - the stand-in's; 32 characters, as PagerDuty's routing keys


def story(world: Any, say: Callable[[str], None], check: Callable[[str, bool, str], None]) -> None:
    from localworld.alerts_standin import ReceiversStandIn

    pagerduty = ReceiversStandIn().start()
    try:
        _story(world, say, check, pagerduty)
    finally:
        pagerduty.stop()


def _story(world: Any, say: Callable[[str], None], check: Callable[[str, bool, str], None], pagerduty: Any) -> None:
    start = datetime.now(UTC)
    for account in ("prod", "stage"):
        _secret(world.client(account, "secretsmanager"), PD_SECRET,
                json.dumps({"routing_key": PD_KEY, "url": pagerduty.pagerduty_url}))
    world.client("prod", "cloudwatch").put_metric_alarm(
        AlarmName="alb-outage", Namespace="AWS/ApplicationELB", MetricName="UnHealthyHostCount",
        Dimensions=[{"Name": "LoadBalancer", "Value": "app/shared-prod/0456"}], Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        Tags=[{"Key": "scope", "Value": "account"}, {"Key": "severity", "Value": "page"}])

    say("\nA1. Alarm storm: web-5xx, web-latency and api-5xx go into ALARM in prod, web-5xx in stage")
    fired = [("prod", "web-5xx"), ("prod", "web-latency"), ("prod", "api-5xx"), ("stage", "web-5xx")]
    ran = [_alarm(world, account, name, "ALARM") for account, name in fired]
    check("each account's Switchboard puts each alarm in its group's incident (web-5xx fires since step 2)",
          all(r and (" opened " in r or " joined " in r or " updated " in r) for r in ran),
          "; ".join(r or "not processed" for r in ran))

    say("\nA2. Six minutes later (fast clock) the flush has told each group's channel once")
    # (the instances' own every-minute flush may already have told web-5xx's group, alone, in real time: six
    # minutes is past group_wait and group_interval either way)
    _flush(world, "prod", start + timedelta(minutes=6))
    _flush(world, "stage", start + timedelta(minutes=6))
    web = _wait_message(world, "#team-web", lambda m: "FIRING" in m.text)
    api = _wait_message(world, "#team-api", lambda m: "FIRING" in m.text)
    stage = _wait_message(world, "#stage-alerts", lambda m: "FIRING" in m.text)
    grouped = web is not None and "2 alarms" in web.text and "web-latency" in json.dumps(web.blocks)
    check("one message per group: prod's two web alarms share one, api and stage have their own",
          grouped and api is not None and stage is not None and len(_cards(world, "#team-web")) == 1,
          f"#team-web: {_title(web)} | #team-api: {_title(api)} | #stage-alerts: {_title(stage)}")

    say("\nA3. alice types `/ops silence alarm=api-latency env=prod for 1h noisy during the deploy`")
    alice = world.user("alice")
    _, _, _, url = alice.command("silence alarm=api-latency env=prod for 1h noisy during the deploy")
    replies = world.wait_responses(url)
    _alarm(world, "prod", "api-latency", "ALARM")
    _flush(world, "prod", start + timedelta(minutes=12))
    api = _wait_message(world, "#team-api", lambda m: "api-latency" in json.dumps(m.blocks))
    shown = json.dumps(api.blocks) if api else ""
    check("the front door forwards it to prod; api-latency then joins api's incident muted, nobody is pinged",
          bool(replies) and replies[0]["text"].startswith("Silenced in prod") and "silenced by prod.s" in shown,
          f"reply: {replies[0]['text'][:80] if replies else '(none)'}; card: "
          f"{'api-latency shown as silenced' if 'silenced by' in shown else 'not updated'}")

    say("\nA4. alb-outage (tagged scope=account) fires in prod: it inhibits the per-service 5xx alarm")
    _alarm(world, "prod", "alb-outage", "ALARM")
    _flush(world, "prod", start + timedelta(minutes=13))
    _flush(world, "prod", start + timedelta(minutes=18))
    outage = _wait_message(world, "#prod-alerts", lambda m: "alb-outage" in m.text)
    web = _wait_message(world, "#team-web", lambda m: "inhibited by alb-outage" in json.dumps(m.blocks))
    check("alb-outage is told in #prod-alerts, web-5xx is shown inhibited in web's message (in place)",
          outage is not None and web is not None and web.updated >= 1,
          f"#prod-alerts: {_title(outage)}; web card updated {web.updated if web else 0}x")

    say("\nA5. Nobody acknowledged web's incident within 10 minutes: escalated to PagerDuty")
    inc_id = _incident_id(_cards(world, "#team-web")[0])
    triggered = _wait(lambda: [e for e in pagerduty.pagerduty() if e["event_action"] == "trigger"])
    check("PagerDuty gets a trigger whose dedup key is the incident id",
          bool(triggered) and triggered[0]["dedup_key"] == inc_id,
          f"{len(triggered)} trigger(s), dedup_key {triggered[0]['dedup_key'] if triggered else '-'}")

    say(f"\nA6. alice clicks Ack on the card ({inc_id})")
    card = _cards(world, "#team-web")[0]
    _, _, _, url = alice.click("incident_ack", inc_id, card)
    replies = world.wait_responses(url)
    acked = _wait_message(world, "#team-web", lambda m: "Acknowledged by" in json.dumps(m.blocks))
    told = _wait(lambda: pagerduty.incident(inc_id) == "acknowledged")
    check("the button runs `/ops ack` in prod: the card says who acked, PagerDuty hears it, escalation stops",
          bool(replies) and replies[0]["text"].startswith("acknowledged") and acked is not None and told,
          f"reply: {replies[0]['text'][:80] if replies else '(none)'}; PagerDuty: {pagerduty.incident(inc_id)}")

    say("\nA7. Everything recovers; the next flush resolves each message in place")
    for account, name in [*fired, ("prod", "api-latency"), ("prod", "alb-outage")]:
        _alarm(world, account, name, "OK")
    _flush(world, "prod", start + timedelta(minutes=30))
    _flush(world, "stage", start + timedelta(minutes=30))
    done = {ch: _wait_message(world, ch, lambda m: "RESOLVED" in m.text)
            for ch in ("#team-web", "#team-api", "#stage-alerts", "#prod-alerts")}
    single = all(len(_cards(world, ch)) == 1 for ch in done)
    resolved = _wait(lambda: pagerduty.incident(inc_id) == "resolved")
    check("every group's one message now says RESOLVED (updated in place), PagerDuty resolved",
          all(done.values()) and single and resolved,
          "; ".join(f"{ch}: {_title(m)} ({m.updated if m else 0} updates)" for ch, m in done.items()))


# ---- helpers ----

def _secret(client: Any, name: str, value: str) -> None:
    try:
        client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)


def _alarm(world: Any, account: str, name: str, state: str) -> str | None:
    event_id = world.simulator(account).alarm(name, state, f"Threshold Crossed (local world: {state})")
    runs = world.wait_invocations(account, event_id)
    if not runs:
        return None
    results = runs[0]["result"].get("results", [])
    return results[0].get("reason") if results else runs[0]["result"].get("reason")


def _flush(world: Any, account: str, at: datetime) -> dict[str, int]:
    out = world.run_in(account, "localworld.alerts_story", "flush", "--at", at.isoformat(),
                       function="alerts_flush")
    last = [line for line in out.splitlines() if line.startswith("FLUSHED ")]  # the instance logs to stdout too
    return json.loads(last[-1][len("FLUSHED "):]) if last else {}


def _wait(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _cards(world: Any, channel: str) -> list[Any]:
    """The incident cards in a channel (other messages, such as step 11's approval card, are not counted)."""
    return [m for m in world.slack.messages(channel) if m.thread_ts is None and "incident `" in json.dumps(m.blocks)]


def _wait_message(world: Any, channel: str, predicate: Callable[[Any], bool]) -> Any:
    return _wait(lambda: next((m for m in _cards(world, channel) if predicate(m)), None))


def _title(message: Any) -> str:
    return message.text[:70] if message is not None else "(no message)"


def _incident_id(message: Any) -> str:
    for block in message.blocks or []:
        if block.get("type") == "actions":
            return block["elements"][0]["value"]
    return "?"


def main(argv: list[str] | None = None) -> int:
    """``flush --at <iso time>``: run the alerts flush in this account's environment at that instant."""
    parser = argparse.ArgumentParser(prog="localworld.alerts_story")
    sub = parser.add_subparsers(dest="task", required=True)
    flush = sub.add_parser("flush", help="flush due incidents as the every-minute schedule would, at --at")
    flush.add_argument("--at", required=True, help="ISO time with offset")
    args = parser.parse_args(argv)
    from chalicelib.alerts import flush as alerts_flush

    print("FLUSHED " + json.dumps(alerts_flush.run(datetime.fromisoformat(args.at))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
