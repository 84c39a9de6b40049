"""The promotion commands: ``/ops promote``, ``/ops hold``, ``/ops unhold``, and promotion's part of ``/ops status``.

``promote`` runs in the account of the *source* environment (the front door resolves it there): that account
knows its pipeline's executions, soaks, and hands the candidate over like any other. ``hold``/``unhold`` run in
the *target* environment's account, where deploys happen. Everything is audited by the front door (the command)
and by the service (each transition).
"""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.policy.schema import Policy
from chalicelib.promotion import dora, messages, pipelines, service, store
from chalicelib.promotion.machine import SUPERSEDABLE, State
from chalicelib.slackkit import blocks, mrkdwn
from chalicelib.slackkit.commands import Answer, Asked, Command, executes
from chalicelib.state import audit
from chalicelib.state.audit import Outcome


def _fail(text: str) -> Answer:
    return Answer(mrkdwn.safe(text), blocks.error(text, None))


@executes("promote")
def promote(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    app, wanted = cmd.args["app"], cmd.args.get("version")
    section = current.promotion
    if not section.enabled:
        return _fail(f"promotion is disabled in {environment}")
    target_env = section.destination(app, cmd.args.get("env")) or ""
    if section.previous_environment(app, target_env) != environment:
        return _fail(f"{environment} is not where {app} is promoted to {target_env} from")
    ref = current.apps[app].pipelines.get(environment)
    if ref is None or ref.account != current.account.name:
        return _fail(f"app '{app}' has no pipeline in {environment} to take a candidate from")
    settings = service.settings_for(current, app)
    found = pipelines.find_succeeded(ref.name, wanted, str(settings.deploy.revision_type))
    if found is None or found[0].revision is None:
        what = f"matching '{wanted}'" if wanted else "at all"
        return _fail(f"no succeeded execution of {ref.name} {what}")
    ex, finished = found
    now = datetime.now(UTC)
    p = service.new(current, app, target_env, ex.revision, ref.name, ex.id, finished,
                    origin=f"slack:{asked.request_id}", now=now, requester=asked.user,
                    skip_soak="skip-soak" in cmd.flags)
    if p.skip_soak:
        audit.record(action="promotion.skip_soak", target=f"app/{app}", actor=asked.user, outcome=Outcome.SUCCEEDED,
                     correlation_id=asked.request_id, capability="promotion",
                     reason=f"soak skipped for {ex.revision.short} to {target_env}")
    _, latest = service.start(p, current, asked.request_id, now)
    title = f"Promoting {app} {latest.revision.short} from {environment} to {target_env}"
    return Answer(mrkdwn.safe(title), blocks.reply(mrkdwn.safe(title), messages.status_lines(latest)))


@executes("hold")
def hold(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    app, reason = cmd.args["app"], cmd.args["reason"]
    now = datetime.now(UTC)
    if not store.set_hold(app, by=asked.user, reason=reason, at=now):
        was = store.hold_of(app) or {}
        return _fail(f"{app} is already held in {environment} by {was.get('by')}: {was.get('reason')}")
    audit.record(action="promotion.hold", target=f"app/{app}", actor=asked.user, outcome=Outcome.SUCCEEDED,
                 correlation_id=asked.request_id, capability="promotion", reason=reason[:1000],
                 before={"held": False}, after={"held": True})
    held = []
    for p in store.of_app(app):
        if p.side == "target" and p.state in SUPERSEDABLE and p.state is not State.HELD:
            moved = service.advance(app, p.id, correlation_id=asked.request_id, now=now, policy=current)
            if moved is not None and moved.state is State.HELD:
                held.append(moved)
    title = f"{app} held in {environment}: no promotion deploys until `unhold`"
    lines = [f"Reason: {mrkdwn.safe(reason, 500)}"] + [line for p in held for line in messages.status_lines(p)]
    return Answer(mrkdwn.safe(title), blocks.reply(title, lines))


@executes("unhold")
def unhold(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    app = cmd.args["app"]
    was = store.clear_hold(app)
    if was is None:
        return _fail(f"{app} is not held in {environment}")
    now = datetime.now(UTC)
    audit.record(action="promotion.unhold", target=f"app/{app}", actor=asked.user, outcome=Outcome.SUCCEEDED,
                 correlation_id=asked.request_id, capability="promotion",
                 reason=f"hold by {was.get('by')} lifted ({was.get('reason')})"[:1000],
                 before={"held": True, "by": was.get("by"), "reason": was.get("reason")}, after={"held": False})
    resumed = [service.advance(app, p.id, correlation_id=asked.request_id, now=now, policy=current)
               for p in store.of_app(app) if p.state is State.HELD]
    title = f"{app} unheld in {environment}"
    return Answer(mrkdwn.safe(title), blocks.reply(title, [line for p in resumed if p for line in
                                                           messages.status_lines(p)]))


# ---- /ops status: what runs here, what is in flight, the DORA keys ----

def status_lines(app: str, current: Policy, now: datetime | None = None) -> list[str]:
    """Promotion's lines for ``/ops status <app>`` in this account (empty when it promotes nothing here)."""
    if app not in current.promotion.paths or not current.promotion.enabled:
        return []
    now = now or datetime.now(UTC)
    env = current.account.environment
    lines = []
    running = store.current(app, env)
    if running:
        rev = running["revision"]
        lines.append(f"Running in {mrkdwn.safe(env, 40)}: {mrkdwn.code(rev['id'][:12], 20)} since "
                     f"{mrkdwn.safe(running['since'][:16].replace('T', ' '), 20)} UTC")
    held = store.hold_of(app)
    if held:
        lines.append(f":octagonal_sign: held by {mrkdwn.who(held['by'])}: {mrkdwn.safe(held['reason'], 300)}")
    promotions = store.of_app(app)
    in_flight = [p for p in promotions if p.watched]
    lines += [line for p in in_flight[:5] for line in messages.status_lines(p)]
    if not in_flight:
        lines.append("No promotion in flight here.")
    if any(p.side == "target" for p in promotions):
        keys = dora.keys(app, service.deployments(promotions), now)
        lines += [f"DORA · {mrkdwn.safe(line, 200)}" for line in keys.lines()]
    return lines
