"""Receivers: thin adapters that tell one integration about one incident.

    notification.py  what each adapter is given (``Notification``) and answers (``Delivery``, ``ReceiverError``)
    dispatch.py      ``deliver``: one notification to every integration of a receiver, each outcome said
    slack.py, pagerduty.py, sns.py, webhook.py   the adapters; http.py, secrets.py   what they share
"""
