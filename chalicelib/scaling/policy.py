"""The scaling section of the policy: targets with guardrails, alarm rules, schedules, dry-run.

As written in YAML (one section per account; a target is acted on only in the account that owns it)::

    scaling:
      enabled: true
      dry_run: false                  # true: every change is planned, audited as `planned` and announced, never made
      catch_up: 1h                    # a tick still fires a schedule time missed by at most this much
      targets:
        web:                          # the name used by `/ops scale web 6`, alarm rules and schedules
          account: prod
          ecs_service: {account: prod, cluster: prod, service: web}     # or `asg: api`
          channel: "#team-web"        # default: the channel of the app that lists this service / group
          guardrails:
            floor: 2                  # never below
            ceiling: 8                # never above
            max_step: 2               # at most this many tasks/instances per change...
            max_step_percent: 100     # ...and at most this % of the current count (from 0: the count limit alone)
            cooldown: 10m             # between two Switchboard changes of this target
            max_changes_per_hour: 6
            approval: {prod: [in]}    # environment -> directions (in, out) that need an approver
            approve_restores: true    # ending a temporary change needs one too, when its direction does
        web-stage: {account: stage}   # another account's target: named here only so `/ops scale` can route it
      alarms:
        web-latency:                  # rule name
          alarm: "web-latency*"       # glob on the alarm name
          target: web
          add: 2                      # when the alarm enters ALARM (bounded by ceiling and step)
          revert_on_ok: true          # back to the saved size when it returns to OK...
          revert_after: 1h            # ...or after this long, whichever comes first
      schedules:
        night:
          target: web-stage
          cron: "0 20 * * mon-fri"    # minute hour day-of-month month day-of-week, in `timezone`
          timezone: Europe/Berlin
          set: 0                      # the size before is saved
        morning:
          target: web-stage
          cron: "0 7 * * mon-fri"
          timezone: Europe/Berlin
          restore: night              # back to what `night` saved (unless someone changed it since)

A target in this account needs exactly one resource and guardrails; a target of another account needs neither (the
front door only routes commands for it, and the owning account checks everything again with its own policy).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, model_validator

from chalicelib.policy.types import Channel, Duration, EcsServiceRef, Name, Path, Section, Strict
from chalicelib.timefmt import seconds

if TYPE_CHECKING:
    from chalicelib.policy.schema import Policy

MAX_COUNT = 10_000  # the grammar's limit on a count; a ceiling above it could never be asked for


class Direction(StrEnum):
    OUT = "out"  # more capacity
    IN = "in"  # less capacity


class Guardrails(Strict):
    floor: int = Field(ge=0, le=MAX_COUNT)
    ceiling: int = Field(ge=0, le=MAX_COUNT)
    max_step: int = Field(ge=1, le=MAX_COUNT)
    max_step_percent: int | None = Field(None, ge=1, le=10_000)
    cooldown: Duration = "5m"
    max_changes_per_hour: int = Field(6, ge=1, le=60)
    # environment -> directions that need an approver there. The default (prod scale-in) may name an environment
    # the estate does not have; a written one is checked.
    approval: dict[Name, tuple[Direction, ...]] = Field(default_factory=lambda: {"prod": (Direction.IN,)})
    # the end of a temporary change (back to the saved size) needs approval too when its direction does; false:
    # it goes back without asking (the change it ends was accepted with its duration)
    approve_restores: bool = True

    @property
    def cooldown_seconds(self) -> int:
        return seconds(self.cooldown)


class ScalingTarget(Strict):
    account: Name
    asg: str | None = Field(None, min_length=1, max_length=255)
    ecs_service: EcsServiceRef | None = None
    channel: Channel | None = None
    guardrails: Guardrails | None = None
    dry_run: bool | None = None  # None: the section's dry_run

    @property
    def audit_target(self) -> str:
        """The audit log's name for the resource (what `/ops audit <app>` looks up)."""
        if self.ecs_service is not None:
            return f"service/{self.ecs_service.cluster}/{self.ecs_service.service}"
        return f"autoScalingGroup/{self.asg}"


class AlarmRule(Strict):
    alarm: str = Field(min_length=1, max_length=255)  # glob (fnmatch) on the alarm name
    target: Name
    add: int = Field(ge=1, le=MAX_COUNT)
    revert_on_ok: bool = True
    revert_after: Duration | None = None


