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
    operations.py  ack, silence, unsilence; executors.py: the /ops commands that call them
    ids.py         incident and silence ids (they name their environment), button -> command

Only the policy package is imported here, first: the policy schema imports this package's ``policy`` module for
its alerts section, so whichever of the two is imported first, the other must be importable half-way through
(see the note in ``policy.py``). The alarm handler must not pay for the Slack modules the executors need: those
are imported by ``executors`` alone.
"""

import chalicelib.policy  # noqa: F401 - before any alerts module; breaks the schema <-> alerts.policy cycle


def forget_caches() -> None:
    """Forget what this process caches (alarm tags, incidents last written, receiver secrets, compiled routes):
    for tests, which change accounts and policies between cases."""
    from chalicelib.alerts import model, routing, store
    from chalicelib.alerts.receivers import secrets

    model.forget_tags()
    store.forget()
    secrets.forget()
    routing._compiled.clear()
