"""Switchboard's Chalice app: wiring only. Each handler hands the raw event to chalicelib.intake.

Reads as a table of contents of everything Switchboard reacts to. ``intake.entry`` lets each EventBridge
handler answer any payload Lambda may be given (a non-EventBridge one is rejected with its reason, audited).
The patterns live in chalicelib/intake/patterns.py; the peer pattern and the Slack routes (the front door's
only) depend on this stage's policy, which is loaded here: in full by `chalice deploy` (which imports this file
with the stage's environment variables set), and at a Lambda cold start only its core (account, peers) and its
slack section, each other section on first use (see chalicelib/policy/__init__.py).
"""

from chalice import Cron, Rate

from chalicelib import intake, policy
from chalicelib.intake import Kind, patterns
from chalicelib.lambda_app import App

app = App(app_name="switchboard")  # Chalice, raising what Chalice and Bolt would swallow (lambda_app.py)
POLICY = policy.current()


@intake.entry(Kind.CODEPIPELINE)
@app.on_cw_event(patterns.CODEPIPELINE)
def on_codepipeline(event):
    return intake.handle(Kind.CODEPIPELINE, event.to_dict(), event.context)


@intake.entry(Kind.ALARM)
@app.on_cw_event(patterns.ALARM)
def on_alarm(event):
    return intake.handle(Kind.ALARM, event.to_dict(), event.context)


@intake.entry(Kind.ECS)
@app.on_cw_event(patterns.ECS)
def on_ecs(event):
    return intake.handle(Kind.ECS, event.to_dict(), event.context)


@intake.entry(Kind.AUTOSCALING)
@app.on_cw_event(patterns.AUTOSCALING)
def on_autoscaling(event):
    return intake.handle(Kind.AUTOSCALING, event.to_dict(), event.context)


@intake.entry(Kind.SECRETS)
@app.on_cw_event(patterns.SECRETS)
def on_secrets(event):
    return intake.handle(Kind.SECRETS, event.to_dict(), event.context)


@intake.entry(Kind.PEER)
@app.on_cw_event(patterns.peer(POLICY))
def on_peer(event):
    return intake.handle(Kind.PEER, event.to_dict(), event.context)


# Invoked directly by EventBridge Scheduler (one-off and recurring schedules that capabilities create).
@app.lambda_function(name="on_schedule")
def on_schedule(event, context):
    return intake.handle(Kind.SCHEDULE, event, context)


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
@app.schedule(Rate(1, unit=Rate.MINUTES))
def scaling_tick(event):
    from chalicelib.scaling import ticks

    return ticks.run()


# ---- Promotion: soaks and bakes end, approvals expire, lost pipeline events are re-read, every minute ----
@app.schedule(Rate(1, unit=Rate.MINUTES))
def promotion_tick(event):
    from chalicelib.promotion import reconcile

    return reconcile.run()


# ---- Alerts: due groups are flushed (group_wait, group_interval, repeat, escalation) every minute ----
@app.schedule(Rate(1, unit=Rate.MINUTES))
def alerts_flush(event):
    from chalicelib.alerts import flush

    return flush.run()


@app.schedule(Rate(5, unit=Rate.MINUTES))
def slack_outbox(event):
    from chalicelib.decisions import service as decisions
    from chalicelib.frontdoor import slack

    return decisions.tick(slack.retry_outbox)


# ---- Secret rotation: the function Secrets Manager invokes for each step, and the daily watch ----
@app.lambda_function(name="rotate_secret")
def rotate_secret(event, context):
    from chalicelib.rotation import rotator

    return rotator.handle(event, context)


@app.schedule(Cron(0, 7, "*", "*", "?", "*"))
def rotation_watch(event):
    from chalicelib.rotation import watch

    return watch.run()
