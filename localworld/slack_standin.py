"""The Slack stand-in's old module name, kept so importers and ``python -m localworld.slack_standin`` keep working.
The stand-in lives in the ``localworld.slack`` package (server, directory, recorder, limits)."""

from localworld.slack import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    TEAM_NAME,
    Call,
    Limits,
    Message,
    SlackStandIn,
    channel_id_for,
    main,
    parse_body,
    redact_token,
)

__all__ = ["APP_ID", "BOT_ID", "BOT_USER_ID", "TEAM_ID", "TEAM_NAME", "Call", "Limits", "Message", "SlackStandIn",
           "channel_id_for", "main", "parse_body", "redact_token"]

if __name__ == "__main__":
    raise SystemExit(main())
