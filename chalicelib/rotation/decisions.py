"""What rotation does when an approval it asked for is decided (in the account that asked).

Two questions are asked in Slack: "rotate this prod secret now?" (``/ops rotate`` in an environment that needs an
approver) and "clear this stuck AWSPENDING?" (the watch). Either way nothing is trusted from the time of asking:
the gates (freeze, group spacing, switch) and the secret's state are checked again now, and the outcome is
audited and said in the channel.
"""

from __future__ import annotations

from chalicelib import capabilities, pending
from chalicelib.capabilities import Capability
from chalicelib.policy import loader as policies
from chalicelib.state import audit

CAPABILITY = "rotation"


@capabilities.on_decision(Capability.ROTATION)
@pending.bound(Capability.ROTATION)
def on_decision(settled: pending.Settled) -> None:
    """A verdict on a request this account stored when it asked: the STORED secret (and version) is acted on,
    never one a result names."""
    subject = settled.subject
    action, secret = subject.get("action"), str(subject.get("secret") or "?")
    correlation = f"decision:{settled.decision_id}"
    who = settled.decided_by or audit.SYSTEM
    if settled.verdict != "approved":
        _tell(secret, f"{action} of {secret} was rejected", who, correlation)
        audit.record(action=f"rotation.{action}", target=f"secret/{secret}", outcome=audit.Outcome.REFUSED,
                     correlation_id=correlation, capability=CAPABILITY, actor=who,
                     reason=f"rejected by {who}" + (f": {settled.reason}" if settled.reason else ""))
        return
    if action == "clear-pending":
        from chalicelib.rotation import watch

        cleared = watch.clear(secret, str(subject.get("version")))
        audit.record(action="rotation.clear_pending", target=f"secret/{secret}", correlation_id=correlation,
                     outcome=audit.Outcome.SUCCEEDED if cleared.cleared else audit.Outcome.REFUSED,
                     capability=CAPABILITY, actor=who, reason=cleared.message,
                     detail={"version": subject.get("version")})
        _tell(secret, cleared.message, who, correlation, "approved by")
    elif action == "rotate":
        from chalicelib.rotation import commands

        started = commands.start(secret, requester=str(subject.get("requested_by") or settled.requester),
                                 approver=who, token_seed=settled.decision_id, correlation_id=correlation)
        _tell(secret, started.message, who, correlation, "approved by")
    else:
        audit.record(action="rotation.decision", target=f"secret/{secret}", outcome=audit.Outcome.REJECTED,
                     correlation_id=correlation, capability=CAPABILITY, reason=f"unknown action {action!r}")


def _tell(secret: str, text: str, who: str, correlation: str, verb: str = "by") -> None:
    """Say ``text`` (escaped here) in the secret's channel, naming who decided (a mention only for a Slack id)."""
    from chalicelib.slackkit import announcements, mrkdwn

    current = policies.current()
    channel = current.rotation.channel_for(secret, current)
    if channel:
        announcements.announce(channel=channel, text=f"{mrkdwn.safe(text, 1000)} ({verb} {mrkdwn.who(who)})",
                               correlation_id=correlation)
