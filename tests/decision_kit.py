"""Approval results as the front door sends them, for tests that drive a capability's decision handler directly.

``result_for(asked, ...)`` takes the approval request the capability put on its bus (or handed to
``approvals.ask``) and answers it the way ``decisions.result_of`` does: the ticket echoed, each decider's user
groups (from the local world's directory), validated by the same model the receiving account parses with.
"""

from __future__ import annotations

from typing import Any

from localworld.slack_user import USERS

FRONT_DOOR = "shared-services"
_BY_ID = {user_id: groups for user_id, groups in USERS.values()}


def groups_of(*users: str) -> dict[str, list[str]]:
    return {u: list(_BY_ID.get(u, [])) for u in users}


def asked_for(request_id: str) -> dict[str, Any]:
    """What the front door knew of the request this account stored as ``request_id`` (a caller-chosen decision
    id): enough to answer it with ``result_for``."""
    from chalicelib import pending

    item = pending.get(request_id)
    assert item is not None, f"no pending request {request_id}"
    return {"capability": item.capability, "environment": item.environment, "requester": item.requester,
            "required": int(item.required), "decision_id": request_id,
            "pending": {"id": item.id, "nonce": item.nonce, "digest": item.digest}}


def result_for(asked: dict[str, Any], verdict: str, deciders: list[str], *, decision_id: str | None = None,
               reason: str | None = None, from_account: str = FRONT_DOOR, **changes: Any) -> dict[str, Any]:
    """``deciders``: user ids; the approvers in order (approved), or the rejecter (rejected), or none (expired).
    ``changes`` override fields of the result (e.g. ``pending=...`` for an attack)."""
    from chalicelib.frontdoor.handlers import ApprovalResult

    ticket = asked.get("pending")
    decision_id = decision_id or asked.get("decision_id") or f"{asked['capability'][:3]}-{ticket['id'][-6:]}"
    result = {"id": decision_id, "capability": asked["capability"], "verdict": verdict,
              "environment": asked["environment"], "requester": asked["requester"],
              "decided_by": deciders[-1] if deciders else "system", "decided_at": "2026-11-23 12:00 UTC",
              "reason": reason, "payload": asked.get("payload"), "pending": ticket,
              "approvals": list(deciders) if verdict == "approved" else [],
              "required": int(asked.get("required") or 1), "groups": groups_of(*deciders)} | changes
    checked = ApprovalResult.model_validate(result).model_dump(mode="json")
    return checked | {"from_account": from_account}


def result_event(result: dict[str, Any], *, to_account: str, sender_id: str, event_id: str = "res-1",
                 from_account: str = FRONT_DOOR) -> dict[str, Any]:
    """The approval-result peer event carrying ``result`` (as EventBridge delivers it to the asking account)."""
    from tests.events import signed

    payload = {k: v for k, v in result.items() if k != "from_account"}
    return signed({
        "version": "0", "id": event_id, "source": "switchboard", "detail-type": "Switchboard approval-result",
            "account": sender_id, "region": "eu-west-1", "time": "2026-11-23T12:00:00Z", "resources": [],
            "detail": {"to_account": to_account, "from_account": from_account, "flow": "approval-result",
                       "payload": payload}})  # sealed by the sending account's (demo) key, as its Switchboard does
