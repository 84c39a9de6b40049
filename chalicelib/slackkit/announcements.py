"""Talking to people in Slack, from any account: announcements (and approval cards) go through the front door.

Only the front-door account holds the Slack bot token. A capability running in another account (prod scaling,
prod promotion) calls the same functions; they put an ``announce`` (or ``approval-request``) event addressed to the
front door on this account's bus (the peer-link rule carries it over). In the front door they post themselves.

    announcements.announce(channel="#team-api", text="...", blocks=[...], correlation_id=event_id)
    approvals.ask(capability="scaling", title="api 4 -> 2 in prod", summary="...", environment="prod",
                  requester="U…", channel="#team-api", payload={"plan": ...}, correlation_id=event_id)

(``approvals`` is ``chalicelib.decisions.service``.) When the approval is decided, the front door sends an
``approval-result`` back, and the capability's ``@capabilities.on_decision`` handler runs here, in the account
that asked. Richer approvals (promotion): N distinct approvers from a user group, forced four eyes, a deadline, a
caller-chosen id, and a card that is a keyed announcement the capability keeps re-rendering:

    approvals.ask(..., decision_id="pro-3f2a9c", required=2, group="S0LEADS", four_eyes=True,
                  deadline=now + timedelta(hours=24), key="promotion/web/9f2c1e7", blocks=[...])
    announcements.announce(channel="#team-web", text="...", blocks=[...], key="promotion/web/9f2c1e7",
                           decision_id="pro-3f2a9c", correlation_id=event_id)

The decision handler then gets ``verdict`` approved | rejected | expired, ``approvals`` and ``required``.
"""

from __future__ import annotations

from typing import Any

from chalicelib.decisions.store import check_options
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Flow, Policy


def front_door(current: Policy) -> str:
    """The front door's account name (raises when policy names none)."""
    name = current.slack.front_door
    if name is None:
        raise RuntimeError("policy names no slack.front_door: nobody can be asked in Slack")
    return name


def send_to_front_door(current: Policy, flow: Flow, payload: dict[str, Any]) -> None:
    send_to(current, front_door(current), flow, payload)


def send_to(current: Policy, account: str, flow: Flow, payload: dict[str, Any]) -> None:
    """Put a signed Switchboard event for peer ``account`` on this account's bus (policy must allow the flow)."""
    from chalicelib.peering.send import send

    send(current, account, flow, payload)


def announce(*, channel: str, text: str, correlation_id: str, blocks: list[dict[str, Any]] | None = None,
             key: str | None = None, decision_id: str | None = None, continues: str | None = None,
             grant_to: str | None = None, version: int | None = None) -> None:
    """Post a message in ``channel`` (text and blocks must already be safe mrkdwn: see mrkdwn.safe).

    With a ``key`` (e.g. an incident's group key), the first announcement posts and later ones with the same key
    update that message in place (the front door remembers where it is, per asking account).

    With a ``decision_id`` too (a decision this account asked for with ``approvals.ask(key=key)``), the front door
    appends that decision's footer in its current state (progress and buttons while pending, else the verdict) and
    keeps these blocks as the card's body for the re-renders each click causes. A keyed announcement without it
    replaces the card (the buttons go).

    ``continues`` (with a key): the account whose message under the same key this account takes over the first
    time it announces (see ``keyed.announce_keyed``). The front door honours it only if that account granted it:
    ``grant_to`` (with a key) names the one account that may take this account's message under the key over.

    ``version`` (with a key): the card's version, a number from the capability's own state that grows with it (an
    incident's notification count, a promotion's stored version). The front door then sends only the newest: an
    older version arriving late is dropped, never shown over a newer one; the card goes at once when the
    channel's send budget allows, else it waits in the card queue and the card drain sends its newest version."""
    if decision_id is not None:
        check_options(decision_id=decision_id)
        if not key:
            raise ValueError("an announcement with a decision_id needs the key its card was posted with")
    current = policies.current()
    message = {"channel": channel, "text": text, "blocks": blocks or []}
    if front_door(current) == current.account.name:
        from chalicelib.slackkit import keyed, slack

        if key:  # a card: the card queue (newest only, within the budget; unversioned: in arrival order)
            from chalicelib.slackkit import cardq

            options = {"decision_id": decision_id, "continues": continues, "grant_to": grant_to}
            sent = (cardq.announce(current.account.name, key, version, message, correlation_id=correlation_id,
                                   options=options) if version is not None else
                    cardq.announce_next(current.account.name, key, message, correlation_id=correlation_id,
                                        options=options))
            if sent.refused is not None:
                raise (keyed.NotGranted if sent.not_granted else ValueError)(sent.refused)
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
    send_to_front_door(current, Flow.ANNOUNCE, event)
