"""The ``alerts`` section of the policy, as written in YAML (compiled into a routing tree by ``routing.py``).

Like Alertmanager's config: receivers by name, one route tree whose root names the default receiver, children
inheriting ``group_by``/``group_wait``/``group_interval``/``repeat_interval``/``escalation`` from their parent,
inhibition rules, and named time intervals that routes use to mute notifications. Shape is checked here;
references (an undefined receiver or time interval) in ``AlertsSection.dangling``, so the policy loader reports
every problem with its YAML path and line.

    alerts:
      default_severity: warning
      receivers:
        prod-alerts: {slack: {channel: "#prod-alerts"}}
        web-oncall:
          slack: {channel: "#team-web"}
          pagerduty: {secret: switchboard/pagerduty/web}     # Secrets Manager: {"routing_key": "..."}
        audit-topic: {sns: {topic_arn: "arn:aws:sns:eu-west-1:333344445555:alerts"}}
        status-page: {webhook: {secret: switchboard/webhook/status}}   # {"url": "https://...", "token": "..."}
      route:
        receiver: prod-alerts            # the default: every alert that no child route takes
        group_by: [alarm]
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 4h
        routes:
          - matchers: ["app=web", "severity=~page|critical"]
            receiver: web-oncall
            escalation: {after: 15m, receivers: [web-pager], repeat: 2}
          - matchers: ["state=INSUFFICIENT_DATA"]
            receiver: prod-alerts
            mute_time_intervals: [weekends]
      inhibit_rules:
        - source_matchers: ["namespace=AWS/ApplicationELB", "tag_scope=account"]
          target_matchers: ["metric=HTTPCode_Target_5XX_Count"]
          equal: [account, region]
      time_intervals:
        weekends: {timezone: Europe/London, weekly: [{days: [sat, sun]}]}
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from chalicelib import matchers as m
from chalicelib.policy.types import Channel, Duration, Name, OutboundUrl, Path, Section, Strict

if TYPE_CHECKING:
    from chalicelib.policy.schema import Policy

DEFAULT_GROUP_WAIT = "30s"
DEFAULT_GROUP_INTERVAL = "5m"
DEFAULT_REPEAT_INTERVAL = "4h"
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"  # EU accounts: events.eu.pagerduty.com
ALL_LABELS = "..."  # group_by: [...] groups by every label (one group per alert), as in Alertmanager


def _matcher(text: str) -> str:
    """One entry of a ``matchers:`` list: one matcher or several (``a=b, c=~"d|e"``, braces allowed), as in
    Alertmanager's config; a regex must compile with RE2."""
    try:
        m.parse_matchers(text)
    except m.MatcherError as exc:
        raise ValueError(str(exc)) from None
    return text


def _label(text: str) -> str:
    if not text:  # Alertmanager's UTF-8 label names: any non-empty text
        raise ValueError("a label name cannot be empty")
    return text


