"""The IAM statements of the Slack front door and of talking to people through it, derived from the policy.

Groups other capabilities name in their ``needs`` (``infra/iam_policy.py`` resolves them per account):

- ``PEER_SEND``: a Switchboard event for a peer goes on this account's own default bus (the peer-link rules carry
  it over with their own role), signed with this account's signing key (``alias/switchboard-signing``; peers pin
  its public key in policy, so verifying needs no IAM);
- ``SLACK``: the Slack secret (signing secret and bot token). Only the front door holds it: no other account is
  given a statement for it;
- ``ANNOUNCE``: what ``approvals.ask``/``approvals.announce`` need: in the front door they post to Slack
  themselves (``SLACK``); in every other account they send an event to the front door (``PEER_SEND``).

The front door's own entry points (``needs``): the API function (``api_handler``, front door only: Bolt's signed
requests, the Slack secret, re-invoking itself for lazy listeners, forwarding commands and approval results), the
peer flows it handles in ``peer.py`` (keys are ``Flow`` values), and the outbox schedule.
"""

from __future__ import annotations

from typing import Any

from chalicelib.policy.schema import Flow, Policy
from chalicelib.state.permissions import AUDIT_READ

PEER_SEND = "group:peer-send"
SLACK = "group:slack"
ANNOUNCE = "group:announce"
SIGNING_KEY_ALIAS = "alias/switchboard-signing"


def is_front_door(policy: Policy) -> bool:
    return policy.slack.front_door == policy.account.name


def groups(policy: Policy, stage: str) -> dict[str, list[dict[str, Any]]]:
    region, account = policy.account.region, policy.account.id
    # what approvals.send_to and the forwarded commands put: "Switchboard <flow>" for each flow this account sends
    sent = {flow for peer in policy.peers.values() for flow in peer.send}
    detail_types = [f"Switchboard {flow}" for flow in Flow if flow in sent]
    peer_send = [
        {   # approvals.ask/announce/send_to, forwarded commands, approval results: this account's own bus only
            "Sid": "PeerEvents",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": f"arn:aws:events:{region}:{account}:event-bus/default",
            "Condition": {"StringEquals": {"events:source": "switchboard", "events:detail-type": detail_types}},
        },
        {   # every peer event is signed with this account's signing key (an ECC_NIST_P256 SIGN_VERIFY key)
            "Sid": "PeerSigning",
            "Effect": "Allow",
            "Action": ["kms:Sign"],
            "Resource": f"arn:aws:kms:{region}:{account}:key/*",
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": SIGNING_KEY_ALIAS}},
        },
    ]
    slack = [{
        # the Slack signing secret and bot token (Powertools Parameters, cached); only the front door has it
        "Sid": "SlackSecret",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": f"arn:aws:secretsmanager:{region}:{account}:secret:{policy.slack.secret_name}-??????",
    }, {
        # ...which infra/account.yaml encrypts with the Switchboard key: decrypted through Secrets Manager only
        "Sid": "SlackSecretKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": f"arn:aws:kms:{region}:{account}:key/*",
        "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"},
                      "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/switchboard"}},
    }] if is_front_door(policy) else []
    return {PEER_SEND: peer_send, SLACK: slack, ANNOUNCE: slack if is_front_door(policy) else peer_send}


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
