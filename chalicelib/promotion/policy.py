"""The promotion section of the policy: each app's path, how it deploys, its gates, its verification.

Each account's policy describes its own side. The account of the *source* environment (stage) evaluates the
source gates (soak, quiet alarms, health check) and hands the candidate over; the account of the *target*
environment (prod) evaluates the target gates (holds, freeze windows, open incidents, approvals), deploys,
verifies and rolls back. A setting an account does not use is simply ignored there::

    promotion:
      enabled: true
      paths:
        web: [stage, prod]              # environments in promotion order
      defaults:                         # per-app settings fall back to these
        soak: 30m
        approvals: {count: 1}
        approval_expiry: 24h
        bake: 15m
        rollback: auto
      apps:
        web:
          deploy:                       # trigger: start the target's pipeline pinned to the candidate's revision
            mode: trigger
            source_action: Source       # the pipeline's source action whose revision is pinned
            revision_type: COMMIT_ID    # COMMIT_ID | IMAGE_DIGEST | S3_OBJECT_VERSION_ID
          soak: 20m                     # time in the source environment after its pipeline succeeded
          alarms: ["web-*"]             # globs; default: the app's alarm_prefixes. Quiet for soak and bake
          health_checks:                # environment -> URL that must answer 200 (source: before hand-off;
            stage: https://web.stage.example.com/health   #  target: at the end of the bake)
          approvals: {count: 2, group: S0LEADS}   # N approvers (from a Slack user group, when given)
          approval_expiry: 24h
          block_on_incident: true       # an open alert incident for the app in the target holds it
          bake: 10m                     # prod alarms watched this long after the deploy succeeded
          rollback: auto                # auto: redeploy the last promoted revision; notify: a Roll back button
        api:
          deploy: {mode: approval, stage: Prod, action: ApproveProd}   # answer the Manual Approval action
          rollback: notify

Approvers are never the requester or the commit author (four eyes), whatever ``slack.four_eyes`` says.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from chalicelib.policy.types import Duration, Name, OutboundUrl, Path, Section, SlackPrincipal, Strict
from chalicelib.timefmt import seconds

if TYPE_CHECKING:
    from chalicelib.policy.schema import Policy


class Mode(StrEnum):
    TRIGGER = "trigger"  # start the target environment's pipeline with sourceRevisions pinned
    APPROVAL = "approval"  # answer the Manual Approval action of the target environment's pipeline


class RevisionType(StrEnum):
    COMMIT_ID = "COMMIT_ID"
    IMAGE_DIGEST = "IMAGE_DIGEST"
    S3_OBJECT_VERSION_ID = "S3_OBJECT_VERSION_ID"


class Rollback(StrEnum):
    AUTO = "auto"  # redeploy the last promoted revision (trigger mode only)
    NOTIFY = "notify"  # post a card with a one-click Roll back button


class Deploy(Strict):
    mode: Mode = Mode.TRIGGER
    source_action: str = Field("Source", min_length=1, max_length=100)  # trigger: the action whose revision is pinned
    revision_type: RevisionType = RevisionType.COMMIT_ID
    stage: str | None = Field(None, min_length=1, max_length=100)  # approval: the stage holding the action
    action: str | None = Field(None, min_length=1, max_length=100)  # approval: the Manual Approval action

    @model_validator(mode="after")
    def _approval_names_its_action(self) -> Deploy:
        if self.mode is Mode.APPROVAL and not (self.stage and self.action):
            raise ValueError("deploy mode 'approval' needs the 'stage' and 'action' of the Manual Approval action")
        return self


class Approvals(Strict):
    count: int = Field(1, ge=0, le=5)  # 0: no approval needed
    group: SlackPrincipal | None = None  # approvers must be in this Slack user group (besides the approver role)


class Settings(Strict):
    """One app's settings (every field optional: unset ones come from ``defaults``)."""

    deploy: Deploy | None = None
    soak: Duration | None = None
    alarms: tuple[str, ...] | None = None
    health_checks: dict[Name, OutboundUrl] | None = None
    approvals: Approvals | None = None
    approval_expiry: Duration | None = None
    block_on_incident: bool | None = None
    bake: Duration | None = None
    rollback: Rollback | None = None
    health_timeout: Duration | None = None


