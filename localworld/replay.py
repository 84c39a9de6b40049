"""`switchboard replay`: put recorded events on the emulated bus and report what each one caused.

An event goes on the bus of the account named by ``--account`` (else the account in the recording); moto's
rules route it; the report names the handler(s) that ran, the outcome and the actions taken. What never
reaches a handler is reported too, with the reason: a file that is not JSON, an event the bus refuses, an
event no Switchboard rule matches. A recorded Switchboard peer event is sealed again by the sending account's
key before it goes on the bus (its recorded envelope, if any, has expired; see chalicelib/peering).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from localworld.world import World, WorldError

REQUIRED = ("source", "detail-type", "detail")


def load(paths: list[str]) -> list[tuple[str, Any, str | None]]:
    """(name, event, error) for every event in the files and directories given, in order."""
    out: list[tuple[str, Any, str | None]] = []
    for raw in paths:
        path = Path(raw)
        files = sorted(p for p in path.rglob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except OSError as exc:
                out.append((str(file), None, f"cannot read: {exc.strerror}"))
                continue
            except json.JSONDecodeError as exc:
                out.append((str(file), None, f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"))
                continue
            items = data if isinstance(data, list) else [data]
            for i, item in enumerate(items):
                out.append((f"{file}[{i}]" if isinstance(data, list) else str(file), item, None))
    return out


def replay_one(world: World, name: str, event: Any, account: str | None) -> dict[str, Any]:
    report: dict[str, Any] = {"file": name, "account": account, "event_id": None, "handlers": [],
                              "outcome": "rejected", "reason": None, "results": []}
    if not isinstance(event, dict):
        return {**report, "reason": f"an event is a JSON object, not {type(event).__name__}"}
    missing = [key for key in REQUIRED if key not in event]
    if missing:
        return {**report, "reason": f"missing {', '.join(missing)}: the bus would refuse it"}
    try:
        sender = world.accounts[account] if account else world.account_by_id(str(event.get("account")))
    except (KeyError, WorldError) as exc:
        return {**report, "reason": str(exc) + " (pass --account NAME)"}
    report["account"] = sender.name
    when = _time(event.get("time"))
    sim = world.simulator(sender.name)
    detail = event["detail"]
    if event["source"] == "switchboard" and isinstance(detail, dict) and {"to_account", "from_account", "flow"} <= set(
            detail):
        # A recorded envelope has long expired: the sending account's Switchboard seals it again, as it would send
        # it now (its own key; the receiver checks it against the key its policy pins).
        detail = sim.seal({k: v for k, v in detail.items() if k != "envelope"})
    try:
        event_id = sim.put(event["source"], event["detail-type"], detail, event.get("resources"), when)
    except Exception as exc:  # noqa: BLE001 - whatever the bus says is the reason
        return {**report, "reason": f"the bus refused it: {exc}"}
    report["event_id"] = event_id
    delivered = {**event, "id": event_id, "account": sender.id, "region": sender.region}
    receiver = sender
    if event["source"] == "switchboard" and isinstance(event["detail"], dict):
        try:
            receiver = world.account_by_id(str(event["detail"].get("to_account")))
        except WorldError as exc:
            return {**report, "reason": f"not delivered: {exc}"}
    report["delivered_to"] = receiver.name
    rules = world.matching_rules(receiver.name, delivered)
    if not rules:
        return {**report, "outcome": "unrouted",
                "reason": f"no Switchboard rule in {receiver.name} matches {event['source']} / {event['detail-type']}"}
    invocations = world.wait_invocations(receiver.name, event_id, count=len(rules))
    if len(invocations) < len(rules):
        return {**report, "handlers": [i["handler"] for i in invocations], "outcome": "timeout",
                "reason": f"{len(rules)} rule(s) matched but {len(invocations)} handler run(s) finished"}
    report["handlers"] = [i["handler"] for i in invocations]
    results = [i["result"] for i in invocations]
    report["outcome"] = results[0]["outcome"] if len({r["outcome"] for r in results}) == 1 else "mixed"
    report["reason"] = "; ".join(r["reason"] for r in results if r.get("reason")) or None
    report["results"] = [c for r in results for c in r.get("results", [])]
    return report


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_report(report: dict[str, Any]) -> str:
    handlers = ",".join(report["handlers"]) or "-"
    where = report.get("delivered_to") or report["account"] or "-"
    line = f"{report['outcome']:<9} {where:<16} {handlers:<16} {Path(report['file']).name}"
    for result in report["results"]:
        actions = ", ".join(result["actions"]) or "no actions"
        line += f"\n          -> {result['capability']}: {result['outcome']} ({actions})"
        if result.get("reason"):
            line += f"; {result['reason']}"
    if report["reason"] and not report["results"]:
        line += f"\n          reason: {report['reason']}"
    return line
