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
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StringConstraints

from chalicelib.policy.types import Channel, Duration, Name, Section, Strict
from chalicelib.policy.types import Path as Path_

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
    """How the PostgreSQL kinds connect (libpq's sslmode names). The default verifies the server."""

    VERIFY_FULL = "verify-full"  # encrypted; the certificate chains to ``ca_file`` and names the host
    REQUIRE = "require"  # encrypted, certificate NOT verified: an explicit choice, never the default
    DISABLE = "disable"  # no TLS at all: only for a server you reach over loopback or a link you trust


# The Amazon RDS CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem), shipped in the
# package: the default trust for ``tls: verify-full``. A relative ``ca_file`` is relative to chalicelib/.
RDS_CA_BUNDLE = "rotation/kinds/certs/rds-global-bundle.pem"
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def ca_path(ca_file: str | None) -> Path:
    """The PEM file of the CAs a ``verify-full`` connection trusts."""
    path = Path(ca_file or RDS_CA_BUNDLE)
    return path if path.is_absolute() else PACKAGE_DIR / path


Statement = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


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
    # postgres: how to connect (TLS mode and the CAs it trusts; the Amazon RDS bundle by default); what testSecret
    # runs as the new user besides its own checks (statements, run in a transaction rolled back afterwards, and
    # tables/views it must be able to read); and (alternating) the secret of a role allowed to manage the pair's
    # roles (default: the current user logs in and does it, which needs CREATEROLE) and the pair's owner role
    tls: Tls = Tls.VERIFY_FULL
    ca_file: str | None = Field(None, min_length=1, max_length=1000)
    probe: Statement | tuple[Statement, ...] | None = None
    probe_objects: tuple[Annotated[str, StringConstraints(min_length=1, max_length=127)], ...] = Field(
        (), max_length=100)
    admin_secret: str | None = Field(None, min_length=1, max_length=512)
    owner_role: str | None = Field(None, min_length=1, max_length=63)  # default: <user>_owner

    @property
    def probes(self) -> tuple[str, ...]:
        return (self.probe,) if isinstance(self.probe, str) else (self.probe or ())


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

    def warnings(self, policy: Policy) -> Iterator[tuple[Path_, str, Path_]]:
        """Allowed but unwise: printed by ``switchboard policy validate``, never an error."""
        env = policy.account.environment
        if env not in self.approval:  # the environments rotation treats as production (default: prod)
            return
        for name, entry in self.secrets.items():
            if entry.kind == SecretKind.POSTGRES_SINGLE:
                path = ("rotation", "secrets", name)
                yield path, (f"postgres-single in {env}: the application cannot log in with AWSCURRENT between "
                             "setSecret and finishSecret (one password per user); use postgres-alternating"), (
                    *path, "kind")
            if entry.tls in (Tls.REQUIRE, Tls.DISABLE) and entry.kind in POSTGRES:
                path = ("rotation", "secrets", name)
                yield path, f"tls: {entry.tls} in {env}: the server's certificate is not verified", (*path, "tls")

    def dangling(self, policy: Policy) -> Iterator[tuple[Path_, str, Path_]]:
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
            yield from _postgres_problems(name, entry, path)
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


def _postgres_problems(name: str, entry: RotatedSecret, path: Path_) -> Iterator[tuple[Path_, str, Path_]]:
    kind = entry.kind
    for field in ("probe", "probe_objects", "admin_secret", "owner_role", "ca_file", "tls"):
        if field in entry.model_fields_set and kind is not None and kind not in POSTGRES:
            yield path, f"'{field}' is for postgres secrets, not {kind}", (*path, field)
    for field in ("admin_secret", "owner_role"):
        if getattr(entry, field) is not None and kind == SecretKind.POSTGRES_SINGLE:
            yield path, f"'{field}' is for postgres-alternating (a single user changes its own password)", (
                *path, field)
    if entry.admin_secret == name:
        yield path, "'admin_secret' names the secret itself: name the secret of a role that manages roles", (
            *path, "admin_secret")
    if entry.ca_file is not None and entry.tls != Tls.VERIFY_FULL:
        yield path, f"'ca_file' is only used with tls: verify-full, not {entry.tls}", (*path, "ca_file")
    elif entry.ca_file is not None and not ca_path(entry.ca_file).is_file():
        yield path, f"ca_file {entry.ca_file} is not a file in the package", (*path, "ca_file")


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
