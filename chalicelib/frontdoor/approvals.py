"""Asking people in Slack, from any account: approval cards and announcements go through the front door.

Only the front-door account holds the Slack bot token. A capability running in another account (prod scaling,
prod promotion) calls the same functions; they put an ``approval-request`` or ``announce`` event addressed to the
front door on this account's bus (the peer-link rule carries it over). When the approval is decided, the front
door sends an ``approval-result`` back, and the capability's ``@capabilities.on_decision`` handler runs here, in
the account that asked.

    approvals.ask(capability="scaling", title="api 4 -> 2 in prod", summary="...", environment="prod",
                  requester="U…", channel="#team-api", payload={"plan": ...}, correlation_id=event_id)
    approvals.announce(channel="#team-api", text="...", blocks=[...], correlation_id=event_id)

Richer approvals (promotion): N distinct approvers from a user group, forced four eyes, a deadline, a
caller-chosen id, and a card that is a keyed announcement the capability keeps re-rendering:

    approvals.ask(..., decision_id="pro-3f2a9c", required=2, group="S0LEADS", four_eyes=True,
                  deadline=now + timedelta(hours=24), key="promotion/web/9f2c1e7", blocks=[...])
    approvals.announce(channel="#team-web", text="...", blocks=[...], key="promotion/web/9f2c1e7",
                       decision_id="pro-3f2a9c", correlation_id=event_id)

The decision handler then gets ``verdict`` approved | rejected | expired, ``approvals`` and ``required``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import policy as policies
from chalicelib.frontdoor.models import check_options
from chalicelib.policy.schema import Flow, Policy, Role


def _front_door(current: Policy) -> str:
    name = current.slack.front_door
    if name is None:
        raise RuntimeError("policy names no slack.front_door: nobody can be asked in Slack")
    return name


def _send(current: Policy, flow: Flow, payload: dict[str, Any]) -> None:
    send_to(current, _front_door(current), flow, payload)


def send_to(current: Policy, account: str, flow: Flow, payload: dict[str, Any]) -> None:
    """Put a signed Switchboard event for peer ``account`` on this account's bus (policy must allow the flow)."""
    from chalicelib.peering.send import send

    send(current, account, flow, payload)


def ask(*, capability: str, title: str, summary: str, environment: str, requester: str, channel: str,
        correlation_id: str, payload: Any = None, author: str | None = None, role: Role = Role.APPROVER,
        decision_id: str | None = None, required: int = 1, group: str | None = None,
        four_eyes: bool | None = None, deadline: datetime | None = None, key: str | None = None,
        blocks: list[dict[str, Any]] | None = None, continues: str | None = None,
        subject: dict[str, Any] | None = None) -> str | None:
    """Put an approval card in ``channel``. Returns the decision id when this account is the front door or the
    caller chose it (``decision_id``); else None (the id comes back with the result).

    Optional: ``decision_id`` (``^[a-z]{3}-[a-z0-9]{4,40}$``; asking again with it is a no-op), ``required``
    distinct approvers (1..5), approvers' user ``group`` (``S…``), ``four_eyes=True`` (approver is neither the
    requester nor the author, whatever policy says), ``deadline`` (aware datetime: the decision then expires),
    ``key`` (the card is the keyed announcement ``key``: ``announce(key=…, decision_id=…)`` updates it in place)
    and ``blocks`` (the card's body, already-safe mrkdwn; the front door adds progress and buttons);
    ``continues``: the account whose message under ``key`` the card takes over (see ``announce``).

    ``subject`` (what exactly would be done): the request is first stored in this account as a pending request
    (``chalicelib.pending``) and only its ticket (id, nonce, digest of the subject) travels; the capability's
    decision handler, wrapped in ``pending.bound``, then acts only on a result that names it, and on the stored
    subject."""
    check_options(decision_id=decision_id, required=required, group=group, deadline=deadline)
    current = policies.current()
    ticket = None
    if subject is not None:
        from chalicelib import pending

        ticket = pending.open_request(capability=capability, subject=subject, environment=environment,
                                      role=str(role), requester=requester, author=author, required=required,
                                      group=group, four_eyes=four_eyes, deadline=deadline, request_id=decision_id,
                                      correlation_id=correlation_id)
    request: dict[str, Any] = {
        "capability": capability, "title": title, "summary": summary, "environment": environment,
        "requester": requester, "author": author, "channel": channel, "payload": payload, "role": str(role),
        "correlation_id": correlation_id}
    options = {"decision_id": decision_id, "required": required, "group": group, "four_eyes": four_eyes,
               "deadline": deadline, "key": key, "blocks": blocks, "continues": continues, "pending": ticket}
    # only what differs from the defaults travels, so a front door that predates these options still accepts
    # the requests that do not use them
    options = {k: v for k, v in options.items() if v is not None and not (k == "required" and v == 1)}
    if _front_door(current) == current.account.name:
        from chalicelib.frontdoor import decisions

        return decisions.request(origin=current.account.name, **request, **options).id
    if "deadline" in options:
        options["deadline"] = options["deadline"].isoformat()
    _send(current, Flow.APPROVAL_REQUEST, request | options)
    return decision_id


def announce(*, channel: str, text: str, correlation_id: str, blocks: list[dict[str, Any]] | None = None,
             key: str | None = None, decision_id: str | None = None, continues: str | None = None,
             grant_to: str | None = None, version: int | None = None) -> None:
    """Post a message in ``channel`` (text and blocks must already be safe mrkdwn: see mrkdwn.safe).

    With a ``key`` (e.g. an incident's group key), the first announcement posts and later ones with the same key
    update that message in place (the front door remembers where it is, per asking account).

    With a ``decision_id`` too (a decision this account asked for with ``ask(key=key)``), the front door appends
    that decision's footer in its current state (progress and buttons while pending, else the verdict) and keeps
    these blocks as the card's body for the re-renders each click causes. A keyed announcement without it
    replaces the card (the buttons go).

    ``continues`` (with a key): the account whose message under the same key this account takes over the first
    time it announces (see ``slack.announce_keyed``). The front door honours it only if that account granted it:
    ``grant_to`` (with a key) names the one account that may take this account's message under the key over."""
    if decision_id is not None:
        check_options(decision_id=decision_id)
        if not key:
            raise ValueError("an announcement with a decision_id needs the key its card was posted with")
    current = policies.current()
    message = {"channel": channel, "text": text, "blocks": blocks or []}
    if _front_door(current) == current.account.name:
        from chalicelib.frontdoor import slack

        if key and decision_id:
            from chalicelib.frontdoor import decisions

            decisions.attach(current.account.name, key, decision_id, message, correlation_id=correlation_id)
        elif key:
            slack.announce_keyed(current.account.name, key, message, correlation_id=correlation_id,
                                 continues=continues, grant_to=grant_to)
        else:
            slack.deliver("chat.postMessage", message, correlation_id=correlation_id, target=f"channel/{channel}")
        return
    event = {**message, "correlation_id": correlation_id, "key": key}
    if decision_id is not None:
        event["decision_id"] = decision_id
    if continues is not None:
        event["continues"] = continues
    if grant_to is not None:
        event["grant_to"] = grant_to
    if version is not None:  # the card's version from this account's state: the front door sends only the newest
        event["version"] = version
    _send(current, Flow.ANNOUNCE, event)
