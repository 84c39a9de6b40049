"""Generate .chalice/policy-<stage>-<function>.json: the least-privilege role of each Switchboard function.

Each capability declares, next to its code (the ``permissions`` module its manifest names), what each of its entry
points needs (``needs(policy, stage) -> {entry point: [statement or group]}``), derived from the account's policy.
An entry point is a ``Kind`` (an event routed to the capability), a ``Flow`` (a peer event: ``command`` for its
``/ops`` executors, ``approval-result`` for its decision handler, ``release-candidate``...) or a function of
app.py that runs the capability directly (its manifest's ``functions``: ``scaling_tick``, ``rotate_secret``...).
This module turns entry points into functions the way the code routes them (``capabilities.KIND_ROUTES``,
``FLOW_ROUTES``, ``FUNCTIONS``, the flows this account receives, the front door running its own environment's
commands and decisions) and adds what every function needs.

``policies_for(stage) -> {function: policy document}`` is the single source of truth (the local world enforces it
too); ``python -m infra.iam_policy`` (``make iam-policy``) writes the files and wires them into .chalice/config.json;
tests/test_iam_policy.py fails when the committed files drift, and tests/test_iam_roles.py lints them (parliament)
and states which dangerous actions each function may perform.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"

# The functions of app.py that take events (Chalice's names; the API function is Chalice's `api_handler`), and how
# each is reached. The functions that run a capability directly (ticks, the rotation function) are its manifest's.
EVENT_FUNCTIONS = {"on_codepipeline": "codepipeline", "on_alarm": "alarm", "on_ecs": "ecs",
                   "on_autoscaling": "autoscaling", "on_secrets": "secrets", "on_schedule": "schedule"}


def direct_functions() -> tuple[str, ...]:
    """Every function a capability's manifest declares (``capabilities.FUNCTIONS``)."""
    from chalicelib.capabilities import FUNCTIONS

    return tuple(FUNCTIONS)


def functions() -> tuple[str, ...]:
    return (*EVENT_FUNCTIONS, "on_peer", "api_handler", *direct_functions())


# Functions that take their input through the ledger (intake.handle, and Bolt's lazy listeners)
LEDGER_FUNCTIONS = (*EVENT_FUNCTIONS, "on_peer", "api_handler")


def permissions() -> dict[str, str]:
    """Capability -> the module that declares its needs (its manifest's ``permissions``), the front door's first:
    it also defines the groups."""
    from chalicelib.capabilities import INSTALLED

    declared = {m.name: m.permissions for m in INSTALLED if m.permissions}
    return {"frontdoor": declared.pop("frontdoor"), **declared}


# Decisions and commands about the front door's own environment run where the front door takes them
FRONT_DOOR_LOCAL = {"api_handler": ("command", "approval-result"), "slack_outbox": ("approval-result",)}


def _config() -> dict[str, Any]:
    return json.loads((CHALICE_DIR / "config.json").read_text())


def _policy_and_env(stage: str) -> tuple[Any, dict[str, str]]:
    sys.path.insert(0, str(ROOT))
    from chalicelib.policy.loader import load

    config = _config()
    env = {**config["environment_variables"], **config["stages"][stage]["environment_variables"]}
    return load(ROOT / "chalicelib" / env["SWITCHBOARD_POLICY_FILE"]), env


