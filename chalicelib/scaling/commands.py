"""Scaling's ``/ops`` command: ``scale <target> <count> [for <duration>] [--dry-run]`` (a preview of the plan and
what became of it). It runs in the account that holds the target (the front door forwards it there)."""

from __future__ import annotations

from chalicelib.policy.schema import Policy
from chalicelib.scaling import service
from chalicelib.scaling.plan import Request
from chalicelib.slackkit import blocks, mrkdwn
from chalicelib.slackkit.commands import Answer, Asked, Command, executes


@executes("scale")
def scale(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    name = cmd.args["target"]
    duration = cmd.args.get("duration")
    request = Request(name, "set", cmd.args["count"], origin="slack", actor=asked.user, request_id=asked.request_id,
                      duration=int(duration.total_seconds()) if duration else None, dry_run="dry-run" in cmd.flags,
                      slot=f"slack:{asked.request_id}" if duration else None)
    result = service.run(request, correlation_id=asked.request_id, policy=current)
    footer = f"audit: `/ops audit {mrkdwn.escape(name)}` · request {mrkdwn.code(asked.request_id, 80)}"
    heading = f"Scale {mrkdwn.safe(name, 80)} in {mrkdwn.safe(environment, 40)}"
    return Answer(mrkdwn.truncate(result.title, mrkdwn.SECTION_TEXT),
                  blocks.reply(heading, [result.title, *result.lines], footer))
