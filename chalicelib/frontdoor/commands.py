"""One `/ops` command, from text to answer: parse → resolve where it acts → authorise → execute or forward.

The same function serves a command typed in Slack (in the front-door account) and a command forwarded by the
front door to a peer, which re-parses and re-authorises with its *own* policy: a peer never trusts the front
door's verdict, only its account of who asked (user and user groups) and where to answer (response_url).
Answers go to the command's response_url through ``slack.deliver`` (retries, then the outbox). Executors, the
front door's own below and every capability's, register in the platform's registry (``chalicelib.slackkit.commands``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib import capabilities
from chalicelib.decisions import service as decisions
from chalicelib.frontdoor import fanout, grammar, targets
from chalicelib.policy import loader as policies
from chalicelib.policy.schema import Flow, Policy
from chalicelib.slackkit import blocks, mrkdwn, rbac, slack
from chalicelib.slackkit import commands as registry
from chalicelib.slackkit.commands import Answer, Asked, Command, ParseError, executes
from chalicelib.state import audit
from chalicelib.state.audit import Outcome

# ---- the pipeline ----

def handle(asked: Asked, *, forwarded_from: str | None = None, parse_error_answered: bool = False) -> list[str]:
    """Run one command; answers are delivered to its response_url. Returns the outcomes (for tests/logs).

    ``parse_error_answered``: the ack already told the user their command does not parse (audit it only).
    """
    current = policies.current()
    outcomes: list[str] = []

    def answer(text: str, block_list: list[dict[str, Any]] | None = None) -> None:
        if asked.reply_to and forwarded_from:  # one part of a fanned-out command: the front door answers once
            fanout.reply(current, forwarded_from, asked.reply_to, text, block_list)
            return
        slack.deliver("response_url", {
            "url": asked.response_url, "response_type": "ephemeral", "replace_original": False,
            "text": mrkdwn.truncate(text, mrkdwn.MESSAGE_TEXT), "blocks": block_list or [],
            "fallback": {"channel": asked.channel, "user": asked.user} if asked.channel else None,
        }, correlation_id=asked.request_id, target=f"slack/{asked.user}")

    def record(cmd_name: str, target: str, outcome: Outcome, reason: str | None, **extra: Any) -> None:
        outcomes.append(str(outcome))
        audit.record(action=f"frontdoor.{cmd_name}", target=target, actor=asked.user, outcome=outcome,
                     correlation_id=asked.request_id, capability="frontdoor", reason=reason,
                     detail={"text": asked.text[:500], "via": forwarded_from, **extra})

    try:
        cmd = grammar.parse(asked.text, current.slack.command)
    except ParseError as exc:
        record("parse", "slack", Outcome.REJECTED, exc.message)
        if parse_error_answered:
            return outcomes
        text = mrkdwn.safe(exc.message)
        if exc.usage is None:
            answer(text, blocks.reply(text, [mrkdwn.code(line) for line in
                                             grammar.usage(current.slack.command).splitlines()]))
        else:
            answer(text, blocks.error(exc.message, exc.usage))
        return outcomes

    subject = _subject(cmd)
    if cmd.name == "help":
        lines = [mrkdwn.code(line) for line in grammar.usage(current.slack.command).splitlines()]
        answer("Switchboard commands", blocks.reply("Switchboard commands", lines))
        record(cmd.name, subject, Outcome.SUCCEEDED, None)
        return outcomes
    if cmd.name in ("approve", "reject"):
        return _decide(cmd, asked, answer, record)

    try:
        where = targets.resolve(cmd, current, here_only=forwarded_from is not None)
    except targets.Unresolvable as exc:
        record(cmd.name, subject, Outcome.REJECTED, str(exc))
        answer(mrkdwn.safe(exc), blocks.error(str(exc), None))
        return outcomes
    if not where:
        why = f"`{cmd.name}` acts nowhere: the {cmd.capability} manifest names no environment for it"
        record(cmd.name, subject, Outcome.RECEIVED, why)
        answer(why, blocks.error(why, None))
        return outcomes

    fanned = forwarded_from is None and sum(not t.local for t in where) >= fanout.FANOUT_AT
    if fanned:  # many accounts: each answers the front door, which answers once (fanout.py)
        fanout.begin(asked.request_id, expected=[t.account for t in where], response_url=asked.response_url,
                     title=f"{current.slack.command} {asked.text[:100]}", user=asked.user, channel=asked.channel)
    for target in where:
        if fanned:
            def answer(text: str, block_list: list[dict[str, Any]] | None = None, _account: str = target.account
                       ) -> None:
                fanout.add(asked.request_id, _account, fanout.text_of(text, block_list),
                           correlation_id=asked.request_id)
        verdict = rbac.authorise(current, target.role_environment, cmd.role, asked.user, asked.groups)
        if not verdict.allowed:
            record(cmd.name, subject, Outcome.REFUSED, verdict.reason, environment=target.environment)
            text = f"Denied in {target.role_environment}: {verdict.reason}"
            answer(mrkdwn.safe(text), blocks.error(text, None))
            continue
        if not target.local:
            _forward(current, target, asked.model_copy(update={"reply_to": asked.request_id}) if fanned else asked)
            record(cmd.name, subject, Outcome.SUCCEEDED, f"forwarded to {target.account}",
                   environment=target.environment)
            continue
        capabilities.ensure_executors(cmd.capability)  # its manifest's `commands` module registers them on use
        executor = registry.EXECUTORS.get(cmd.name)
        if executor is None:
            why = f"`{cmd.name}` has no executor: the {cmd.capability} capability registers none for it"
            record(cmd.name, subject, Outcome.RECEIVED, why, environment=target.environment)
            answer(why, blocks.error(why, None))
            continue
        result = executor(cmd, target.environment, asked, current)
        record(cmd.name, subject, Outcome.SUCCEEDED, None, environment=target.environment)
        answer(result.text, result.blocks)
    return outcomes


def _subject(cmd: Command) -> str:
    for key in ("app", "target", "id", "incident", "secret"):
        if cmd.args.get(key):
            return f"{key}/{cmd.args[key]}"
    return "slack"


def _decide(cmd: Command, asked: Asked, answer: Callable[..., None], record: Callable[..., None]) -> list[str]:
    verdict = "approved" if cmd.name == "approve" else "rejected"
    result = decisions.decide(cmd.args["id"], verdict, user=asked.user, groups=frozenset(asked.groups),
                              correlation_id=asked.request_id, reason=cmd.args.get("reason"))
    # decision messages are already safe mrkdwn (outside text escaped, mentions of the decider kept)
    answer(result.message, blocks.reply(("" if result.changed else ":warning: ") + result.message, []))
    return ["succeeded" if result.changed else "unchanged"]


def _forward(current: Policy, target: targets.Target, asked: Asked) -> None:
    """Put the command, signed, on this account's bus addressed to the peer; the peer-link rule carries it over."""
    from chalicelib.peering.send import send

    send(current, target.account, Flow.COMMAND, asked.model_dump())


