"""The ``limits:`` section: how much of its account one Switchboard instance may use at once.

Read when the account's template is built (``infra/package.py``), never by a handler: the numbers become the
functions' reserved concurrency, the Slack API's throttle and the log groups' retention (see README,
"Deploying", for why each default is what it is).

    limits:
      concurrency:          # reserved concurrency: the most copies of a function running at once
        events: 10          # each function an EventBridge rule invokes (on_alarm, on_peer, ...)
        schedules: 2        # each timer (scaling_tick, alerts_flush, ...): one run, plus one overrunning its period
        direct: 5           # each function invoked by name (on_schedule by Scheduler, rotate_secret by Secrets Manager)
        api: 20             # the Slack front door's function (served where the API is)
        functions:          # one function's own number, by its Chalice name
          on_alarm: 20
      api: {rate: 10, burst: 20}   # Slack routes: requests per second, steady and in a burst
      log_retention_days: 365
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chalicelib.policy.types import Section, Strict

# the values CloudWatch Logs accepts for a log group's retention
RetentionDays = Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                        2922, 3288, 3653]
# a Chalice function name, as in app.py and in .chalice/config.json's lambda_functions (the REST API's: api_handler)
FunctionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
# at least 1 (0 would stop the function), at most Lambda's default account quota
Concurrency = Annotated[int, Field(ge=1, le=1000)]


class ConcurrencyLimits(Strict):
    events: Concurrency = 10
    schedules: Concurrency = 2
    direct: Concurrency = 5
    api: Concurrency = 20
    functions: dict[FunctionName, Concurrency] = Field(default_factory=dict)


class ApiThrottle(Strict):
    rate: float = Field(10.0, gt=0, le=10000)  # requests per second, steady (API Gateway's token refill rate)
    burst: int = Field(20, ge=1, le=5000)  # requests at once (the bucket's size)


class LimitsSection(Section):
    concurrency: ConcurrencyLimits = Field(default_factory=ConcurrencyLimits)
    api: ApiThrottle = Field(default_factory=ApiThrottle)
    log_retention_days: RetentionDays = 365
