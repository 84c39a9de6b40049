"""The front door's side of peer events.

Registered as the FRONTDOOR capability handler, so it runs after the intake has authorised the peer flow (the
sender is a peer whose ``send`` list may reach us, and the flow is in our ``receive`` list for it). Here:

- ``command`` (front door -> peer): accepted only from the front door this policy names; re-parsed,
  re-authorised with this policy, run, answered on the response_url.
- ``approval-request`` (peer -> front door): a card is posted; the asking account is remembered and gets the
  verdict. A peer may ask only about its own environment. The richer options of ``decisions.service.ask`` (decision_id,
  required, group, four_eyes, deadline, key, blocks) travel here too.
- ``approval-result`` (front door -> peer): accepted only from the front door this policy names, handed to the
  capability that asked (``capabilities.on_decision``) with ``from_account``; the capability's handler
  (``pending.bound``) acts only on a result for a request it is waiting for, and refuses the rest.
- ``reply`` (peer -> front door): an account's answer to a fanned-out command, collected until every asked
  account answered (or the deadline), then answered ONCE on the response_url (``fanout``).
- ``announce`` (peer -> front door): a message posted in a channel (only the front door holds the token); with a
  ``decision_id``, the footer of that decision (which this peer asked for under this key) is appended. With
  ``continues``, the message another account owns under the key is taken over only if its owner granted it to
  this peer (``grant_to`` on the owner's announcements). With a ``version`` (and a key), the card is committed to
  the card queue (with its decision_id, continues, grant_to) and only its newest version is sent, within the send
  budget (``cardq``): at once when the budget allows, else by the card drain.

Decision buttons are the front door's alone: it renders them from a decision it holds. Every element whose
``action_id`` is one of them (and every block carrying the front door's decision block id) is stripped from the
blocks a peer sends (approval-request, announce), and the stripping is audited.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from chalicelib import capabilities
from chalicelib.capabilities import Capability, Context, Result
from chalicelib.decisions.store import DECISION_ID, MAX_REQUIRED, USER_GROUP
from chalicelib.frontdoor import commands
from chalicelib.policy.schema import Flow, Role
from chalicelib.slackkit import mrkdwn
from chalicelib.slackkit.commands import Asked
from chalicelib.state import audit
from chalicelib.state.audit import Outcome

FRONT_DOOR_ACTIONS = frozenset({"decision_approve", "decision_reject"})  # rendered only from a decision held here


class Ticket(BaseModel):
    """The asking account's pending request: travels with the request, comes back unchanged in the result."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=DECISION_ID.pattern)
    nonce: str = Field(min_length=16, max_length=100)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    capability: Capability
    title: str = Field(max_length=300)
    summary: str = Field(max_length=3000)
    environment: str
    requester: str = Field(pattern=r"^([UW][A-Z0-9]{2,20}|system)$")
    author: str | None = Field(None, max_length=200)
    channel: str = Field(max_length=80)
    payload: Any = None
    role: Role = Role.APPROVER
    correlation_id: str = Field(max_length=200)
    # richer approvals (see decisions.service.ask); absent in requests that do not use them
    decision_id: str | None = Field(None, pattern=DECISION_ID.pattern)
    required: int = Field(1, ge=1, le=MAX_REQUIRED)
    group: str | None = Field(None, pattern=USER_GROUP.pattern)
    four_eyes: bool | None = None
    deadline: AwareDatetime | None = None
    key: str | None = Field(None, min_length=1, max_length=200)
    blocks: list[dict[str, Any]] | None = Field(None, max_length=50)
    continues: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{0,62}$")  # take over this account's message
    pending: Ticket | None = None


class ApprovalResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    capability: Capability
    verdict: str = Field(pattern=r"^(approved|rejected|expired)$")
    environment: str
    requester: str
    decided_by: str  # the last approver, the rejecter, or "system" when it expired
    decided_at: str
    reason: str | None = None
    payload: Any = None
    approvals: list[str] = Field(default_factory=list, max_length=MAX_REQUIRED)
    required: int = Field(1, ge=1, le=MAX_REQUIRED)
    pending: Ticket | None = None  # the asking account's own ticket, echoed
    groups: dict[str, list[str]] = Field(default_factory=dict, max_length=MAX_REQUIRED + 1)  # decider -> groups


class Announcement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: str = Field(max_length=80)
    text: str = Field(max_length=40000)
    blocks: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    correlation_id: str = Field(max_length=200)
    key: str | None = Field(None, max_length=200)
    decision_id: str | None = Field(None, pattern=DECISION_ID.pattern)  # append this decision's footer
    continues: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{0,62}$")  # take over this account's message
    grant_to: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{0,62}$")  # who may take this message over
    # the card's version, numbered by the sender from its state: only the newest is sent (cardq, coalesce)
    version: int | None = Field(None, ge=0)


def _owned(node: Any) -> bool:
    return isinstance(node, dict) and node.get("action_id") in FRONT_DOOR_ACTIONS


def _clean(node: Any) -> Any:
    if isinstance(node, list):
        return [_clean(n) for n in node if not _owned(n)]
    if isinstance(node, dict):
        return {k: _clean(v) for k, v in node.items() if not _owned(v)}
    return node


