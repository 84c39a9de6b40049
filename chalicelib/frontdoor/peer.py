"""The front door's side of peer events: a command forwarded by the front-door account.

Registered as the FRONTDOOR capability handler, so it runs after the intake has authorised the peer flow
(the sender is a peer whose ``send`` list may reach us, and ``command`` is in our ``receive`` list for it). Here
the extra rule: commands are accepted only from the front-door account this policy names.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from chalicelib import capabilities
from chalicelib.capabilities import Capability, Context, Result
from chalicelib.frontdoor import commands
from chalicelib.policy.schema import Flow
from chalicelib.state import audit
from chalicelib.state.audit import Outcome


@capabilities.register(Capability.FRONTDOOR)
def on_peer_event(event: Any, ctx: Context) -> Result:
    detail = event.detail

    def outcome(result: Outcome, reason: str) -> Result:
        audit.record(action=f"frontdoor.peer.{detail.flow}", target=event.target, outcome=result,
                     correlation_id=ctx.event_id, capability="frontdoor", reason=reason)
        return Result(result, reason)

    if detail.flow is not Flow.COMMAND:
        return outcome(Outcome.RECEIVED, f"nothing to do with a '{detail.flow}' event yet")
    front_door = ctx.policy.slack.front_door
    if detail.from_account != front_door:
        return outcome(Outcome.REJECTED, f"commands are accepted only from the front door '{front_door}', "
                                         f"not '{detail.from_account}'")
    try:
        asked = commands.Asked.model_validate(detail.payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        return outcome(Outcome.REJECTED, f"malformed forwarded command: {'.'.join(map(str, first['loc']))}: "
                                         f"{first['msg']}")
    if not asked.response_url_ok():
        return outcome(Outcome.REJECTED, "the forwarded command's response_url is not Slack's")
    outcomes = commands.handle(asked, forwarded_from=detail.from_account)
    return Result(Outcome.SUCCEEDED, None, [f"command '{asked.text.split(' ')[0]}': {', '.join(outcomes)}"])
