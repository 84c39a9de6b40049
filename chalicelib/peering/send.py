"""Seal a Switchboard event for a peer and put it on this account's default bus.

The ``switchboard-to-<peer id>`` rule (infra/peer-link.yaml) forwards it to the peer's bus. Every sender in the
code (approvals, announcements, forwarded commands, release candidates, approval results) comes here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib import aws
from chalicelib.peering import envelope, signer
from chalicelib.peering.exceptions import SendFailed


def send(current: Any, account: str, flow: Any, payload: dict[str, Any]) -> str:
    """Put ``payload`` for peer ``account`` (a name in policy) as a signed ``flow`` event. Returns the envelope id.

    Policy must let this account send the flow to that peer."""
    peer = current.peers.get(account)
    if peer is None or flow not in peer.send:
        raise SendFailed(f"policy does not let this account send '{flow}' to '{account}'")
    detail = envelope.seal(sender=current.account.id, from_account=current.account.name, recipient=peer.id,
                           flow=str(flow), payload=payload, now=datetime.now(UTC), sign=signer.sign)
    answer = aws.client("events").put_events(Entries=[{
        "Source": "switchboard", "DetailType": f"Switchboard {flow}", "Detail": json.dumps(detail)}])
    if answer.get("FailedEntryCount"):
        raise SendFailed(f"the bus refused the {flow} event: {answer['Entries'][0].get('ErrorMessage')}")
    return detail["envelope"]["id"]
