"""The Slack stand-in, by job: ``server`` (HTTP, Web API methods, response_urls, faults), ``directory`` (the
workspace: channels, users, user groups), ``recorder`` (calls and messages kept, and how to look at them) and
``limits`` (Slack's rate limits, on by default). ``localworld.slack_standin`` is the old name of the same thing."""

from localworld.slack.directory import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID, TEAM_NAME, channel_id_for
from localworld.slack.limits import Limits
from localworld.slack.recorder import Call, Message, redact_token
from localworld.slack.server import SlackStandIn, main, parse_body

__all__ = ["APP_ID", "BOT_ID", "BOT_USER_ID", "TEAM_ID", "TEAM_NAME", "Call", "Limits", "Message", "SlackStandIn",
           "channel_id_for", "main", "parse_body", "redact_token"]
