"""The console's IAM statements (``infra/iam_policy.py`` resolves them per account).

- Outside the front door, every function may publish feed records (``audit.record`` runs everywhere): the
  peer-send group, whose detail types include ``Switchboard feed`` because policy lets the account send it.
- In the front door, every function writes its own records straight into the console table, ``on_peer`` does the
  same for the peers' records: ``GetItem`` (the stored version), then one transaction (the latest item put over
  that version, the rollups' puts, deletes and updates: IAM authorises each item's action) and ``UpdateItem`` (a
  counter back at 0 dropped). The API function (the console's pages) may only ``Query`` it.
"""

from __future__ import annotations

from typing import Any

from chalicelib.policy.schema import Flow, Policy
from chalicelib.slackkit.permissions import PEER_SEND, is_front_door

EVERY = "every function"  # iam_policy gives these to each function of the account


def _arn(policy: Policy) -> str:
    return f"arn:aws:dynamodb:{policy.account.region}:{policy.account.id}:table/switchboard-console"


def needs(policy: Policy, stage: str) -> dict[str, list[Any]]:
    if not is_front_door(policy):
        front = policy.peers.get(policy.slack.front_door)
        return {EVERY: [PEER_SEND]} if front is not None and Flow.FEED in front.send else {}
    write = {"Sid": "ConsoleWrite", "Effect": "Allow", "Resource": _arn(policy),
             "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]}
    read = {"Sid": "ConsoleRead", "Effect": "Allow", "Action": ["dynamodb:Query"],
            "Resource": [_arn(policy), f"{_arn(policy)}/index/*"]}
    return {EVERY: [write], str(Flow.FEED): [write], "api_handler": [read]}
