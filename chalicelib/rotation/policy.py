"""The rotation section of the policy: which secrets Switchboard rotates and watches, and how.

    rotation:
      enabled: true
      channel: "#platform"              # findings and rotation outcomes (else slack.audit_channel)
      approval: [prod]                  # environments where `/ops rotate` needs an approver (default: prod)
      pending_stuck_after: 6h           # an AWSPENDING version older than this is stuck
      defaults:                         # every secret of the account that is not listed below
        max_age_days: 90
        rotation_required: false
        kms_customer_key_required: true
      secrets:
        web/db-password: {kind: postgres-alternating, max_age_days: 30, probe: "SELECT 1 FROM orders LIMIT 1"}
        api/db-password: {kind: postgres-single, max_age_days: 30}
        web/api-key: {kind: api-key, webhook_secret: web/api-key-consumer, channel: "#team-web"}
        ci/deployer-key: {kind: iam-access-key, max_age_days: 60}
      groups:                           # never rotate these at the same moment
        app-db: {secrets: [web/db-password, api/db-password], spacing: 1h}

A secret's kind comes from its entry here or, when the entry names none (or the secret is not listed), from the
secret's tag ``kind_tag`` (``switchboard:rotation-kind``). A tag that contradicts the policy is an error at
rotation time, not a silent choice. A secret tagged with a kind is meant to be rotated: it counts as listed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import Field

from chalicelib.policy.types import Channel, Duration, Name, Path, Section, Strict

if TYPE_CHECKING:
    from chalicelib.policy.schema import Policy

KIND_TAG = "switchboard:rotation-kind"


class SecretKind(StrEnum):
    API_KEY = "api-key"
    POSTGRES_SINGLE = "postgres-single"
    POSTGRES_ALTERNATING = "postgres-alternating"
    IAM_ACCESS_KEY = "iam-access-key"


POSTGRES = frozenset({SecretKind.POSTGRES_SINGLE, SecretKind.POSTGRES_ALTERNATING})


class Tls(StrEnum):
    """How the PostgreSQL kinds connect. A loopback host (the local world) never uses TLS: nothing leaves the
    machine."""

    REQUIRE = "require"  # encrypted, certificate not verified (libpq's sslmode=require)
    VERIFY = "verify"  # encrypted, certificate and host name verified against the system's CA bundle


class RotatedSecret(Strict):
    kind: SecretKind | None = None  # None: the secret's kind tag
    max_age_days: int | None = Field(None, gt=0, le=365)  # None: defaults.max_age_days
    rotation_required: bool = True  # listing a secret means it must rotate
    kms_customer_key_required: bool | None = None  # None: defaults
    channel: Channel | None = None  # its owners; else the section's channel
    length: int | None = Field(None, ge=16, le=4096)  # of a generated password or key
    # api-key: the JSON field holding the key ("" = the whole secret string is the key), and the secret holding
    # the consumer's webhook ({"url": "https://…", "token": "…"}); no webhook: the consumer reads the secret each time
    key_field: str = Field("key", max_length=100)
    webhook_secret: str | None = Field(None, min_length=1, max_length=512)
    # postgres: how to connect, an extra probe query testSecret runs with the new value, and (alternating) the
    # secret of a role allowed to manage the clone user (default: the current user logs in and does it)
    tls: Tls = Tls.REQUIRE
    probe: str | None = Field(None, min_length=1, max_length=1000)
    admin_secret: str | None = Field(None, min_length=1, max_length=512)


class SecretDefaults(Strict):
    max_age_days: int = Field(90, gt=0, le=365)
    rotation_required: bool = False
    kms_customer_key_required: bool = False


class SecretGroup(Strict):
    secrets: tuple[str, ...] = Field(min_length=2)
    spacing: Duration = "1h"  # two members never start rotating closer together than this


class RotationSection(Section):
    enabled: bool = False
    channel: Channel | None = None
    kind_tag: str = Field(KIND_TAG, min_length=1, max_length=128)
    approval: tuple[Name, ...] = ("prod",)
    pending_stuck_after: Duration = "6h"
    defaults: SecretDefaults = Field(default_factory=SecretDefaults)
    secrets: dict[str, RotatedSecret] = Field(default_factory=dict)
    groups: dict[Name, SecretGroup] = Field(default_factory=dict)

    # ---- derived views ----

    def channel_for(self, name: str, policy: Policy) -> str | None:
        entry = self.secrets.get(name)
        return (entry.channel if entry else None) or self.channel or policy.slack.audit_channel

    def group_of(self, name: str) -> tuple[str, SecretGroup] | None:
        for group_name, group in self.groups.items():
            if name in group.secrets:
                return group_name, group
        return None

    def effective(self, name: str, tags: Mapping[str, str]) -> Effective:
        """What applies to secret ``name`` whose tags are ``tags`` (pure; problems are reported, not raised)."""
        entry = self.secrets.get(name)
        tagged = tags.get(self.kind_tag)
        problem = None
        kind: SecretKind | None = None
        if tagged is not None and tagged not in {k.value for k in SecretKind}:
            problem = f"tag {self.kind_tag}={tagged!r} is not a kind ({', '.join(k.value for k in SecretKind)})"
        elif entry is not None and entry.kind is not None and tagged is not None and tagged != entry.kind:
            problem = f"policy says {entry.kind} but tag {self.kind_tag} says {tagged}"
        else:
            kind = entry.kind if entry is not None and entry.kind is not None else (
                SecretKind(tagged) if tagged is not None else None)
        if entry is None:
            entry = RotatedSecret(rotation_required=tagged is not None or self.defaults.rotation_required)
        return Effective(
            name=name, kind=kind, problem=problem, listed=name in self.secrets or tagged is not None,
            rotation_required=entry.rotation_required,
            max_age_days=entry.max_age_days or self.defaults.max_age_days,
            kms_customer_key_required=(entry.kms_customer_key_required if entry.kms_customer_key_required is not None
                                       else self.defaults.kms_customer_key_required),
            settings=entry,
        )

    def dangling(self, policy: Policy) -> Iterator[tuple[Path, str, Path]]:
        environments = policy.environments()
        if "approval" in self.model_fields_set:
            for i, env in enumerate(self.approval):
                if env not in environments:
                    yield ("rotation", "approval", i), f"unknown environment '{env}'", ("rotation", "approval", i)
        if self.enabled and not (self.channel or policy.slack.audit_channel):
            yield (("rotation",), "no channel for findings and rotation outcomes: set 'channel' "
                                  "(slack.audit_channel is unset)", ("rotation",))
        for name, entry in self.secrets.items():
            path = ("rotation", "secrets", name)
            kind = entry.kind
            if entry.webhook_secret is not None and kind not in (None, SecretKind.API_KEY):
                yield path, f"'webhook_secret' is for api-key secrets, not {kind}", (*path, "webhook_secret")
            for field in ("probe", "admin_secret"):
                if getattr(entry, field) is not None and kind is not None and kind not in POSTGRES:
                    yield path, f"'{field}' is for postgres secrets, not {kind}", (*path, field)
            if entry.admin_secret is not None and kind == SecretKind.POSTGRES_SINGLE:
                yield path, "'admin_secret' is for postgres-alternating (a single user changes its own password)", (
                    *path, "admin_secret")
            if "length" in entry.model_fields_set and kind == SecretKind.IAM_ACCESS_KEY:
                yield path, "an IAM access key has no 'length': IAM makes the key", (*path, "length")
        seen: dict[str, str] = {}
        for group_name, group in self.groups.items():
            path = ("rotation", "groups", group_name)
            for i, member in enumerate(group.secrets):
                if seen.get(member, group_name) != group_name:
                    yield path, f"'{member}' is already in group '{seen[member]}'", (*path, "secrets", i)
                seen.setdefault(member, group_name)
            if len(set(group.secrets)) != len(group.secrets):
                yield path, "a group lists a secret twice", (*path, "secrets")


@dataclass(frozen=True)
class Effective:
    """The policy as it applies to one secret (its entry, else the defaults; its kind from policy or tag)."""

    name: str
    kind: SecretKind | None
    problem: str | None  # why the kind cannot be trusted (bad or contradicting tag)
    listed: bool  # named in policy or tagged with a kind: Switchboard rotates it
    rotation_required: bool
    max_age_days: int
    kms_customer_key_required: bool
    settings: RotatedSecret
