"""The Slack front door: signed, authorised /ops commands and interactive buttons.

``http`` serves Slack's request URLs (Bolt); ``commands`` runs a command wherever it came from; ``peer`` takes
commands forwarded by the front-door account; ``decisions`` holds approvals; ``slack`` is the adapter to Slack.
"""

from chalicelib.frontdoor import peer  # noqa: F401 - registers the FRONTDOOR capability handler