class Resolved(Strict):
    """An app's effective settings (app over defaults over built-ins)."""

    deploy: Deploy = Field(default_factory=Deploy)
    soak: Duration = "30m"
    alarms: tuple[str, ...] = ()
    health_checks: dict[Name, OutboundUrl] = Field(default_factory=dict)
    approvals: Approvals = Field(default_factory=Approvals)
    approval_expiry: Duration = "24h"
    block_on_incident: bool = True
    bake: Duration = "15m"
    rollback: Rollback = Rollback.AUTO
    health_timeout: Duration = "5s"

    @property
    def soak_seconds(self) -> int:
        return seconds(self.soak)

    @property
    def bake_seconds(self) -> int:
        return seconds(self.bake)

    @property
    def approval_expiry_seconds(self) -> int:
        return seconds(self.approval_expiry)


class PromotionSection(Section):
    enabled: bool = False
    # app name -> environments in promotion order, e.g. web: [stage, prod]
    paths: dict[Name, tuple[Name, ...]] = Field(default_factory=dict)
    defaults: Settings = Field(default_factory=Settings)
    apps: dict[Name, Settings] = Field(default_factory=dict)

    def settings(self, app: str, alarm_prefixes: tuple[str, ...] = ()) -> Resolved:
        """The effective settings of ``app``: its own over ``defaults`` over the built-ins. Without ``alarms``
        anywhere, the app's alarm prefixes are watched (``web-`` → ``web-*``)."""
        merged: dict = {}
        for layer in (self.defaults, self.apps.get(app)):
            if layer is not None:
                merged.update({k: v for k, v in layer.model_dump(exclude_none=True, by_alias=True).items()})
        if "alarms" not in merged:
            merged["alarms"] = tuple(f"{p}*" for p in alarm_prefixes)
        return Resolved.model_validate(merged)

    def destination(self, app: str, wanted: str | None = None) -> str | None:
        """Where a promotion of ``app`` goes: the environment asked for, else the end of its path (None: the app
        has no path)."""
        path = self.paths.get(app, ())
        return wanted or (path[-1] if path else None)

    def next_environment(self, app: str, environment: str) -> str | None:
        path = self.paths.get(app, ())
        if environment in path and path.index(environment) + 1 < len(path):
            return path[path.index(environment) + 1]
        return None

    def previous_environment(self, app: str, environment: str) -> str | None:
        path = self.paths.get(app, ())
        if environment in path and path.index(environment) > 0:
            return path[path.index(environment) - 1]
        return None

    def dangling(self, policy: Policy) -> Iterator[tuple[Path, str, Path]]:
        for app in self.apps:
            if app not in policy.apps:
                yield ("promotion", "apps", app), f"unknown app '{app}'", ("promotion", "apps", app)
            elif app not in self.paths:
                yield (("promotion", "apps", app), f"app '{app}' has settings but no promotion path",
                       ("promotion", "apps", app))
        for app, settings in self.apps.items():
            for env in (settings.health_checks or {}):
                if env not in policy.environments():
                    yield (("promotion", "apps", app, "health_checks", env), f"unknown environment '{env}'",
                           ("promotion", "apps", app, "health_checks", env))
        for app, path in self.paths.items():
            if app not in policy.apps:
                continue
            for env in path[1:]:  # every target environment needs the pipeline that deploys there
                if env in policy.environments() and env not in policy.apps[app].pipelines:
                    yield (("promotion", "paths", app), f"app '{app}' has no pipeline for '{env}' to deploy with",
                           ("promotion", "paths", app))
        environments = policy.environments()
        for app_name, path in self.paths.items():
            if app_name not in policy.apps:
                yield ("promotion", "paths", app_name), f"unknown app '{app_name}'", ("promotion", "paths", app_name)
            for i, env in enumerate(path):
                if env not in environments:
                    yield (("promotion", "paths", app_name, i), f"unknown environment '{env}'",
                           ("promotion", "paths", app_name, i))
