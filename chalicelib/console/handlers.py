"""The front door receives ``feed`` events (after the intake has checked the flow and the sender's envelope).

A peer speaks only for itself: every record must name the sending account and the environment this front door's
policy gives that peer, or it is refused (audited once per event, with how many and why). Accepted records go into
the read model (``store.apply``), where older and repeated versions change nothing.
"""

from __future__ import annotations

from typing import Any

from chalicelib import capabilities
from chalicelib.capabilities import Capability, Context, Result
from chalicelib.console import store
from chalicelib.console.exceptions import BadRecord
from chalicelib.console.feed import payload_records
from chalicelib.console.records import Record, parse
from chalicelib.policy.schema import Policy
from chalicelib.state import audit
from chalicelib.state.audit import Outcome


def admit(policy: Policy, sender: str, raw: Any) -> Record:
    """The record, if ``sender`` may say it (pure: policy and data)."""
    record = parse(raw)
    peer = policy.peers.get(sender)
    environment = policy.account.environment if sender == policy.account.name else (peer and peer.environment)
    if record.account != sender:
        raise BadRecord(f"a record about account '{record.account}' from '{sender}'")
    if record.environment != environment:
        raise BadRecord(f"a record about environment '{record.environment}' from '{sender}' ({environment})")
    return record


@capabilities.register(Capability.CONSOLE)
def on_feed(event: Any, ctx: Context) -> Result:
    detail = event.detail
    raw = payload_records(detail.payload)
    kept, older, refused = 0, 0, []
    for item in raw:
        try:
            record = admit(ctx.policy, detail.from_account, item)
        except BadRecord as exc:
            refused.append(str(exc))
            continue
        if store.apply(record):
            kept += 1
        else:
            older += 1
    reason = f"{kept} record(s) kept, {older} older or repeated"
    if refused or not raw:
        why = "; ".join(refused[:3]) if refused else "a feed event without records"
        audit.record(action="console.feed", target=event.target, outcome=Outcome.REJECTED,
                     correlation_id=ctx.event_id, capability="console",
                     reason=f"{len(refused)} record(s) refused: {why}", detail={"kept": kept, "older": older})
        return Result(Outcome.REJECTED, f"{reason}, {len(refused)} refused: {why}")
    return Result(Outcome.SUCCEEDED, reason)