def strip_buttons(blocks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """``blocks`` without the front door's decision buttons (anywhere: actions elements, accessories, inputs) and
    without blocks that carry its decision block id; an actions block left empty goes too. Returns (kept, how
    many blocks were changed or dropped)."""
    kept: list[dict[str, Any]] = []
    changed = 0
    for block in blocks:
        if str(block.get("block_id", "")).startswith("decision:"):
            changed += 1
            continue
        cleaned = _clean(block)
        if cleaned != block:
            changed += 1
            if cleaned.get("type") in ("actions", "context_actions") and not cleaned.get("elements"):
                continue
        kept.append(cleaned)
    return kept, changed


@capabilities.register(Capability.FRONTDOOR)
def on_peer_event(event: Any, ctx: Context) -> Result:
    detail = event.detail
    sender = detail.from_account

    def outcome(result: Outcome, reason: str | None, actions: list[str] | None = None) -> Result:
        audit.record(action=f"frontdoor.peer.{detail.flow}", target=event.target, outcome=result,
                     correlation_id=ctx.event_id, capability="frontdoor", reason=reason)
        return Result(result, reason, actions or [])

    def parse(model: type[BaseModel]) -> Any:
        try:
            return model.model_validate(detail.payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise _Malformed(f"malformed {detail.flow}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None

    def stripped(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if not blocks:
            return blocks
        kept, changed = strip_buttons(blocks)
        if changed:
            audit.record(action=f"frontdoor.peer.{detail.flow}", target=event.target, outcome=Outcome.REJECTED,
                         correlation_id=ctx.event_id, capability="frontdoor",
                         reason=f"{changed} block(s) from '{sender}' carried decision buttons: removed (only the front "
                                "door renders them, from a decision it holds)")
        return kept

    front_door = ctx.policy.slack.front_door
    try:
        if detail.flow is Flow.COMMAND:
            if sender != front_door:
                return outcome(Outcome.REJECTED, f"commands are accepted only from the front door '{front_door}', "
                                                 f"not '{sender}'")
            asked = parse(Asked)
            if not asked.response_url_ok():
                return outcome(Outcome.REJECTED, "the forwarded command's response_url is not Slack's")
            outcomes = commands.handle(asked, forwarded_from=sender)
            return Result(Outcome.SUCCEEDED, None, [f"command '{asked.text.split(' ')[0]}': {', '.join(outcomes)}"])

        if detail.flow is Flow.APPROVAL_REQUEST:
            request = parse(ApprovalRequest)
            own_env = ctx.policy.accounts().get(sender, (None, None))[1]
            if request.environment != own_env:
                return outcome(Outcome.REJECTED, f"'{sender}' may ask for approvals in {own_env} only, "
                                                 f"not {request.environment}")
            from chalicelib.decisions import service as decisions

            fields = request.model_dump(exclude={"capability", "role", "blocks"})
            fields["blocks"] = stripped(request.blocks)
            try:
                item = decisions.request(capability=str(request.capability), role=request.role, origin=sender,
                                         **fields)
            except ValueError as exc:  # e.g. a decision_id another account already uses: retrying cannot help
                return outcome(Outcome.REJECTED, str(exc))
            return Result(Outcome.SUCCEEDED, None, [f"approval card {item.id} posted in {request.channel}"])

        if detail.flow is Flow.APPROVAL_RESULT:
            if sender != front_door:
                return outcome(Outcome.REJECTED, f"approval results are accepted only from the front door "
                                                 f"'{front_door}', not '{sender}'")
            result = parse(ApprovalResult)
            handler = capabilities.decision_handler_for(result.capability)
            if handler is None:
                return outcome(Outcome.RECEIVED, f"the {result.capability} capability has no decision handler")
            refused = handler(result.model_dump(mode="json") | {"from_account": sender})
            if isinstance(refused, str):  # audited by the capability (pending.settle)
                return Result(Outcome.REJECTED, refused, [f"{result.capability} refused {result.id}"])
            return Result(Outcome.SUCCEEDED, None, [f"{result.capability} told: {result.id} {result.verdict}"])

        if detail.flow is Flow.REPLY:  # an account's answer to a fanned-out command: the front door answers once
            from chalicelib.frontdoor import fanout

            reply = parse(fanout.Reply)
            done = fanout.add(reply.reply_to, sender, reply.text, correlation_id=ctx.event_id)
            if done == "refused":
                return Result(Outcome.REJECTED, f"reply from '{sender}' to {reply.reply_to} refused (audited)", [])
            return Result(Outcome.SUCCEEDED, None, [f"fan-out {reply.reply_to}: {done}"])

        if detail.flow is Flow.ANNOUNCE:
            message = parse(Announcement)
            from chalicelib.slackkit import slack

            body = {"channel": message.channel, "text": mrkdwn.truncate(message.text, mrkdwn.MESSAGE_TEXT),
                    "blocks": stripped(message.blocks) or []}
            if message.decision_id and not message.key:
                return outcome(Outcome.REJECTED, "an announcement with a decision_id needs its card's key")
            if message.key:  # a card: newest only, within the budget (unversioned: the next version, in arrival order)
                from chalicelib.slackkit import cardq

                options = {"decision_id": message.decision_id, "continues": message.continues,
                           "grant_to": message.grant_to}
                if message.version is not None:
                    sent = cardq.announce(sender, message.key, message.version, body,
                                          correlation_id=message.correlation_id, options=options)
                else:
                    sent = cardq.announce_next(sender, message.key, body, correlation_id=message.correlation_id,
                                               options=options)
                if sent.superseded:
                    return Result(Outcome.SUCCEEDED, None, [f"version {message.version} superseded by a newer one"])
                if sent.refused is not None:
                    return outcome(Outcome.REJECTED, sent.refused)
                delivered = sent.sent > 0  # else queued: the card drain sends it
            else:
                delivered = slack.deliver("chat.postMessage", body, correlation_id=message.correlation_id,
                                          target=f"channel/{message.channel}")
            return Result(Outcome.SUCCEEDED, None, [f"posted in {message.channel}" if delivered
                                                    else "queued (or kept in the outbox)"])
    except _Malformed as exc:
        return outcome(Outcome.REJECTED, str(exc))
    return outcome(Outcome.RECEIVED, f"nothing to do with a '{detail.flow}' event yet")


class _Malformed(ValueError):
    pass
