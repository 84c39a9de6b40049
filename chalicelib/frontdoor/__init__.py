"""The Slack front door: signed, authorised /ops commands and interactive buttons.

``http`` serves Slack's request URLs (Bolt); ``commands`` runs a command wherever it came from; ``peer`` takes
commands forwarded by the front-door account; ``decisions`` holds approvals; ``slack`` is the adapter to Slack.
Nothing is imported here: only the functions that serve Slack or peer commands pay for these modules.
"""
