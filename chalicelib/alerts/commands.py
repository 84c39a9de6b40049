"""The alerts commands of ``/ops``: ``silence``, ``silences``, ``unsilence``, ``ack`` (and, through the front
door's translation of button clicks, the incident card's Ack and Silence 1h buttons).

These run in the account that holds the alerts (the front door forwards the command there; ids carry their
environment). The front door has already checked the role the grammar asks for (operator; viewer for
``silences``) with its own policy and this account re-checked it with its own. Answers are ephemeral.
"""

from __future__ import annotations

from chalicelib import matchers as m
from chalicelib.alerts import clock, operations, silences
from chalicelib.alerts.text import code, safe
from chalicelib.policy.schema import Policy
from chalicelib.slackkit import blocks
from chalicelib.slackkit.commands import Answer, Asked, Command, executes
from chalicelib.slackkit.mrkdwn import who
from chalicelib.timefmt import shown


def _matchers(cmd: Command) -> list[m.Matcher]:
    return list(cmd.args["matchers"])  # the grammar parses with this package's parser: already m.Matcher


def _fail(text: str) -> Answer:
    return Answer(safe(text), blocks.error(text, None))


@executes("silence")
def silence(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    now = clock.now()
    try:
        created, woken = operations.silence(_matchers(cmd), duration=cmd.args["duration"], user=asked.user,
                                            reason=cmd.args["reason"], environment=current.account.environment,
                                            now=now, correlation_id=asked.request_id)
    except (silences.SilenceError, m.MatcherError) as exc:
        return _fail(str(exc))
    title = f"Silenced in {current.account.environment} until {shown(created.ends_at)}"
    lines = [f"id {code(created.id)} · " + " ".join(code(x.as_text()) for x in created.matchers),
             f"reason: {safe(created.reason, 500)}",
             f"mutes {len(woken)} open incident(s) now" + (": " + ", ".join(code(i) for i in woken[:10])
                                                           if woken else "")]
    return Answer(safe(title), blocks.reply(safe(title), lines, f"end it early: /ops unsilence {created.id}"))


@executes("silences")
def list_silences(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    now = clock.now()
    found = sorted(silences.active(now), key=lambda s: s.ends_at)
    title = f"Silences in {current.account.environment} ({current.account.name})"
    if not found:
        return Answer(safe(title), blocks.reply(safe(title), ["none in force"]))
    lines = [f"{code(s.id)} until {shown(s.ends_at)} by {who(s.author)} · "
             + " ".join(code(x.as_text()) for x in s.matchers) + f" · {safe(s.reason, 200)}" for s in found]
    return Answer(safe(title), blocks.reply(safe(title), lines))


@executes("unsilence")
def unsilence(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    try:
        ended = operations.unsilence(cmd.args["id"], user=asked.user, now=clock.now(),
                                     correlation_id=asked.request_id)
    except silences.SilenceError as exc:
        return _fail(str(exc))
    text = f"ended silence {ended.id}"
    return Answer(safe(text), blocks.reply(safe(text), [" ".join(code(x.as_text()) for x in ended.matchers)]))


@executes("ack")
def ack(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    done = operations.acknowledge(cmd.args["incident"], user=asked.user, environment=current.account.environment,
                                  now=clock.now(), correlation_id=asked.request_id)
    text = safe(done.message)
    inc = done.incident
    if not done.changed and inc is not None and inc.acked_by and done.message == "already acknowledged":
        text += f" by {who(inc.acked_by, 40)} at {shown(inc.acked_at)}"
    return Answer(text, blocks.reply(("" if done.changed else ":warning: ") + text, []))
