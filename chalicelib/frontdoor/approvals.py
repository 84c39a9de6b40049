"""Asking people in Slack, from any account: approval cards and announcements go through the front door.

Only the front-door account holds the Slack bot token. A capability running in another account (prod scaling,
prod promotion) calls the same functions; they put an ``approval-request`` or ``announce`` event addressed to the
front door on this account's bus (the peer-link rule carries it over). When the approval is decided, the front
door sends an ``approval-result`` back, and the capability's ``@capabilities.on_decision`` handler runs here, in
the account that asked.

    approvals.ask(capability="scaling", title="api 4 -> 2 in prod", summary="...", environment="prod",
                  requester="U…", channel="#team-api", payload={"plan": ...}, correlation_id=event_id)
    approvals.announce(channel="#team-api", text="...", blocks=[...], correlation_id=event_id)
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib import aws
from chalicelib import policy as policies
from chalicelib.policy.schema import Flow, Policy, Role


def _front_door(current: Policy) -> str:
    name = current.slack.front_door
    if name is None:
        raise RuntimeError("policy names no slack.front_door: nobody can be asked in Slack")
    return name


def _send(current: Policy, flow: Flow, payload: dict[str, Any]) -> None:
    send_to(current, _front_door(current), flow, payload)


def send_to(current: Policy, account: str, flow: Flow, payload: dict[str, Any]) -> None:
    """Put a Switchboard event for peer ``account`` on this account's bus (policy must allow the flow)."""
    peer = current.peers.get(account)
    if peer is None or flow not in peer.send:
        raise RuntimeError(f"policy does not let this account send '{flow}' to '{account}'")
    detail = {"to_account": peer.id, "from_account": current.account.name, "flow": str(flow), "payload": payload}
    answer = aws.client("events").put_events(Entries=[{
        "Source": "switchboard", "DetailType": f"Switchboard {flow}", "Detail": json.dumps(detail)}])
    if answer.get("FailedEntryCount"):
        raise RuntimeError(f"the bus refused the {flow} event: {answer['Entries'][0].get('ErrorMessage')}")


def ask(*, capability: str, title: str, summary: str, environment: str, requester: str, channel: str,
        payload: Any, correlation_id: str, author: str | None = None, role: Role = Role.APPROVER) -> str | None:
    """Put an approval card in ``channel``. Returns the decision id when this account is the front door (else
    None: the id comes back with the result)."""
    current = policies.current()
    request = {"capability": capability, "title": title, "summary": summary, "environment": environment,
               "requester": requester, "author": author, "channel": channel, "payload": payload,
               "role": str(role), "correlation_id": correlation_id}
    if _front_door(current) == current.account.name:
        from chalicelib.frontdoor import decisions

        return decisions.request(origin=current.account.name, **request).id
    _send(current, Flow.APPROVAL_REQUEST, request)
    return None


def announce(*, channel: str, text: str, correlation_id: str, blocks: list[dict[str, Any]] | None = None,
             key: str | None = None) -> None:
    """Post a message in ``channel`` (text and blocks must already be safe mrkdwn: see mrkdwn.safe).

    With a ``key`` (e.g. an incident's group key), the first announcement posts and later ones with the same key
    update that message in place (the front door remembers where it is, per asking account)."""
    current = policies.current()
    message = {"channel": channel, "text": text, "blocks": blocks or []}
    if _front_door(current) == current.account.name:
        from chalicelib.frontdoor import slack

        if key:
            slack.announce_keyed(current.account.name, key, message, correlation_id=correlation_id)
        else:
            slack.deliver("chat.postMessage", message, correlation_id=correlation_id, target=f"channel/{channel}")
        return
    _send(current, Flow.ANNOUNCE, {**message, "correlation_id": correlation_id, "key": key})
