"""The Slack front door: signed, authorised /ops commands and interactive buttons.

``http`` serves Slack's request URLs (Bolt); ``door`` the pure checks before Bolt; ``commands`` runs a command
wherever it came from; ``handlers`` takes the peer events addressed to the front door (forwarded commands,
approval requests, announcements, approval results); ``store`` holds its items; ``slack`` is the adapter to Slack
and the outbox delivery. Approvals are ``chalicelib.decisions``; what every capability uses to talk to people is
``chalicelib.slackkit``. Nothing is imported here: only the functions that serve Slack or peer commands pay for
these modules.
"""
