"""Dead letters: what Lambda gave up on, where a person sees it and sends it round again.

Every function's asynchronous invocations go, after Lambda's two retries, to ``switchboard-dead-letters``
(infra/app.yaml's EventInvokeConfig ``OnFailure`` destination). Nothing there is silent:

- ``infra/account.yaml`` alarms (``switchboard-dead-letters``, severity page) as soon as one message is visible;
  the alarm's state change is an ordinary CloudWatch alarm event, so Switchboard's own alert routing sends it to
  people (while the account can still route: a dead letter of ``on_alarm`` itself still raises the alarm in
  CloudWatch, where the account's own alarm actions can page).
- ``records.py`` (pure) reads Lambda's destination record: which function, why (RetriesExhausted,
  EventAgeExceeded), how often it ran, the error, and the original payload.
- ``queue.py`` lists and redrives them: redriving invokes the same function asynchronously with the original
  payload (the intake's ledger keeps that exactly-once: what already succeeded is a duplicate) and deletes the
  message; each redrive is audited. ``switchboard dead-letters`` and ``/ops deadletters`` call it.
"""