def base(policy: Any, stage: str) -> list[dict[str, Any]]:
    """What every function needs: its logs, the Switchboard key through DynamoDB and SQS, the dead-letter queue."""
    region, account = policy.account.region, policy.account.id
    return [
        {   # Lambda's own logs (Powertools Logger JSON lines and Metrics EMF records)
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/switchboard-*",
        },
        {   # tables and the dead-letter queue are encrypted with the account's Switchboard key: only through them
            "Sid": "StateEncryption",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": f"arn:aws:kms:{region}:{account}:key/*",
            "Condition": {
                "StringEquals": {"kms:ViaService": [f"dynamodb.{region}.amazonaws.com", f"sqs.{region}.amazonaws.com"]},
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/switchboard"},
            },
        },
        {   # failed asynchronous invocations go to the dead-letter queue (Lambda uses the function's role)
            "Sid": "DeadLetters",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": f"arn:aws:sqs:{region}:{account}:switchboard-dead-letters",
        },
    ]


def entry_points(policy: Any, stage: str) -> dict[str, list[tuple[str, str]]]:
    """Function -> the (capability, entry point) pairs it runs, as the code routes events in this account."""
    from chalicelib.capabilities import FLOW_ROUTES, KIND_ROUTES, MANIFESTS
    from chalicelib.kinds import Kind
    from chalicelib.policy.schema import Flow
    from chalicelib.slackkit.permissions import is_front_door

    capabilities = [str(c) for c in MANIFESTS if c != "frontdoor"]
    found: dict[str, list[tuple[str, str]]] = {}
    for function, kind in EVENT_FUNCTIONS.items():
        routed = capabilities if kind == Kind.SCHEDULE else [str(c) for c in KIND_ROUTES.get(Kind(kind), ())]
        found[function] = [(c, kind) for c in routed]  # schedules are routed by name to any capability
    received = sorted({flow for peer in policy.peers.values() for flow in peer.receive}, key=list(Flow).index)
    found["on_peer"] = []
    for flow in received:
        # commands and approval results reach the front door's handler, which runs the capability's own part
        owners = [str(FLOW_ROUTES[flow])] + (capabilities if flow in (Flow.COMMAND, Flow.APPROVAL_RESULT) else [])
        found["on_peer"] += [(c, str(flow)) for c in owners]
    for function in direct_functions():
        found[function] = [(c, function) for c in ["frontdoor", *capabilities]]
    if is_front_door(policy):
        found["api_handler"] = [("frontdoor", "api_handler")]
        for function, entries in FRONT_DOOR_LOCAL.items():
            found[function] += [(c, e) for e in entries for c in ["frontdoor", *capabilities]]
    return found


def policies_for(stage: str) -> dict[str, dict[str, Any]]:
    """Function -> its IAM policy document in this stage (no `api_handler` outside the front door)."""
    from chalicelib.slackkit import permissions as slackkit
    from chalicelib.state import permissions as state

    policy, env = _policy_and_env(stage)
    tables = {"audit": env["SWITCHBOARD_AUDIT_TABLE"], "ledger": env["SWITCHBOARD_LEDGER_TABLE"],
              "state": env["SWITCHBOARD_STATE_TABLE"]}
    groups = {**state.groups(policy, tables), **slackkit.groups(policy, stage)}
    needs = {name: importlib.import_module(module).needs(policy, stage) for name, module in permissions().items()}

    documents = {}
    for function, entries in entry_points(policy, stage).items():
        wanted: list[Any] = [*base(policy, stage), state.STATE, state.AUDIT_APPEND]
        if function in LEDGER_FUNCTIONS:
            wanted.append(state.LEDGER)
        for capability, entry in entries:
            wanted += needs[capability].get(entry, [])
        wanted += needs["console"].get("every function", [])  # audit.record feeds the console from every function
        if function == "api_handler":
            wanted += needs["console"].get("api_handler", [])
        documents[function] = {"Version": "2012-10-17", "Statement": _merge(wanted, groups, function)}
    return documents


def _merge(wanted: list[Any], groups: dict[str, list[dict[str, Any]]], function: str) -> list[dict[str, Any]]:
    """Groups resolved, each statement once (by Sid; two different statements under one Sid are an error)."""
    found: dict[str, dict[str, Any]] = {}
    for item in wanted:
        for statement in groups[item] if isinstance(item, str) else [item]:
            seen = found.setdefault(statement["Sid"], statement)
            if seen != statement:
                raise ValueError(f"{function}: two different statements named {statement['Sid']}")
    return list(found.values())


def file_name(stage: str, function: str) -> str:
    return f"policy-{stage}-{function}.json"


def fallback(stage: str) -> dict[str, Any]:
    """The stage-wide policy Chalice gives a function that has no file of its own (there should be none: an API
    function outside the front door, for example): its logs, nothing else."""
    policy, _ = _policy_and_env(stage)
    return {"Version": "2012-10-17", "Statement": [base(policy, stage)[0]]}


def configured(config: dict[str, Any]) -> dict[str, Any]:
    """.chalice/config.json with each stage's functions wired to their files (other keys untouched)."""
    for stage, cfg in config["stages"].items():
        cfg["autogen_policy"] = False
        cfg["iam_policy_file"] = f"policy-{stage}.json"
        functions = cfg.setdefault("lambda_functions", {})
        documents = policies_for(stage)
        for name in list(functions):
            if name not in documents:  # a function this stage no longer has (e.g. api_handler outside the front door)
                for key in ("iam_policy_file", "autogen_policy"):
                    functions[name].pop(key, None)
                if not functions[name]:
                    del functions[name]
        for name in documents:
            functions.setdefault(name, {}).update({"autogen_policy": False, "iam_policy_file": file_name(stage, name)})
    return config


def write() -> list[Path]:
    config = configured(_config())
    (CHALICE_DIR / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    written = []
    for old in CHALICE_DIR.glob("policy-*.json"):
        old.unlink()
    for stage in config["stages"]:
        files = {file_name(stage, name): doc for name, doc in policies_for(stage).items()}
        files[f"policy-{stage}.json"] = fallback(stage)
        for name, document in sorted(files.items()):
            (CHALICE_DIR / name).write_text(json.dumps(document, indent=2) + "\n")
            written.append(CHALICE_DIR / name)
    return written


def main() -> int:
    for path in write():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