# ---- the front door's own commands ----

@executes("status")
def status(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    apps = [cmd.args["app"]] if cmd.args.get("app") else sorted(current.apps)
    lines = []
    for name in apps:
        app = current.apps.get(name)
        if app is None:
            return Answer(mrkdwn.safe(f"unknown app '{name}'"), blocks.error(f"unknown app '{name}'", None))
        lines.append(f"*{mrkdwn.escape(name)}* · owners {mrkdwn.escape(app.channel)}")
        for env in sorted(set(app.pipelines) | set(app.ecs_services) | set(app.asgs)):
            parts = []
            if env in app.pipelines:
                parts.append(f"pipeline {mrkdwn.code(app.pipelines[env].name)}")
            parts += [f"service {mrkdwn.code(f'{s.cluster}/{s.service}')}" for s in app.ecs_services.get(env, ())]
            parts += [f"asg {mrkdwn.code(a.name)}" for a in app.asgs.get(env, ())]
            lines.append(f"  • {mrkdwn.escape(env)}: " + ", ".join(parts))
        lines += capabilities.status_lines(name, current)  # e.g. promotion's: what runs and is in flight here
    landed = sorted(c for c in capabilities.MANIFESTS if c in capabilities.landed())
    waiting = sorted(c for c in capabilities.MANIFESTS if c not in capabilities.landed())
    footer = f"landed: {', '.join(landed) or 'none'} · not yet: {', '.join(waiting) or 'none'}"
    title = f"Status ({current.account.name})"
    return Answer(title, blocks.reply(title, lines, footer))


@executes("deadletters")
def dead_letters(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    from chalicelib.deadletters import queue

    listed = queue.list_letters()
    title = f"Dead letters in {environment} ({current.account.name})"
    if not listed.letters and not listed.unreadable:
        return Answer(title, blocks.reply(title, ["none: nothing waits to be redriven"]))
    lines = [f"{mrkdwn.code(d.message_id[:36])} {mrkdwn.safe(d.function, 80)} · {mrkdwn.escape(d.condition)} after "
             f"{d.attempts} · {mrkdwn.safe(d.summary, 120)} · {mrkdwn.safe(d.error, 200)}" for d in listed.letters]
    lines += [f"{mrkdwn.code(i[:36])} cannot be redriven: {mrkdwn.safe(why, 120)}" for i, why in listed.unreadable]
    hint = f"{current.slack.command} redrive <id>|all in {environment}"
    return Answer(title, blocks.reply(title, lines, f"to run them again: {mrkdwn.code(hint)}"))


@executes("redrive")
def redrive(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    from chalicelib.deadletters import queue

    wanted = None if cmd.args["id"] is None else {cmd.args["id"]}
    done = queue.redrive(wanted, actor=asked.user, correlation_id=asked.request_id)
    title = f"Redrive in {environment} ({current.account.name})"
    if not done:
        return Answer(title, blocks.reply(title, ["no such dead letter" if wanted else "nothing to redrive"]))
    lines = [f"{mrkdwn.code(r['id'][:36])} {mrkdwn.safe(r['function'], 80)} → *{mrkdwn.escape(r['outcome'])}* · "
             f"{mrkdwn.safe(r['reason'], 200)}" for r in done]
    return Answer(title, blocks.reply(title, lines))


@executes("audit")
def audit_log(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    n, wanted = cmd.args.get("n", 10), cmd.args.get("target")
    app = current.apps.get(wanted) if wanted else None
    if app is not None:
        names = [f"pipeline/{p.name}" for env, p in app.pipelines.items() if env == environment]
        names += [f"service/{s.cluster}/{s.service}" for s in app.ecs_services.get(environment, ())]
        names += [f"autoScalingGroup/{a.name}" for a in app.asgs.get(environment, ())]
        names += [f"app/{wanted}"]
        entries = [e for name in names for e in audit.for_target(name, limit=n)]
    elif wanted:
        entries = audit.for_target(wanted, limit=n)
    else:
        entries = list(audit.for_day(datetime.now(UTC).strftime("%Y-%m-%d"), limit=n))
    entries = sorted(entries, key=lambda e: e.at, reverse=True)[:n]
    title = f"Audit in {environment} ({current.account.name})" + (f" for {wanted}" if wanted else "")
    if not entries:
        return Answer(title, blocks.reply(title, ["nothing recorded"]))
    lines = [f"`{e.at[:19]}` {mrkdwn.safe(e.actor, 40)} {mrkdwn.safe(e.action, 60)} {mrkdwn.safe(e.target, 80)}"
             f" → *{mrkdwn.escape(e.outcome)}*" + (f" · {mrkdwn.safe(e.reason, 200)}" if e.reason else "")
             for e in entries]
    return Answer(title, blocks.reply(title, lines))
