"""Switchboard's Chalice app: wiring only. Each handler hands the raw event to chalicelib/intake/pipeline.py.

Reads as a table of contents of everything Switchboard reacts to. ``pipeline.entry`` lets each EventBridge
handler answer any payload Lambda may be given (a non-EventBridge one is rejected with its reason, audited).
The patterns live in chalicelib/intake/patterns.py; the peer pattern and the Slack routes (the front door's
only) depend on this stage's policy, which is loaded here: in full by `chalice deploy` (which imports this file
with the stage's environment variables set), and at a Lambda cold start only its core (account, peers) and its
slack section, each other section on first use (see chalicelib/policy/loader.py). The functions that run a
capability directly (ticks, the rotation function) run what its manifest names (``capabilities.FUNCTIONS``).
"""

from chalicelib.capabilities import run_function, schedule_of
from chalicelib.intake import patterns, pipeline
from chalicelib.kinds import Kind
from chalicelib.lambda_app import App
from chalicelib.policy import loader as policy

app = App(app_name="switchboard")  # Chalice, raising what Chalice and Bolt would swallow (lambda_app.py)
POLICY = policy.current()


@pipeline.entry(Kind.CODEPIPELINE)
@app.on_cw_event(patterns.CODEPIPELINE)
def on_codepipeline(event):
    return pipeline.handle(Kind.CODEPIPELINE, event.to_dict(), event.context)


@pipeline.entry(Kind.ALARM)
@app.on_cw_event(patterns.ALARM)
def on_alarm(event):
    return pipeline.handle(Kind.ALARM, event.to_dict(), event.context)


@pipeline.entry(Kind.ECS)
@app.on_cw_event(patterns.ECS)
def on_ecs(event):
    return pipeline.handle(Kind.ECS, event.to_dict(), event.context)


@pipeline.entry(Kind.AUTOSCALING)
@app.on_cw_event(patterns.AUTOSCALING)
def on_autoscaling(event):
    return pipeline.handle(Kind.AUTOSCALING, event.to_dict(), event.context)


@pipeline.entry(Kind.SECRETS)
@app.on_cw_event(patterns.SECRETS)
def on_secrets(event):
    return pipeline.handle(Kind.SECRETS, event.to_dict(), event.context)


@pipeline.entry(Kind.PEER)
@app.on_cw_event(patterns.peer(POLICY))
def on_peer(event):
    return pipeline.handle(Kind.PEER, event.to_dict(), event.context)


# Invoked directly by EventBridge Scheduler (one-off and recurring schedules that capabilities create).
@app.lambda_function(name="on_schedule")
def on_schedule(event, context):
    return pipeline.handle(Kind.SCHEDULE, event, context)


# ---- Slack: the front door, only in the account the Slack app points at (policy: slack.front_door) ----
# Every other account defines no route, so it has no API Gateway at all (`chalice package` makes no RestApi).
# Imported inside the handlers: the event functions share this file and must not pay for Bolt at cold start.
if POLICY.slack.front_door == POLICY.account.name:
    SLACK_FORM = ["application/x-www-form-urlencoded"]

    @app.route("/slack/commands", methods=["POST"], content_types=SLACK_FORM)
    def slack_commands():
        from chalicelib.frontdoor import http

        return http.handle(app)

    @app.route("/slack/interactive", methods=["POST"], content_types=SLACK_FORM)
    def slack_interactive():
        from chalicelib.frontdoor import http

        return http.handle(app)

    # ---- The console: a read-only view of the estate, signed in with Slack (chalicelib/console/web.py) ----
    @app.route("/console", methods=["GET"])
    def console_home():
        from chalicelib.console import web

        return web.handle(app, "estate")

    @app.route("/console/{page}", methods=["GET", "POST"])
    def console_page(page):
        from chalicelib.console import web

        return web.handle(app, page)


# ---- Scaling: schedules fire and temporary changes end, checked every minute ----
@app.schedule(schedule_of("scaling_tick"))
def scaling_tick(event):
    return run_function("scaling_tick")  # chalicelib.scaling.ticks.run


# ---- Promotion: soaks and bakes end, approvals expire, lost pipeline events are re-read, every minute ----
@app.schedule(schedule_of("promotion_tick"))
def promotion_tick(event):
    return run_function("promotion_tick")  # chalicelib.promotion.reconcile.run


# ---- Alerts: due groups are flushed (group_wait, group_interval, repeat, escalation) every minute ----
@app.schedule(schedule_of("alerts_flush"))
def alerts_flush(event):
    return run_function("alerts_flush")  # chalicelib.alerts.flush.run


# ---- The front door: Slack deliveries that failed are retried, every five minutes ----
@app.schedule(schedule_of("slack_outbox"))
def slack_outbox(event):
    return run_function("slack_outbox")  # chalicelib.frontdoor.outbox.tick


# ---- The front door: cards and the Slack calls that waited for the send budget go, every minute ----
@app.schedule(schedule_of("slack_cards"))
def slack_cards(event):
    return run_function("slack_cards")  # chalicelib.frontdoor.outbox.cards


# ---- Secret rotation: the function Secrets Manager invokes for each step, and the daily watch ----
@app.lambda_function(name="rotate_secret")
def rotate_secret(event, context):
    return run_function("rotate_secret", event, context)  # chalicelib.rotation.rotator.handle


@app.schedule(schedule_of("rotation_watch"))
def rotation_watch(event):
    return run_function("rotation_watch")  # chalicelib.rotation.watch.run
