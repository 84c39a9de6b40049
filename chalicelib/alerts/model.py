"""From a CloudWatch alarm event to alerts: what happened, and the labels routing matches on.

Labels (every value a string):

    account, account_id, environment   the event's account: its name and environment from policy
                                        ("unknown" when the account is not in policy: routed to the default)
    region, alarm                       where, and the alarm's name
    namespace, metric                   the alarm's metric (absent for math expressions and composite alarms)
    dim_<Name>                          each metric dimension, and each attribute of a contributor
    tag_<Key>                           each alarm tag (from the event's alarmTags, else ListTagsForResource)
    app                                 the app whose alarm_prefixes the name starts with (longest wins)
    severity                            the alarm's `severity` tag, else alerts.default_severity
    contributor                         the contributor id (Metrics Insights alarms with contributors)
    state                               added at routing time: ALARM or INSUFFICIENT_DATA (where it fires) -
                                        not part of the alert's identity

Names and keys are made label-safe (anything but letters, digits and _ becomes _). The alert's identity
(fingerprint) is its alarm ARN plus contributor id, so an OK finds the alert its ALARM opened whatever its labels.
Nothing here trusts the event: reasonData is parsed defensively, long texts are cut, odd values ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib import aws
from chalicelib.alerts.policy import AlertsSection
from chalicelib.alerts.text import clip
from chalicelib.observability import logger

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
FIRING = frozenset({"ALARM", "INSUFFICIENT_DATA"})
STATE_CHANGE = "CloudWatch Alarm State Change"
CONTRIBUTOR_CHANGE = "CloudWatch Alarm Contributor State Change"
CONFIGURATION_CHANGE = "CloudWatch Alarm Configuration Change"
UNKNOWN = "unknown"

MAX_LABEL_VALUE = 1024
MAX_REASON = 2000
MAX_DESCRIPTION = 1000
MAX_REASON_DATA = 64_000
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


class Unusable(ValueError):
    """The event cannot become an alert (the reason is audited as the rejection)."""


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Mapping[str, str]
    stat: str | None = None
    period: int | None = None


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    name: str
    arn: str
    account_id: str
    region: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    previous_state: str | None  # None on contributor events
    at: datetime  # when the state changed (the event's state timestamp)
    labels: Mapping[str, str]  # without `state`
    reason: str = ""
    reason_data: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    metrics: tuple[Metric, ...] = ()
    expression: str | None = None
    alarm_rule: str | None = None  # composite alarms
    triggering_alarms: tuple[str, ...] = ()
    contributor: Mapping[str, Any] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    mute: Mapping[str, str] | None = None  # CloudWatch alarm mute rule: mutedByArn, muteWindowStart/End
    event_id: str = ""
    known_account: bool = True
    warnings: tuple[str, ...] = ()

    @property
    def firing(self) -> bool:
        return self.state in FIRING

    def routing_labels(self, state: str) -> dict[str, str]:
        return {**self.labels, "state": state}


def label_name(prefix: str, key: str) -> str:
    return prefix + _UNSAFE.sub("_", str(key))


def _value(value: Any) -> str:
    return clip(value, MAX_LABEL_VALUE)


def fingerprint(arn: str, contributor_id: str | None = None) -> str:
    return hashlib.sha256(f"{arn}\n{contributor_id or ''}".encode()).hexdigest()[:16]


# ---- the event's parts ----

def parse_reason_data(text: Any) -> dict[str, Any]:
    """The parts of ``state.reasonData`` worth keeping, or {} for anything that is not a sane JSON object."""
    if not isinstance(text, str) or not text or len(text) > MAX_REASON_DATA:
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    kept: dict[str, Any] = {}
    for key in ("version", "queryDate", "startDate", "statistic", "unit"):
        if isinstance(data.get(key), str):
            kept[key] = clip(data[key], 100)
    for key in ("period", "threshold"):
        if isinstance(data.get(key), int | float) and not isinstance(data.get(key), bool):
            kept[key] = data[key]
    points = data.get("recentDatapoints")
    if isinstance(points, list):
        kept["recentDatapoints"] = [p for p in points[:10] if isinstance(p, int | float) and not isinstance(p, bool)]
    triggering = data.get("triggeringAlarms")
    if isinstance(triggering, list):
        kept["triggeringAlarms"] = [clip(t["arn"], 300) for t in triggering[:20]
                                    if isinstance(t, dict) and isinstance(t.get("arn"), str)]
    return kept


def _metrics(configuration: Mapping[str, Any]) -> tuple[tuple[Metric, ...], str | None]:
    found: list[Metric] = []
    expression = None
    entries = configuration.get("metrics")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("expression"), str) and entry.get("returnData", True):
            expression = expression or clip(entry["expression"], 1000)
        stat = entry.get("metricStat")
        metric = stat.get("metric") if isinstance(stat, dict) else None
        if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
            continue
        dims = metric.get("dimensions") if isinstance(metric.get("dimensions"), dict) else {}
        found.append(Metric(
            namespace=str(metric.get("namespace", "")), name=metric["name"],
            dimensions={str(k): _value(v) for k, v in list(dims.items())[:30]},
            stat=stat.get("stat") if isinstance(stat.get("stat"), str) else None,
            period=stat.get("period") if isinstance(stat.get("period"), int) else None))
    return tuple(found), expression


def _mute(raw: Any) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        return None
    kept = {k: clip(raw[k], 300) for k in ("mutedByArn", "muteWindowStart", "muteWindowEnd")
            if isinstance(raw.get(k), str)}
    return kept or None


def app_for(policy: Any, alarm: str) -> str | None:
    best: tuple[int, str] | None = None
    for name, app in policy.apps.items():
        for prefix in app.alarm_prefixes:
            if prefix and alarm.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), name)
    return best[1] if best else None


# ---- tags: from the event when CloudWatch propagates them, else ListTagsForResource (cached) ----

TAGS_MAX_AGE = 600.0
TAGS_MAX_ENTRIES = 2000
_tags_lock = threading.Lock()
_tags: dict[str, tuple[float, dict[str, str]]] = {}


class TagsUnavailable(RuntimeError):
    """ListTagsForResource failed (after boto3's retries) for another reason than the alarm being gone: the alert
    cannot be routed right (its severity may be a tag), so the event fails and Lambda retries it."""


def tags_for(arn: str, region: str) -> dict[str, str]:
    """The alarm's tags, cached for 10 minutes once read. A failed read is never cached as "no tags" (a page
    would go out as a ticket): it raises ``TagsUnavailable``, so the alerts capability fails alone and the event
    is retried. An alarm that no longer exists has no tags (cached: that answer is true)."""
    with _tags_lock:
        found = _tags.get(arn)
        if found is not None and time.monotonic() - found[0] < TAGS_MAX_AGE:
            return found[1]
    client = aws.client("cloudwatch", region=region)
    try:
        answer = client.list_tags_for_resource(ResourceARN=arn)
        tags = {str(t["Key"]): str(t["Value"]) for t in answer.get("Tags", [])}
    except client.exceptions.ResourceNotFoundException:
        tags = {}
    except Exception as exc:
        logger.warning("alarm tags unavailable", extra={"arn": arn, "reason": f"{type(exc).__name__}: {exc}"})
        raise TagsUnavailable(f"the tags of {arn} could not be read: {type(exc).__name__}: {exc}") from exc
    with _tags_lock:
        if len(_tags) >= TAGS_MAX_ENTRIES:
            _tags.clear()
        _tags[arn] = (time.monotonic(), tags)
    return tags


def forget_tags() -> None:
    with _tags_lock:
        _tags.clear()


# ---- the alert ----

def from_event(event: Any, policy: Any, section: AlertsSection, *, lookup_tags: bool = True) -> list[Alert]:
    """The alerts an alarm event carries: one, or none for a configuration change. Raises ``Unusable``."""
    if event.detail_type == CONFIGURATION_CHANGE:
        return []
    if event.detail_type not in (STATE_CHANGE, CONTRIBUTOR_CHANGE):
        raise Unusable(f"not an alarm state change: {event.detail_type!r}")
    detail = event.detail
    extra = detail.model_extra or {}
    name = detail.alarmName
    region = event.region
    arn = next((r for r in event.resources if isinstance(r, str) and ":alarm:" in r), None) or \
        f"arn:aws:cloudwatch:{region}:{event.account}:alarm:{name}"

    contributor = None
    if event.detail_type == CONTRIBUTOR_CHANGE:
        raw = detail.alarmContributor
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise Unusable("contributor state change without alarmContributor.id")
        attributes = raw.get("attributes") if isinstance(raw.get("attributes"), dict) else {}
        contributor = {"id": clip(raw["id"], 200), "attributes": {str(k): _value(v) for k, v in
                                                                   list(attributes.items())[:30]}}

    warnings: list[str] = []
    accounts = {acct_id: (acct_name, env) for acct_name, (acct_id, env) in policy.accounts().items()}
    known = event.account in accounts
    account, environment = accounts.get(event.account, (event.account, UNKNOWN))
    if not known:
        warnings.append(f"account {event.account} is not in policy: routed to the default receiver")

    configuration = detail.configuration or {}
    metrics, expression = _metrics(configuration)
    reason_data = parse_reason_data(detail.state.reasonData)
    raw_tags = extra.get("alarmTags")
    if isinstance(raw_tags, dict):
        tags = {str(k): _value(v) for k, v in list(raw_tags.items())[:50]}
    else:
        tags = tags_for(arn, region) if lookup_tags else {}

    labels: dict[str, str] = {"account": _value(account), "account_id": event.account, "environment": environment,
                              "region": region, "alarm": _value(name)}
    if metrics:
        labels["namespace"] = _value(metrics[0].namespace)
        labels["metric"] = _value(metrics[0].name)
        for metric in metrics:
            for dim, value in metric.dimensions.items():
                labels.setdefault(label_name("dim_", dim), value)
    if contributor is not None:
        labels["contributor"] = contributor["id"]
        for key, value in contributor["attributes"].items():
            labels[label_name("dim_", key)] = value
    for key, value in tags.items():
        labels[label_name("tag_", key)] = value
    app = app_for(policy, name)
    if app:
        labels["app"] = app
    labels["severity"] = tags.get("severity") or section.default_severity

    at = detail.state.timestamp or event.time
    if at.tzinfo is None:  # CloudWatch sends offsets; a hand-made event may not
        at = at.replace(tzinfo=UTC)
    alarm_rule = configuration.get("alarmRule")
    return [Alert(
        fingerprint=fingerprint(arn, contributor["id"] if contributor else None),
        name=name, arn=arn, account_id=event.account, region=region,
        state=detail.state.value,
        previous_state=detail.previousState.value if detail.previousState is not None else None,
        at=at, labels=labels,
        reason=clip(detail.state.reason or "", MAX_REASON),
        reason_data=reason_data,
        description=clip(configuration.get("description") or "", MAX_DESCRIPTION)
        if isinstance(configuration.get("description"), str) else "",
        metrics=metrics, expression=expression,
        alarm_rule=clip(alarm_rule, 2000) if isinstance(alarm_rule, str) else None,
        triggering_alarms=tuple(reason_data.get("triggeringAlarms", ())),
        contributor=contributor, tags=tags, mute=_mute(extra.get("muteDetail")),
        event_id=event.id, known_account=known, warnings=tuple(warnings),
    )]