class Schedule(Strict):
    target: Name
    cron: str = Field(min_length=9, max_length=200)
    timezone: str = "UTC"
    set: int | None = Field(None, ge=0, le=MAX_COUNT)
    duration: Duration | None = None  # with `set`: restore after this long
    restore: Name | None = None  # the `set` schedule whose saved size to restore

    @model_validator(mode="after")
    def _one_action(self) -> Schedule:
        if (self.set is None) == (self.restore is None):
            raise ValueError("a schedule either sets a size ('set') or restores one ('restore')")
        if self.duration is not None and self.set is None:
            raise ValueError("'duration' goes with 'set'")
        return self


class ScalingSection(Section):
    enabled: bool = False
    dry_run: bool = True
    catch_up: Duration = "1h"
    targets: dict[Name, ScalingTarget] = Field(default_factory=dict)
    alarms: dict[Name, AlarmRule] = Field(default_factory=dict)
    schedules: dict[Name, Schedule] = Field(default_factory=dict)

    def channel_for(self, name: str, policy: Policy) -> str | None:
        """Where a target's changes are announced: its own channel, else its app's, else the audit channel."""
        target = self.targets[name]
        if target.channel:
            return target.channel
        for app in policy.apps.values():
            for refs in app.ecs_services.values():
                if target.ecs_service is not None and target.ecs_service in refs:
                    return app.channel
            for refs in app.asgs.values():
                if any(r.account == target.account and r.name == target.asg for r in refs):
                    return app.channel
        return policy.slack.audit_channel

    def local(self, policy: Policy) -> dict[str, ScalingTarget]:
        """The targets this account acts on."""
        return {n: t for n, t in self.targets.items() if t.account == policy.account.name}

    def dangling(self, policy: Policy) -> Iterator[tuple[Path, str, Path]]:
        from chalicelib.scaling import cron

        accounts = policy.accounts()
        environments = policy.environments()
        here = policy.account.name
        if seconds(self.catch_up) > 86400:
            yield ("scaling", "catch_up"), "at most 1d: a schedule is not worth acting on a day late", \
                ("scaling", "catch_up")
        for name, target in self.targets.items():
            entry = ("scaling", "targets", name)
            if target.account not in accounts:
                yield entry, f"unknown account '{target.account}'", (*entry, "account")
            both = target.asg is not None and target.ecs_service is not None
            if both or (target.account == here and target.asg is None and target.ecs_service is None):
                yield entry, "a scaling target names exactly one of 'asg' or 'ecs_service'", entry
            if target.ecs_service is not None and target.ecs_service.account != target.account:
                yield (entry, f"the service is in account '{target.ecs_service.account}', not '{target.account}'",
                       (*entry, "ecs_service", "account"))
            if target.account != here:
                continue
            guard = target.guardrails
            if guard is None:
                yield entry, "a scaling target in this account needs guardrails", entry
            else:
                if guard.ceiling < guard.floor:
                    yield (entry, f"ceiling {guard.ceiling} is below floor {guard.floor}",
                           (*entry, "guardrails", "ceiling"))
                if "approval" in guard.model_fields_set:
                    for env in guard.approval:
                        if env not in environments:
                            yield (entry, f"unknown environment '{env}'", (*entry, "guardrails", "approval", env))
            if self.channel_for(name, policy) is None:
                yield (entry, "no channel to announce changes in: set 'channel' (no app lists this resource and "
                              "slack.audit_channel is unset)", entry)

        def local_target(entry: Path, name: str) -> Iterator[tuple[Path, str, Path]]:
            if name not in self.targets:
                yield entry, f"unknown scaling target '{name}'", (*entry, "target")
            elif self.targets[name].account != here:
                yield (entry, f"target '{name}' is in account '{self.targets[name].account}': rules act on this "
                              f"account's targets only", (*entry, "target"))

        for name, rule in self.alarms.items():
            yield from local_target(("scaling", "alarms", name), rule.target)

        for name, schedule in self.schedules.items():
            entry = ("scaling", "schedules", name)
            yield from local_target(entry, schedule.target)
            try:
                cron.parse(schedule.cron)
            except cron.CronError as exc:
                yield entry, f"bad cron '{schedule.cron}': {exc}", (*entry, "cron")
            try:
                ZoneInfo(schedule.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                yield entry, f"unknown time zone '{schedule.timezone}'", (*entry, "timezone")
            if schedule.restore is not None:
                other = self.schedules.get(schedule.restore)
                if other is None or other.set is None:
                    yield entry, f"'{schedule.restore}' is not a schedule that sets a size", (*entry, "restore")
                elif other.target != schedule.target:
                    yield (entry, f"'{schedule.restore}' scales '{other.target}', not '{schedule.target}'",
                           (*entry, "restore"))
