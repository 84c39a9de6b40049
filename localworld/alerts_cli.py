"""`switchboard routes test`: where would this alert go? (amtool's ``config routes test``.)

    switchboard routes test alarm=web-5xx app=web severity=page       labels given on the command line
    switchboard routes test samples/events/alarm-web-5xx-prod.json    an alarm event (labels built as the handler
                                                                      does; tags only from the event)
    switchboard routes test labels.json                               a JSON object of labels
        --policy chalicelib/policies/prod.yaml (default: the account's policy; --account NAME picks it)
        --state ALARM|INSUFFICIENT_DATA (the state label of an event; default: the event's)   --json

Prints, for each matched route, its path from the root (matchers at each level), the receiver, the group key and
the timing it inherits; exits 0 if the alert reaches a receiver, 2 on bad input. Never touches AWS.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def add_parser(sub: Any) -> None:
    """Register ``routes test`` on the ``switchboard`` command line (localworld/cli.py)."""
    routes = sub.add_parser("routes", help="alert routing tools")
    routes_sub = routes.add_subparsers(dest="routes_command", required=True)
    test = routes_sub.add_parser("test", help="where would an alert with these labels (or this event) go?")
    test.add_argument("inputs", nargs="+", metavar="FILE.json|label=value")
    test.add_argument("--policy", help="policy YAML (default: chalicelib/policies/<account>.yaml)")
    test.add_argument("--account", default="prod", help="account whose shipped policy to use (default: prod)")
    test.add_argument("--state", help="the state label to route with (default: the event's state, or ALARM)")
    test.add_argument("--json", action="store_true", help="print the answer as JSON")
    test.set_defaults(run=run)


def labels_from(inputs: list[str], policy: Any, state: str | None) -> dict[str, str]:
    from chalicelib.alerts import model
    from chalicelib.alerts.policy import section

    if len(inputs) == 1 and inputs[0].endswith(".json"):
        data = json.loads(Path(inputs[0]).read_text())
        if isinstance(data, dict) and data.get("source") == "aws.cloudwatch":
            from pydantic import ValidationError

            from chalicelib.intake.events import AlarmEvent

            kind = data.get("detail-type")
            if kind == "CloudWatch Alarm Configuration Change":
                raise ValueError(f"{inputs[0]} is an alarm configuration change: it carries no alert (only state "
                                 "changes are routed)")
            try:
                event = AlarmEvent.model_validate(data)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "<event>"
                raise ValueError(f"{inputs[0]} is not an alarm state change event: {where}: {first['msg']}") from None
            found = model.from_event(event, policy, section(policy), lookup_tags=False)
            if not found:
                raise ValueError(f"{inputs[0]} is an event that carries no alert ({data.get('detail-type')})")
            alert = found[0]
            chosen = state or (alert.state if alert.firing else alert.previous_state or "ALARM")
            return alert.routing_labels(chosen)
        if isinstance(data, dict) and "AlarmName" in data and "NewStateValue" in data:
            raise ValueError(f"{inputs[0]} is an alarm action's SNS message, not the EventBridge event Switchboard "
                             f"routes: pass its labels instead, e.g. alertname={data['AlarmName']}")
        if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
            return {**data, **({"state": state} if state else {})}
        raise ValueError(f"{inputs[0]} is neither an alarm event nor a JSON object of string labels")
    from chalicelib import matchers

    labels: dict[str, str] = {}
    for item in inputs:  # label=value or label="value", read by the one matcher parser (Alertmanager's grammar)
        try:
            given = matchers.parse(item)
        except matchers.MatcherError as exc:
            raise ValueError(f"{item!r} is not label=value: {exc}") from None
        if given.op != "=":
            raise ValueError(f"{item!r} is not label=value (a label has a value, not {given.op})")
        labels[given.label] = given.value
    for alias, name in matchers.ALIASES.items():  # alertname=X is the alarm's name, env=Y its environment
        if alias in labels and name not in labels:
            labels[name] = labels.pop(alias)
    labels.setdefault("state", state or "ALARM")
    return labels


def run(args: argparse.Namespace) -> int:
    from chalicelib.alerts import routing
    from chalicelib.alerts.policy import section
    from chalicelib.policy.loader import PolicyError, load

    path = Path(args.policy) if args.policy else ROOT / "chalicelib" / "policies" / f"{args.account}.yaml"
    try:
        policy = load(path)
        labels = labels_from(args.inputs, policy, args.state)
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"routes test: {exc}", file=sys.stderr)
        return 2
    report = routing.explain(section(policy), labels)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if report["receivers"] else 1
    print("labels: " + " ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    if not report["routes"]:
        print("no alerts.route in this policy: nobody would be notified")
        return 1
    for found in report["routes"]:
        print(f"route {found['route']}: " + " -> ".join(found["path"]))
        print(f"  receiver {found['receiver']}   group_by [{', '.join(found['group_by'])}]   "
              f"group_wait {found['group_wait']}   group_interval {found['group_interval']}   "
              f"repeat_interval {found['repeat_interval']}")
        print(f"  group key {found['group_key']}")
        if found["escalation"]:
            esc = found["escalation"]
            print(f"  escalation: after {esc['after']} to {', '.join(esc['receivers'])} (x{esc['repeat']})")
        if found["mute_time_intervals"]:
            print(f"  muted during: {', '.join(found['mute_time_intervals'])}")
    print("receivers: " + ", ".join(report["receivers"]))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
