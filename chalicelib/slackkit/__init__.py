"""The Slack platform: what every capability uses to talk to people, wherever it runs.

``mrkdwn`` makes outside text safe (escaping, sanitising, Slack's limits) and renders "who" (``mrkdwn.who``, the one
rendering of a person or Switchboard itself); ``blocks`` builds Block Kit messages; ``rbac`` says who may do what
where; ``announcements`` is the capability-side API that puts a message (or a keyed, updated-in-place message) in
a channel through the front door; ``keyed`` is the front door's side of keyed messages (where each was posted,
take-overs, re-rendering a card with its decision's footer); ``slack`` is the adapter to Slack (credentials, the Web
API client, user groups, deliveries kept in the outbox and retried) and ``store`` its items (message refs, the
outbox); ``commands`` is the ``/ops`` command registry (``executes``) with what an executor sees (``Command``,
``Asked``, ``Answer``); ``permissions`` the IAM groups for talking to people. Approvals and decisions are
``chalicelib.decisions``. Capabilities import these, never ``chalicelib.frontdoor``, and nothing here imports it.
Nothing is imported here.
"""
