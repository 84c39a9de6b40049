"""The IAM statements of talking to people through the front door, derived from the policy.

Groups capabilities name in their ``needs`` (``infra/iam_policy.py`` resolves them per account):

- ``PEER_SEND``: a Switchboard event for a peer goes on this account's own default bus (the peer-link rules carry
  it over with their own role), signed with this account's signing key (``alias/switchboard-signing``; peers pin
  its public key in policy, so verifying needs no IAM);
- ``SLACK``: the Slack secret (signing secret and bot token). Only the front door holds it: no other account is
  given a statement for it;
- ``ANNOUNCE``: what ``decisions.service.ask`` and ``announcements.announce`` need: in the front door they post to
  Slack themselves (``SLACK``); in every other account they send an event to the front door (``PEER_SEND``).
"""

from __future__ import annotations

from typing import Any

from chalicelib.policy.schema import Flow, Policy

PEER_SEND = "group:peer-send"
SLACK = "group:slack"
ANNOUNCE = "group:announce"
SIGNING_KEY_ALIAS = "alias/switchboard-signing"


def is_front_door(policy: Policy) -> bool:
    return policy.slack.front_door == policy.account.name


def groups(policy: Policy, stage: str) -> dict[str, list[dict[str, Any]]]:
    region, account = policy.account.region, policy.account.id
    # what announcements.send_to and the forwarded commands put: "Switchboard <flow>" for each flow this account sends
    sent = {flow for peer in policy.peers.values() for flow in peer.send}
    detail_types = [f"Switchboard {flow}" for flow in Flow if flow in sent]
    peer_send = [
        {   # ask/announce/send_to, forwarded commands, approval results: this account's own bus only
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
