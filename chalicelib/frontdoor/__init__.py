"""The Slack front door: signed, authorised /ops commands and interactive buttons.

``http`` serves Slack's request URLs (Bolt); ``door`` the pure checks before Bolt; ``commands`` runs a command
wherever it came from; ``handlers`` takes the peer events addressed to the front door (forwarded commands,
approval requests, announcements, approval results); ``outbox`` runs its delivery schedule. The adapter to Slack,
the outbox delivery and the ``/ops`` command registry are the platform's (``chalicelib.slackkit``: ``slack``,
``store``, ``commands``), approvals are ``chalicelib.decisions``. Nothing is imported here: only the functions that
serve Slack or peer commands pay for these modules.
"""
