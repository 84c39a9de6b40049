"""Keyed messages, the front door's side: one Slack message per ``(origin account, key)``, posted the first time and
updated in place afterwards, possibly carrying a decision's card (see the ``message#`` item in
``chalicelib/slackkit/store.py``). Capabilities reach it through ``announcements.announce(key=…)``.

- ``announce_keyed``: post or update the message; ``continues``/``grant_to``: one account takes over another's
  message (a promotion soaked in stage goes on in prod: one card);
- ``attach``: a keyed announcement that carries a decision's footer;
- ``post_card``: a decision's card's first post (``decisions.service``, or the card drain when it had to wait);
- ``publish``: re-render a message from what is stored (its body, plus its decision's footer in the decision's
  current state), again if either changed meanwhile.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.decisions import render, store
from chalicelib.slackkit import blocks, slack
from chalicelib.slackkit.store import MessageRef
from chalicelib.state.keys import conditional_failed

RENDERS = 3  # re-renders of a message overtaken by a concurrent change


def _ref_key(origin: str, key: str) -> tuple[str, str]:
    return f"message#{origin}#{key}", "message"


def message_ref(origin: str, key: str) -> Any:
    """The MessageRef of keyed announcement ``(origin, key)``, or None (read consistently)."""
    try:
        return MessageRef.get(*_ref_key(origin, key), consistent_read=True)
    except MessageRef.DoesNotExist:
        return None


def save_ref(origin: str, key: str, channel: str, ts: str, *, decision_id: str | None = None,
             body: list[dict[str, Any]] | None = None, text: str | None = None, if_absent: bool = False) -> Any:
    """Remember where keyed announcement ``(origin, key)`` was posted (and what a decision's card holds there).

    ``if_absent``: only if no ref exists yet (two first announcements at once: one wins, see ``_announce_ref``);
    raises PynamoDB's PutError with a lost condition otherwise."""
    now = datetime.now(UTC)
    ref = MessageRef(*_ref_key(origin, key), channel=channel, ts=ts, updated_at=now.isoformat(), owner=origin,
                     decision_id=decision_id, body=body, text=text, revision=1, expires_at=now + timedelta(days=30))
    ref.save(condition=MessageRef.pk.does_not_exist() if if_absent else None)
    return ref


class NotGranted(ValueError):
    """An account asked to take over a card its owner did not grant it."""


def grant(origin: str, key: str, to: str) -> None:
    """The owner of keyed message ``(origin, key)`` lets account ``to`` take it over (``continues``)."""
    ref = message_ref(origin, key)
    if ref is not None and ref.granted_to != to:
        ref.update(actions=[MessageRef.granted_to.set(to)])


def take_over(origin: str, key: str, continues: str) -> Any:
    """``origin`` goes on in the message ``continues`` posted under ``key`` (None: there is none to take, or it
    was taken already). The previous account's later announcements under the key are dropped from then on.
    Only with the owner's grant: a message ``continues`` owns but did not grant to ``origin`` raises NotGranted."""
    before = message_ref(continues, key) if continues != origin else None
    if before is None or before.handed_to or before.decision_id:
        return None
    if before.granted_to != origin:
        raise NotGranted(f"'{continues}' did not grant '{origin}' its message under key '{key}'")
    try:
        before.update(actions=[MessageRef.handed_to.set(origin)],
                      condition=MessageRef.handed_to.does_not_exist() & (MessageRef.granted_to == origin))
    except UpdateError as exc:
        if conditional_failed(exc):  # taken by a concurrent call: that one goes on in it
            return None
        raise
    return save_ref(origin, key, before.channel, before.ts)


def hold_card(ref: Any, decision_id: str, body: list[dict[str, Any]] | None) -> None:
    """The message ``ref`` names becomes decision ``decision_id``'s card: its body is ``body`` (None: the decision's
    own), its text the decision's."""
    ref.update(actions=[MessageRef.decision_id.set(decision_id),
                        MessageRef.body.set(body) if body is not None else MessageRef.body.remove(),
                        MessageRef.text.remove(), MessageRef.revision.add(1),
                        MessageRef.updated_at.set(datetime.now(UTC).isoformat())])


def announce_keyed(origin: str, key: str, message: dict[str, Any], *, correlation_id: str,
                   continues: str | None = None, grant_to: str | None = None) -> bool:
    """Post ``message`` the first time ``(origin, key)`` is seen; update that same message in place afterwards
    (an incident resolving, a scaling change finishing). True when delivered now (an update that must wait is
    kept by ``slack.deliver``). The first post spends the send budget: ``slack.MustWait`` when it says wait (or
    Slack answered 429); the card queue, the only caller (``cardq``), keeps the announcement queued then.

    ``continues``: another account whose message under the same key this one takes over, when ``origin`` has
    none yet (a promotion soaked in stage goes on in prod: one card). That account's later announcements under
    the key are dropped, so a late one cannot overwrite the newer state.

    If a decision's card lived in that message, this announcement replaces it and detaches the decision: the
    ref keeps this message as its body, so renders that were under way converge on it (``publish``).

    ``grant_to``: the account that may take this message over with ``continues`` (recorded on the ref once the
    message is posted; only the owner's announcements reach its ref). A ``continues`` naming a message its owner
    did not grant to ``origin`` raises NotGranted and posts nothing."""
    target = f"message/{origin}/{key}"
    now = datetime.now(UTC)
    ref = message_ref(origin, key)
    if ref is not None and ref.handed_to:
        return True  # the message belongs to the account that took it over
    if ref is None and continues:
        ref = take_over(origin, key, continues)
    if ref is not None and ref.owner not in (None, origin):  # refs are keyed by owner: never another's message
        raise NotGranted(f"message '{key}' belongs to '{ref.owner}', not '{origin}'")
    delivered = _announce_ref(origin, key, ref, message, correlation_id, target, now)
    if grant_to:
        grant(origin, key, grant_to)
    return delivered


def _announce_ref(origin: str, key: str, ref: Any, message: dict[str, Any], correlation_id: str, target: str,
                  now: datetime) -> bool:
    if ref is not None and (ref.decision_id or ref.body is not None):
        ref.update(actions=[MessageRef.decision_id.remove(), MessageRef.body.set(list(message.get("blocks") or [])),
                            MessageRef.text.set(message.get("text") or ""), MessageRef.revision.add(1),
                            MessageRef.updated_at.set(now.isoformat())])
        return publish(origin, key, correlation_id=correlation_id)
    if ref is not None:
        delivered = slack.deliver("chat.update", {**message, "channel": ref.channel, "ts": ref.ts},
                            correlation_id=correlation_id, target=target)
        if delivered:
            ref.update(actions=[MessageRef.updated_at.set(now.isoformat())])
        return delivered
    answer = slack.post_within_budget(message)  # MustWait: the card queue keeps this announcement (cardq)
    if not saved_first(origin, key, answer, correlation_id, target):
        # Another first announcement of this key was saved meanwhile: that message is the card, and this
        # announcement updates it instead (one message per key, no ref lost).
        return _announce_ref(origin, key, message_ref(origin, key), message, correlation_id, target, now)
    return True


def saved_first(origin: str, key: str, answer: Any, correlation_id: str, target: str, **ref: Any) -> bool:
    """Remember the message a first post made as keyed message ``(origin, key)``, unless another first post was
    saved meanwhile (two at once: one wins): then ours is a duplicate, deleted, and False."""
    try:
        save_ref(origin, key, answer["channel"], answer["ts"], if_absent=True, **ref)
    except Exception as exc:
        if not conditional_failed(exc):
            raise
        slack.deliver("chat.delete", {"channel": answer["channel"], "ts": answer["ts"]}, correlation_id=correlation_id,
                      target=target)
        return False
    return True


def attach(origin: str, key: str, decision_id: str, message: dict[str, Any], *, correlation_id: str) -> bool:
    """A keyed announcement that carries decision ``decision_id``'s footer (``announcements.announce(decision_id=…)``):
    remember its body and render body + the footer for the decision's current state. Only the account that asked
    for the decision, under the key its card was posted with, may do this. True when delivered now."""
    store.check_options(decision_id=decision_id)
    item = store.get(decision_id)
    if item is None or item.origin != origin or item.key != key:
        raise ValueError(f"decision {decision_id} is not a card '{origin}' asked for under key '{key}'")
    body = list(message.get("blocks") or []) or blocks.text_section(message.get("text") or "")
    text = message.get("text") or render.text(item.as_dict())
    ref = message_ref(origin, key)
    if ref is None:  # the card's own post never landed (or waits): this announcement posts it
        rendered = {"channel": message["channel"], **render.message(item.as_dict(), body, text)}
        answer = slack.post_within_budget(rendered)  # MustWait: the card queue keeps this announcement (cardq)
        if saved_first(origin, key, answer, correlation_id, f"message/{origin}/{key}", decision_id=decision_id,
                        body=body, text=text):
            return _shown(item, answer, origin, key, correlation_id)
        ref = message_ref(origin, key)  # the card's own post landed meanwhile: this announcement updates it
    ref.update(actions=[MessageRef.decision_id.set(decision_id), MessageRef.body.set(body),
                        MessageRef.text.set(text), MessageRef.revision.add(1),
                        MessageRef.updated_at.set(datetime.now(UTC).isoformat())])
    return publish(origin, key, correlation_id=correlation_id)


def _shown(item: Any, answer: Any, origin: str, key: str, correlation_id: str) -> bool:
    """A decision's card was just posted: remember where (its clicks decide there), and render it again if the
    decision changed while the post was on its way (a typed ``/ops approve``)."""
    store.shown_at(item, answer["channel"], answer["ts"])
    fresh = store.get(item.id)
    if fresh is None or fresh.revision == item.revision:
        return True
    return publish(origin, key, correlation_id=correlation_id, only_for=item.id)


def post_card(decision_id: str, channel: str, body: list[dict[str, Any]] | None, *, correlation_id: str,
              item: Any = None) -> bool:
    """The first post of decision ``decision_id``'s card (``decisions.service``; the card drain when it had to wait):
    in the decision's current state, in its keyed message ``(origin, key)`` when it has a key, else alone. The
    decision (and the keyed message's ref) remember where it is: its buttons decide there. If the keyed message
    was posted meanwhile (the capability's announcement under the key), the card takes it over. Raises
    ``slack.MustWait`` when the send budget says wait (the caller queues it); True when shown. ``item``: the
    decision as just stored (else read), updated with where its card is."""
    item = item if item is not None else store.get(decision_id)
    if item is None:
        return True  # gone: nothing to show
    if item.key is None:
        if item.ts:
            return True  # posted already (the drain's second try after a crash)
        answer = slack.post_within_budget({"channel": channel, "text": render.text(item.as_dict()),
                                           "blocks": render.card(item.as_dict())})
        store.shown_at(item, answer["channel"], answer["ts"])
        fresh = store.get(decision_id)
        if fresh is not None and fresh.revision != item.revision:  # decided (typed) while the post was on its way
            slack.deliver("chat.update", {"channel": answer["channel"], "ts": answer["ts"],
                                          "text": render.text(fresh.as_dict()), "blocks": render.card(fresh.as_dict())},
                          correlation_id=correlation_id, target=f"decision/{decision_id}")
        return True
    origin = item.origin
    ref = message_ref(origin, item.key)
    if ref is None:
        answer = slack.post_within_budget({"channel": channel, **render.message(item.as_dict(), body)})
        if saved_first(origin, item.key, answer, correlation_id, f"message/{origin}/{item.key}",
                        decision_id=decision_id, body=body):
            return _shown(item, answer, origin, item.key, correlation_id)
        ref = message_ref(origin, item.key)
    # the key names a message already (the capability announced under it): the card takes it over
    if ref.decision_id != decision_id:
        hold_card(ref, decision_id, body)
    store.shown_at(item, ref.channel, ref.ts)
    return publish(origin, item.key, correlation_id=correlation_id)


def publish(origin: str, key: str, *, correlation_id: str, only_for: str | None = None) -> bool:
    """Bring keyed message ``(origin, key)`` up to date from what is stored: its body, plus the footer of the
    decision attached to it in that decision's current state. After delivering, read both again: if either
    changed meanwhile (a concurrent click or announcement), render again, so the last render shows the last
    state. ``only_for``: do nothing unless that decision is (still) the one attached. True when delivered."""
    delivered = True
    target = f"message/{origin}/{key}"
    ref = message_ref(origin, key)
    if ref is None or (only_for is not None and ref.decision_id != only_for):
        return ref is not None
    for _ in range(RENDERS):
        item = store.get(ref.decision_id) if ref.decision_id else None
        if item is not None:
            message = render.message(item.as_dict(), ref.body, ref.text)
        elif ref.body is not None:
            message = {"text": ref.text or "", "blocks": ref.body}
        else:
            return True  # a plain keyed announcement: nothing for the front door to render
        delivered = slack.deliver("chat.update", {**message, "channel": ref.channel, "ts": ref.ts},
                                  correlation_id=correlation_id, target=target)
        seen = (ref.revision, ref.decision_id, item.revision if item is not None else None)
        ref = message_ref(origin, key)
        if ref is None:
            break
        again = store.get(ref.decision_id) if ref.decision_id else None
        if (ref.revision, ref.decision_id, again.revision if again is not None else None) == seen:
            break
    return delivered
