"""Red team: an attacker in one account tries to make another account's Switchboard act (issue 11, item 2).

Each attack goes through the real intake (``intake.handle`` as the ``on_peer`` Lambda runs it) with the shipped
policies, and each asserts that nothing happened: no state change, no Slack answer, nothing started, and an
audit entry in the target account saying why the event was refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.intake.pipeline import Kind, handle
from chalicelib.state import audit
from tests.events import PROD, SHARED, STAGE, context, peer, signed
from tests.frontdoor_kit import as_account, uid


def refused(outcome: dict, why: str, target: str) -> None:
    assert outcome["outcome"] == "rejected" and outcome["results"] == [], outcome
    assert why in outcome["reason"]
    [entry] = [e for e in audit.for_target(target) if e.correlation_id == outcome["event_id"]]
    assert (entry.action, entry.outcome, entry.capability) == ("intake.peer", "rejected", "intake")
    assert why in entry.reason


def command(slack, user: str = "admin", groups: tuple[str, ...] = ()) -> dict:
    """What the front door forwards: `/ops scale web 6` as a user prod's policy makes admin (answered on the
    stand-in's response_url, so an attack that worked would show there)."""
    return {"text": "scale web 6", "user": uid(user) if user != "admin" else "U0ADMIN001", "groups": list(groups),
            "response_url": slack.response_url("forged"), "channel": "C0WEB", "request_id": "slack:forged"}


@pytest.fixture
def prod(aws, slack, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_SLACK_API_URL", slack.api_url)
    as_account(monkeypatch, "prod")
    return slack


def nothing_happened(slack) -> None:
    from chalicelib.state.models import StateItem

    assert slack.responses() == [] and slack.messages() == []
    # the only state written is none at all: no envelope remembered, no request, no promotion, no change
    assert [i.pk for i in StateItem.scan()] == []


def test_any_principal_in_the_front_door_account_cannot_send_prod_a_command(prod):
    """PutEvents by anyone in shared-services (the bus policy admits the account): no envelope, refused."""
    event = peer("command", account=SHARED, from_account="shared-services", payload=command(prod))
    del event["detail"]["envelope"]
    refused(handle(Kind.PEER, event, context()), "unsigned: the event carries no envelope", "peer/shared-services")
    nothing_happened(prod)


def test_a_forwarded_command_cannot_be_given_groups_it_was_not_signed_with(prod):
    """The front door signed dave's command with no groups; granting him S0PLATFORM afterwards breaks the seal."""
    event = peer("command", account=SHARED, from_account="shared-services", payload=command(prod, "dave"))
    event["detail"]["payload"]["groups"] = ["S0PLATFORM", "U0ADMIN001"]
    refused(handle(Kind.PEER, event, context()), "bad signature", "peer/shared-services")
    nothing_happened(prod)


def test_stage_cannot_mint_a_release_candidate_with_any_key_but_its_switchboard_key(prod):
    forged = signed(peer("release-candidate", payload={"promotion": {"id": "p1", "app": "web"},
                                                       "source_gates": [{"name": "soak", "status": "pass"}]}),
                    signer_account=SHARED)  # a key the attacker holds, not stage's
    refused(handle(Kind.PEER, forged, context()), "bad signature: not signed by the key pinned for account "
                                                   f"{STAGE}", "peer/stage")
    nothing_happened(prod)


def test_an_envelope_from_one_account_cannot_be_put_on_the_bus_by_another(prod):
    event = {**peer("command", account=SHARED, from_account="shared-services", payload=command(prod)), "account": STAGE}
    outcome = handle(Kind.PEER, event, context())
    assert outcome["outcome"] == "rejected"  # stage is not shared-services: the routing fence refuses it first
    nothing_happened(prod)


def test_an_envelope_for_stage_cannot_be_redirected_to_prod(prod):
    event = peer("command", account=SHARED, from_account="shared-services", to_account=STAGE, payload=command(prod))
    event["detail"]["to_account"] = PROD
    refused(handle(Kind.PEER, event, context()), "bad signature", "peer/shared-services")
    nothing_happened(prod)


def test_an_expired_envelope_is_refused(prod):
    long_ago = datetime.now(UTC) - timedelta(days=2)
    event = signed({**peer("command", account=SHARED, from_account="shared-services", payload=command(prod))},
                   now=long_ago)
    refused(handle(Kind.PEER, event, context()), "expired at", "peer/shared-services")
    nothing_happened(prod)


def test_a_genuine_envelope_is_believed_once_and_its_copy_is_refused(prod, monkeypatch):
    """The same signed command, put on the bus again in a new event (a replay), does not run twice."""
    ran = []
    from chalicelib.frontdoor import commands

    monkeypatch.setattr(commands, "handle", lambda asked, **kw: ran.append(asked.user) or ["succeeded"])
    event = peer("command", account=SHARED, from_account="shared-services", payload=command(prod, "dave"))
    first = handle(Kind.PEER, event, context())
    assert first["outcome"] == "processed" and ran == [uid("dave")]
    # the same delivery again (EventBridge at-least-once): the ledger answers, nothing runs
    assert handle(Kind.PEER, event, context())["duplicate"] is True and ran == [uid("dave")]
    copy = {**event, "id": "a-new-event-id"}
    refused(handle(Kind.PEER, copy, context()), "replayed: envelope", "peer/shared-services")
    assert ran == [uid("dave")]


def test_a_delivery_that_failed_is_retried_with_its_envelope(prod, monkeypatch):
    """A capability that fails makes Lambda retry the same event: its envelope is still believed (same event)."""
    from chalicelib.frontdoor import commands

    calls = []

    def flaky(asked, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")
        return ["succeeded"]

    monkeypatch.setattr(commands, "handle", flaky)
    event = peer("command", account=SHARED, from_account="shared-services", payload=command(prod, "dave"))
    with pytest.raises(RuntimeError):
        handle(Kind.PEER, event, context())
    assert handle(Kind.PEER, event, context())["outcome"] == "processed" and len(calls) == 2