MatcherText = Annotated[str, AfterValidator(_matcher)]
LabelName = Annotated[str, AfterValidator(_label)]
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$")]
Url = OutboundUrl  # https to a host name or a public address (chalicelib.outbound's rules)
SnsTopicArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")]
LocalTime = Annotated[str, StringConstraints(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PagerDutySeverity = Literal["critical", "error", "warning", "info"]


# ---- receivers: where notifications go ----

class SlackTarget(Strict):
    channel: Channel


class PagerDutyTarget(Strict):
    """PagerDuty Events API v2. The secret holds the integration's routing key: the bare key, or JSON
    ``{"routing_key": "...", "url": "..."}`` (``url`` overrides the events URL, e.g. for the local world)."""

    secret: SecretName
    url: Url = PAGERDUTY_EVENTS_URL
    # the alert's ``severity`` label -> PagerDuty's severity (unmapped: critical/error/warning/info pass
    # through, ``page`` is critical, anything else warning)
    severity: dict[str, PagerDutySeverity] = Field(default_factory=dict)


class SnsTarget(Strict):
    topic_arn: SnsTopicArn


class WebhookTarget(Strict):
    """A JSON POST (Alertmanager's webhook shape), signed with HMAC-SHA256 when the secret holds a token.
    The secret is ``{"url": "...", "token": "..."}`` or a bare token; ``url`` here or in the secret."""

    url: Url | None = None
    secret: SecretName | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> WebhookTarget:
        if self.url is None and self.secret is None:
            raise ValueError("a webhook needs a url, or a secret holding one")
        return self


class Receiver(Strict):
    slack: SlackTarget | None = None
    pagerduty: PagerDutyTarget | None = None
    sns: SnsTarget | None = None
    webhook: WebhookTarget | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `{slack_channel: "#x"}` (the form the first policies used) is `{slack: {channel: "#x"}}`
        if isinstance(data, dict) and "slack_channel" in data:
            data = dict(data)
            channel = data.pop("slack_channel")
            if "slack" in data:
                raise ValueError("give either slack_channel or slack, not both")
            data["slack"] = {"channel": channel}
        return data

    @model_validator(mode="after")
    def _something(self) -> Receiver:
        if not self.integrations():
            raise ValueError("a receiver needs at least one of slack, pagerduty, sns, webhook")
        return self

    def integrations(self) -> dict[str, Any]:
        return {k: v for k, v in (("slack", self.slack), ("pagerduty", self.pagerduty), ("sns", self.sns),
                                  ("webhook", self.webhook)) if v is not None}


# ---- the route tree, as written ----

class Escalation(Strict):
    """Not acknowledged ``after`` the first notification -> the next receiver; then every ``after`` again,
    cycling through ``receivers`` up to ``repeat`` times."""

    after: Duration
    receivers: tuple[Name, ...] = Field(min_length=1)
    repeat: int = Field(1, ge=1, le=10)


class Route(Strict):
    receiver: Name | None = None
    matchers: tuple[MatcherText, ...] = ()
    continue_: bool = Field(False, alias="continue")
    group_by: tuple[LabelName, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    escalation: Escalation | None = None
    mute_time_intervals: tuple[Name, ...] = ()  # not inherited (as in Alertmanager)
    routes: tuple[Route, ...] = ()


class InhibitRule(Strict):
    """While an alert matching ``source_matchers`` fires, alerts matching ``target_matchers`` that have the same
    values for every ``equal`` label are muted."""

    source_matchers: tuple[MatcherText, ...] = Field(min_length=1)
    target_matchers: tuple[MatcherText, ...] = Field(min_length=1)
    equal: tuple[LabelName, ...] = ()


class WeeklyRange(Strict):
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    start: LocalTime = Field("00:00", alias="from")
    end: LocalTime = Field("24:00", alias="to")  # a range may cross midnight: fri 18:00 -> 06:00


class DateRange(Strict):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")


class TimeInterval(Strict):
    timezone: str = "UTC"
    weekly: tuple[WeeklyRange, ...] = ()
    dates: tuple[DateRange, ...] = ()


class Flapping(Strict):
    """An alert changing state ``transitions`` times within ``window`` is flapping: it counts as firing and its
    flips stop causing notifications until it has been quiet for the window."""

    transitions: int = Field(4, ge=2, le=50)
    window: Duration = "10m"


class AlertsSection(Section):
    receivers: dict[Name, Receiver] = Field(default_factory=dict)
    route: Route | None = None  # no route: alarms are recorded, nobody is notified
    inhibit_rules: tuple[InhibitRule, ...] = ()
    time_intervals: dict[Name, TimeInterval] = Field(default_factory=dict)
    default_severity: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "warning"
    # INSUFFICIENT_DATA is its own state (label state=INSUFFICIENT_DATA, routed like any label); "ignore" drops it
    insufficient_data: Literal["route", "ignore"] = "route"
    flapping: Flapping = Field(default_factory=Flapping)

    def dangling(self, policy: Policy) -> Iterator[tuple[Path, str, Path]]:
        receivers = set(self.receivers)
        if self.route is not None:
            root: Path = ("alerts", "route")
            if self.route.receiver is None:
                yield root, "the root route needs a default receiver", root
            if self.route.matchers:
                yield root, "the root route takes every alert: it has no matchers", (*root, "matchers")
            if self.route.mute_time_intervals:
                yield root, "the root route cannot have mute_time_intervals", (*root, "mute_time_intervals")
            if self.route.continue_:
                yield root, "the root route cannot have continue (it is the last resort)", (*root, "continue")
            yield from self._route(self.route, root, receivers)
        for name, interval in self.time_intervals.items():
            entry = ("alerts", "time_intervals", name)
            try:
                ZoneInfo(interval.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                yield entry, f"unknown time zone '{interval.timezone}'", (*entry, "timezone")
            if not interval.weekly and not interval.dates:
                yield entry, "a time interval needs weekly ranges or dates", entry
            for i, window in enumerate(interval.dates):
                if window.end <= window.start:
                    yield entry, "a date range's 'to' must be after its 'from'", (*entry, "dates", i)
                if window.start.tzinfo or window.end.tzinfo:
                    yield entry, "dates are local times in 'timezone': drop the offset", (*entry, "dates", i)

    def _route(self, route: Route, path: Path, receivers: set[str]) -> Iterator[tuple[Path, str, Path]]:
        if route.receiver is not None and route.receiver not in receivers:
            yield path, f"unknown receiver '{route.receiver}'", (*path, "receiver")
        if route.escalation is not None:
            for i, name in enumerate(route.escalation.receivers):
                if name not in receivers:
                    yield (*path, "escalation"), f"unknown receiver '{name}'", (*path, "escalation", "receivers", i)
        for i, name in enumerate(route.mute_time_intervals):
            if name not in self.time_intervals:
                yield path, f"unknown time interval '{name}'", (*path, "mute_time_intervals", i)
        if route.group_by and ALL_LABELS in route.group_by and len(route.group_by) > 1:
            yield path, "group_by '...' (every label) cannot be combined with other labels", (*path, "group_by")
        for i, name in enumerate(route.group_by or ()):
            if name in (route.group_by or ())[:i]:
                yield path, f"duplicated label '{name}' in group_by", (*path, "group_by", i)
        for option in ("group_interval", "repeat_interval"):
            value = getattr(route, option)
            if value is not None and int(value[:-1]) == 0:
                yield path, f"{option} cannot be zero (it would notify at every flush)", (*path, option)
        for i, child in enumerate(route.routes):
            yield from self._route(child, (*path, "routes", i), receivers)


def section(policy: Any) -> AlertsSection:
    """The policy's alerts section as this package's type (the loader's own once schema.py uses it; until then,
    the loader's minimal section re-read as this one)."""
    found = policy.alerts
    if isinstance(found, AlertsSection):
        return found
    cached = _converted.get(id(found))
    if cached is None or cached[0] is not found:
        cached = (found, AlertsSection.model_validate(found.model_dump(by_alias=True, exclude_unset=True)))
        _converted[id(found)] = cached
    return cached[1]


_converted: dict[int, tuple[Any, AlertsSection]] = {}
