"""Ids people type in Slack: ``/ops ack prod.3f2a9c1b0e.2``, ``/ops unsilence prod.s9f2c1e``.

Each starts with the environment it lives in, so the front door can send the command to the account that holds
it without asking anyone (environment names have no dots). Pure.
"""

from __future__ import annotations

import re
import secrets

INCIDENT = re.compile(r"^(?P<env>[a-z][a-z0-9-]{0,62})\.(?P<group>[0-9a-f]{10})\.(?P<episode>[1-9][0-9]{0,8})$")
SILENCE = re.compile(r"^(?P<env>[a-z][a-z0-9-]{0,62})\.s(?P<token>[0-9a-f]{6,12})$")


def incident_id(environment: str, group: str, episode: int) -> str:
    return f"{environment}.{group}.{episode}"


def parse_incident(text: str) -> tuple[str, str, int] | None:
    """(environment, group hash, episode), or None when ``text`` is not an incident id."""
    found = INCIDENT.match(text)
    return (found["env"], found["group"], int(found["episode"])) if found else None


def new_silence_id(environment: str) -> str:
    return f"{environment}.s{secrets.token_hex(4)}"


def environment_of(text: str) -> str | None:
    """The environment an incident or silence id names (for the front door's targets), or None."""
    found = INCIDENT.match(text) or SILENCE.match(text)
    return found["env"] if found else None


def button_command(action_id: str, value: str) -> str | None:
    """The ``/ops`` command an incident card's button stands for (the front door runs it like a typed one:
    RBAC, forwarding to the account that holds the incident, an ephemeral answer), or None for a bad value."""
    parsed = parse_incident(value)
    if parsed is None:
        return None
    if action_id == "incident_ack":
        return f"ack {value}"
    if action_id == "silence_1h":
        return f"silence environment={parsed[0]} incident={value} for 1h Silence 1h button on the incident card"
    return None
