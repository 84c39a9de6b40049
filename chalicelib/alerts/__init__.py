"""Alert routing: CloudWatch alarms to the people who own them, grouped, silenced, inhibited, escalated, and
resolved in place (issue 4). Alertmanager's routing and grouping plus PagerDuty-style incidents.

    policy.py      the alerts section as written in YAML (receivers, route tree, inhibit rules, time intervals)
    matchers.py    label matchers: Alertmanager's grammar (one parser for routes, inhibit rules, silences), RE2
    routing.py     the compiled route tree; route(labels) -> routes; explain() for `switchboard routes test`
    model.py       alarm event -> alerts and their labels (tags looked up and cached)
    incidents.py   the incident state machine (group_wait/interval/repeat, flapping, escalation, ack), pure
    mutes.py       silences, inhibition, CloudWatch mute rules, mute time intervals, pure
    store.py       incidents in the state table: optimistic, conditional writes; the due index
    silences.py    silences in the state table
    receivers/     Slack (keyed announcements through the front door), PagerDuty Events v2, SNS, webhook
    handlers.py    the alarm event handler (registered for Capability.ALERTS)
    flush.py       the every-minute flush of due incidents
    operations.py  ack, silence, unsilence; commands.py: the /ops commands that call them
    caches.py      what this process caches, forgotten at once (tests)
    manifest.py    the capability, declared (kinds, commands, the flush, IAM): chalicelib/manifest.py
    ids.py         incident and silence ids (they name their environment), button -> command
"""
