"""Promotion gates, as pure functions: (an app's settings, facts gathered by the adapters) -> gates that pass,
fail or wait, each with a reason a person reads in Slack.

- Source gates (the source environment's account, before the hand-off): ``soak`` (time in the environment since
  its pipeline succeeded), ``alarms`` (none of the app's alarms in ALARM, and quiet for the soak since the last
  one), ``health`` (the environment's health check answers 200).
- Target gates (the target environment's account, before the deploy): ``candidate`` (not marked bad), ``hold``,
  ``freeze``, ``incidents``, ``approval`` (four eyes: the requester's and the commit author's own approvals do
  not count).
- ``verify``: the ``bake`` after the deploy: no alarm in ALARM for the bake, then the health check answers 200.

A WAIT gate carries ``until`` when it can end by itself (soak end, freeze end, approval expiry): ``next_check``
says when to look again. Reasons are plain text: the caller escapes them for Slack. Times are shown in UTC.
Every instant must be timezone-aware (``ValueError`` otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # attribute access only: importing the policy package at run time is the caller's business
    from chalicelib.promotion.policy import Resolved

NAMES_SHOWN = 5  # lists in reasons (alarms, incidents, freezes) name at most this many, then "and N more"
OK = 200


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a gate status, not a password
    FAIL = "fail"
    WAIT = "wait"


ICONS: dict[Status, str] = {Status.PASS: ":white_check_mark:", Status.WAIT: ":hourglass:", Status.FAIL: ":x:"}


def _aware(obj: object) -> None:
    """Raise ValueError on any naive datetime field of a facts dataclass."""
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{type(obj).__name__}.{f.name} must be a timezone-aware datetime, not {value!r}")


@dataclass(frozen=True)
class Gate:
    name: str
    status: Status
    reason: str
    until: datetime | None = None  # when a WAIT can end by itself (soak end, freeze end, ...), else None

    def __post_init__(self) -> None:
        _aware(self)


@dataclass(frozen=True)
class Health:
    url: str
    status_code: int | None  # None: no answer
    error: str | None = None


@dataclass(frozen=True)
class SourceFacts:
    now: datetime
    succeeded_at: datetime  # the source pipeline execution succeeded: the soak starts
    skip_soak: bool = False
    skipped_by: str | None = None
    alarms_in_alarm: tuple[str, ...] = ()  # matching alarms in ALARM now
    last_alarm_at: datetime | None = None  # last time a matching alarm was in ALARM (entered or left it)
    health: Health | None = None  # None: no health check configured for the source environment

    def __post_init__(self) -> None:
        _aware(self)


@dataclass(frozen=True)
class Hold:
    by: str
    reason: str
    at: datetime

    def __post_init__(self) -> None:
        _aware(self)


@dataclass(frozen=True)
class ActiveFreeze:
    name: str
    reason: str | None
    until: datetime | None  # None: no known end

    def __post_init__(self) -> None:
        _aware(self)


@dataclass(frozen=True)
class TargetFacts:
    now: datetime
    requester: str | None
    author: str | None
    hold: Hold | None = None
    freezes: tuple[ActiveFreeze, ...] = ()
    open_incidents: tuple[str, ...] = ()  # ids of open alert incidents for the app in the target environment
    approvals_required: int = 1  # what this candidate needs (the adapter takes it from settings.approvals.count)
    approvals: tuple[str, ...] = ()  # Slack user ids who approved so far
    rejected_by: str | None = None
    reject_reason: str | None = None
    expired: bool = False
    awaiting_since: datetime | None = None  # approval requested: it expires approval_expiry later
    bad: str | None = None  # why this revision is marked bad (after a rollback), else None

    def __post_init__(self) -> None:
        _aware(self)


@dataclass(frozen=True)
class VerifyFacts:
    now: datetime
    deployed_at: datetime  # the target pipeline succeeded: the bake starts
    alarms_in_alarm: tuple[str, ...] = ()
    health: Health | None = None  # probed at/after the bake's end only

    def __post_init__(self) -> None:
        _aware(self)


# ---- source gates ----

def source_gates(settings: Resolved, facts: SourceFacts) -> list[Gate]:
    """``soak``, ``alarms``, ``health``, in that order."""
    soak = timedelta(seconds=settings.soak_seconds)
    return [_soak(soak, facts), _source_alarms(settings, soak, facts), _health("health", facts.health, Status.WAIT)]


def _soak(soak: timedelta, facts: SourceFacts) -> Gate:
    if facts.skip_soak:
        who = f" by {mention(facts.skipped_by)}" if facts.skipped_by else ""
        return Gate("soak", Status.PASS, f"skipped{who}")
    end = facts.succeeded_at + soak
    elapsed = duration(facts.now - facts.succeeded_at)
    if facts.now >= end:
        return Gate("soak", Status.PASS, f"{elapsed} in the environment since {clock(facts.succeeded_at, facts.now)} "
                                         f"(needs {duration(soak)})")
    return Gate("soak", Status.WAIT, f"{elapsed} of {duration(soak)} since {clock(facts.succeeded_at, facts.now)}; "
                                     f"ends at {clock(end, facts.now)}", until=end)


def _source_alarms(settings: Resolved, soak: timedelta, facts: SourceFacts) -> Gate:
    if facts.alarms_in_alarm:
        return Gate("alarms", Status.WAIT, f"in ALARM: {names(facts.alarms_in_alarm)}")
    last = facts.last_alarm_at
    if not facts.skip_soak and last is not None and last > facts.succeeded_at and facts.now < last + soak:
        return Gate("alarms", Status.WAIT, f"quiet since {clock(last, facts.now)}; needs {duration(soak)} "
                                           f"(until {clock(last + soak, facts.now)})", until=last + soak)
    watched = f"none of {names(settings.alarms)} in ALARM" if settings.alarms else "no alarms in ALARM"
    if facts.skip_soak and last is not None and last > facts.succeeded_at:
        return Gate("alarms", Status.PASS, f"{watched} (last at {clock(last, facts.now)}; soak skipped, so not "
                                           f"waited out)")
    if last is not None:
        return Gate("alarms", Status.PASS, f"{watched}; quiet since {clock(last, facts.now)}")
    return Gate("alarms", Status.PASS, watched)


def _health(name: str, health: Health | None, otherwise: Status) -> Gate:
    if health is None:
        return Gate(name, Status.PASS, "no health check")
    if health.status_code == OK:
        return Gate(name, Status.PASS, f"{health.url} answered {OK}")
    if health.status_code is None:
        return Gate(name, otherwise, f"{health.url} did not answer: {health.error or 'no answer'}")
    error = f" ({health.error})" if health.error else ""
    return Gate(name, otherwise, f"{health.url} answered {health.status_code}, not {OK}{error}")


# ---- target gates ----

def target_gates(settings: Resolved, facts: TargetFacts) -> list[Gate]:
    """``candidate``, ``hold``, ``freeze``, ``incidents``, ``approval``, in that order."""
    return [_candidate(facts), _hold(facts), _freeze(facts), _incidents(settings, facts),
            _approval(settings, facts)]


def _candidate(facts: TargetFacts) -> Gate:
    """A revision marked bad (rolled back) is never promoted on its own again; a person may still ask for it
    (``/ops promote <app> <version>``), and the gate says so on the card for the approvers to see."""
    if facts.bad and facts.requester and facts.requester != "system":
        return Gate("candidate", Status.PASS, f"marked bad ({facts.bad}); promoted on {mention(facts.requester)}'s "
                                              "request")
    if facts.bad:
        return Gate("candidate", Status.FAIL, f"this revision is marked bad: {facts.bad}")
    return Gate("candidate", Status.PASS, "not marked bad")


def _hold(facts: TargetFacts) -> Gate:
    hold = facts.hold
    if hold is None:
        return Gate("hold", Status.PASS, "no hold")
    return Gate("hold", Status.WAIT, f"held by {mention(hold.by)} since {clock(hold.at, facts.now)}: {hold.reason}")


def _freeze(facts: TargetFacts) -> Gate:
    if not facts.freezes:
        return Gate("freeze", Status.PASS, "no freeze in force")
    shown = []
    for f in facts.freezes:
        text = f"'{f.name}'" + (f" ({f.reason})" if f.reason else "")
        shown.append(text + (f" until {clock(f.until, facts.now)}" if f.until else " (no known end)"))
    ends = [f.until for f in facts.freezes if f.until is not None]
    word = "freeze" if len(facts.freezes) == 1 else "freezes"
    return Gate("freeze", Status.WAIT, f"{word} in force: {names(shown, sep='; ')}", until=min(ends, default=None))


def _incidents(settings: Resolved, facts: TargetFacts) -> Gate:
    found = facts.open_incidents
    if not found:
        return Gate("incidents", Status.PASS, "no open incidents")
    word = "incident" if len(found) == 1 else "incidents"
    if not settings.block_on_incident:
        return Gate("incidents", Status.PASS, f"{len(found)} open {word} ({names(found)}): not blocking "
                                              f"(block_on_incident is off)")
    return Gate("incidents", Status.WAIT, f"{len(found)} open {word}: {names(found)}")


def _approval(settings: Resolved, facts: TargetFacts) -> Gate:
    if facts.rejected_by:
        why = f": {facts.reject_reason}" if facts.reject_reason else ""
        return Gate("approval", Status.FAIL, f"rejected by {mention(facts.rejected_by)}{why}")
    required = facts.approvals_required
    if required <= 0:
        return Gate("approval", Status.PASS, "no approval required")
    counted, ignored = _four_eyes(facts)
    if len(counted) >= required:
        return Gate("approval", Status.PASS, f"approved by {names([mention(u) for u in counted])}{ignored}")
    deadline = None
    if facts.awaiting_since is not None:
        deadline = facts.awaiting_since + timedelta(seconds=settings.approval_expiry_seconds)
    if facts.expired or (deadline is not None and facts.now >= deadline):
        after = f" after {settings.approval_expiry}" if deadline is not None else ""
        return Gate("approval", Status.FAIL, f"the approval request expired{after} with {len(counted)} of "
                                             f"{required} approvals{ignored}")
    who = f" ({names([mention(u) for u in counted])})" if counted else ""
    expires = f"; expires at {clock(deadline, facts.now)}" if deadline is not None else ""
    return Gate("approval", Status.WAIT, f"{len(counted)} of {required} approvals{who}{ignored}{expires}",
                until=deadline)


def _four_eyes(facts: TargetFacts) -> tuple[list[str], str]:
    """The approvals that count (each person once; never the requester's or the commit author's) and a note on
    those that do not."""
    counted: list[str] = []
    ignored: dict[str, str] = {}
    for user in facts.approvals:
        if user == facts.requester or user == facts.author:
            ignored[user] = "the requester" if user == facts.requester else "the commit author"
        elif user not in counted:
            counted.append(user)
    if not ignored:
        return counted, ""
    notes = ", ".join(f"{mention(u)} is {role}" for u, role in ignored.items())
    return counted, f"; not counted: {notes}"


# ---- verification ----

def verify(settings: Resolved, facts: VerifyFacts) -> Gate:
    """The ``bake`` after the deploy: any alarm in ALARM fails it; it waits until the bake ends; then the health
    check (if any) must answer 200."""
    bake = timedelta(seconds=settings.bake_seconds)
    end = facts.deployed_at + bake
    if facts.alarms_in_alarm:
        return Gate("bake", Status.FAIL, f"in ALARM {duration(facts.now - facts.deployed_at)} after the deploy: "
                                         f"{names(facts.alarms_in_alarm)}")
    if facts.now < end:
        return Gate("bake", Status.WAIT, f"{duration(facts.now - facts.deployed_at)} of {duration(bake)} since the "
                                         f"deploy at {clock(facts.deployed_at, facts.now)}; ends at "
                                         f"{clock(end, facts.now)}", until=end)
    quiet = f"quiet for the {duration(bake)} bake since {clock(facts.deployed_at, facts.now)}"
    health = _health("bake", facts.health, Status.FAIL)
    if health.status is Status.FAIL:
        return Gate("bake", Status.FAIL, f"{quiet}, but {health.reason}")
    if facts.health is None:
        return Gate("bake", Status.PASS, quiet)
    return Gate("bake", Status.PASS, f"{quiet}; {health.reason}")


# ---- reading gates ----

def verdict(gates: Sequence[Gate]) -> Status:
    statuses = {g.status for g in gates}
    if Status.FAIL in statuses:
        return Status.FAIL
    return Status.WAIT if Status.WAIT in statuses else Status.PASS


def next_check(gates: Sequence[Gate]) -> datetime | None:
    """When to look again: the earliest ``until`` among the WAIT gates (None: nothing ends by itself)."""
    return min((g.until for g in gates if g.status is Status.WAIT and g.until is not None), default=None)


def summary(gates: Sequence[Gate]) -> list[str]:
    return [f"{ICONS[g.status]} {g.name} — {g.reason}" for g in gates]


# ---- text ----

def duration(delta: timedelta | float) -> str:
    """``45s``, ``12m30s``, ``30m``, ``1h``, ``1h30m``, ``2d3h``: the two largest units (negative: ``0s``)."""
    total = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    total = max(total, 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    first = next((i for i, (n, _) in enumerate(units) if n), len(units) - 1)
    return "".join(f"{n}{u}" for n, u in units[first:first + 2] if n) or "0s"


def clock(at: datetime, now: datetime | None = None) -> str:
    """``10:02 UTC``; with the date (``24 Dec 10:02 UTC``) when ``at`` is not on the same UTC day as ``now``."""
    utc = at.astimezone(UTC)
    if now is not None and utc.date() != now.astimezone(UTC).date():
        return utc.strftime("%d %b %H:%M UTC")
    return utc.strftime("%H:%M UTC")


def mention(user: str | None) -> str:
    return f"<@{user}>" if user else "someone"


def names(items: Iterable[str], sep: str = ", ") -> str:
    """``a, b, c`` — at most ``NAMES_SHOWN`` of them, then ``and N more``."""
    items = list(items)
    shown = sep.join(items[:NAMES_SHOWN])
    return f"{shown} and {len(items) - NAMES_SHOWN} more" if len(items) > NAMES_SHOWN else shown
