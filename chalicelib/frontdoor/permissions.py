"""The IAM statements of the Slack front door's own entry points, derived from the policy.

The groups other capabilities name (``PEER_SEND``, ``SLACK``, ``ANNOUNCE``) are the Slack platform's
(``chalicelib/slackkit/permissions.py``). The front door's own entry points (``needs``): the API function
(``api_handler``, front door only: Bolt's signed requests, the Slack secret, re-invoking itself for lazy listeners,
forwarding commands and approval results), the peer flows it handles in ``handlers.py`` (keys are ``Flow`` values),
and the outbox schedules (``slack_outbox``; ``slack_cards``, the card drain).
"""

from __future__ import annotations

from typing import Any

from chalicelib.policy.schema import Flow, Policy
from chalicelib.slackkit.permissions import ANNOUNCE, PEER_SEND, SLACK, is_front_door
from chalicelib.state.permissions import AUDIT_READ


def api_function_arns(policy: Policy, stage: str) -> list[str]:
    """The API function as `chalice deploy` names it, and as `chalice package` into stack switchboard-app does."""
    prefix = f"arn:aws:lambda:{policy.account.region}:{policy.account.id}:function"
    return [f"{prefix}:switchboard-{stage}", f"{prefix}:switchboard-app-APIHandler-*"]


def dead_letters(policy: Policy, stage: str) -> list[dict[str, Any]]:
    """`/ops deadletters` and `/ops redrive`: read and delete the account's dead letters, and invoke the account's
    own Switchboard functions again with the payload Lambda gave up on (nothing else)."""
    region, account = policy.account.region, policy.account.id
    return [{
        "Sid": "DeadLettersRead",
        "Effect": "Allow",
        "Action": ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility",
                   "sqs:DeleteMessage"],
        "Resource": f"arn:aws:sqs:{region}:{account}:switchboard-dead-letters",
    }, {
        "Sid": "DeadLettersRedrive",
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        # the functions as `chalice deploy` and `chalice package` (stack switchboard-app) name them: not the API
        # function of a `chalice deploy` (`switchboard-<stage>`), which only Bolt's lazy listeners invoke
        "Resource": [f"arn:aws:lambda:{region}:{account}:function:switchboard-{stage}-*",
                     f"arn:aws:lambda:{region}:{account}:function:switchboard-app-*"],
    }]


def needs(policy: Policy, stage: str) -> dict[str, list[Any]]:
    front_door = is_front_door(policy)
    sends = any(flow in peer.send for peer in policy.peers.values() for flow in (Flow.COMMAND, Flow.APPROVAL_RESULT))
    replies = any(Flow.REPLY in peer.send for peer in policy.peers.values())  # fanned-out commands answered (fanout)
    found: dict[str, list[Any]] = {
        # the front door's own executors: /ops audit reads the log, status the state, deadletters/redrive the DLQ
        str(Flow.COMMAND): [AUDIT_READ, *dead_letters(policy, stage)] + ([PEER_SEND] if replies else []),
        str(Flow.REPLY): [],
        str(Flow.APPROVAL_REQUEST): [ANNOUNCE],  # the card is posted in Slack
        str(Flow.ANNOUNCE): [ANNOUNCE],
        str(Flow.APPROVAL_RESULT): [],  # handed to the capability that asked (its own needs)
        # the outbox: in the front door, Slack calls kept for retry, and approval results peers have not heard of
        "slack_outbox": [SLACK] + ([PEER_SEND] if sends else []) if front_door else [],
        # the card drain: the card queue and the calls deliver() kept (the state table, every function has it), and
        # Slack's bot token; nothing else (a card that carries a decision renders it from the state table too)
        "slack_cards": [SLACK] if front_door else [],
    }
    if front_door:
        found["api_handler"] = [SLACK, {
            # Bolt runs lazy listeners by invoking the API function itself, asynchronously
            "Sid": "SlackLazyListeners",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": api_function_arns(policy, stage),
        }] + ([PEER_SEND] if sends else [])  # commands forwarded to peers, approval results sent back
    return found
