"""The console: a read-only web view of the whole estate, in the front-door account.

Every account's Switchboard sends the front door a **feed** of small versioned records (``records.py``) through
the signed envelopes between accounts (flow ``feed``, ``feed.py``); the front door keeps the latest version of each
entity and a bounded history in its ``switchboard-console`` table (``store.py``). The console (``web.py``) reads
only that table, signed in with Slack (``auth.py``: OpenID Connect), and shows each person only the environments
their ``/ops`` roles let them view (``views.py``). Plots are SVG drawn on the server (``svg.py``).
"""
