"""The policy document as written in YAML, one per deployment stage (= AWS account).

Types here only describe shape. Cross-references (an app naming an unknown account, a route naming an
unknown receiver) are checked in ``references.py`` so every dangling reference is reported with its path.
The document's own pieces are here (the core, apps, the Slack section, freezes); each capability's section lives
in its package (``policy.py``) and is named by its manifest. ``document.py`` assembles the whole ``Policy`` from
both, so this module never imports a capability.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, PrivateAttr, StringConstraints

from chalicelib.policy.types import (  # noqa: F401 - re-exported: the schema's vocabulary
    AccountId,
    Channel,
    Duration,
    EcsServiceRef,
    Name,
    PublicKeyPem,
    Region,
    Role,
    SlackPrincipal,
    SlackUser,
    Strict,
)

if TYPE_CHECKING:
    from chalicelib.policy.loader import Pending

SCHEMA_VERSION = 1


class Flow(StrEnum):
    """What may travel between two Switchboard instances (as events on the peer's default bus)."""

    RELEASE_CANDIDATE = "release-candidate"  # stage hands a candidate to prod
    COMMAND = "command"  # the Slack front door hands a command to the account it targets
    REPLY = "reply"  # a peer answers a forwarded command
    APPROVAL_REQUEST = "approval-request"  # a peer asks the front door to put an approval card in Slack
    APPROVAL_RESULT = "approval-result"  # the front door tells the asking peer how the approval was decided
    ANNOUNCE = "announce"  # a peer asks the front door to post a message (only the front door holds the token)
    FEED = "feed"  # a peer tells the front door's console what changed (small versioned records, chalicelib/console)


class ThisAccount(Strict):
    name: Name
    id: AccountId
    environment: Name
    region: Region = "eu-west-1"
    # This account's own signing key (`switchboard keys public`): needed only to accept events it sends itself.
    public_key: PublicKeyPem | None = None


class Peer(Strict):
    id: AccountId
    environment: Name
    region: Region = "eu-west-1"
    # The peer's Switchboard signing key (PEM, ECC NIST P-256), printed in that account by
    # `switchboard keys public`. Every event from the peer must be signed with it (chalicelib/peering).
    public_key: PublicKeyPem | None = None
    send: tuple[Flow, ...] = ()  # flows this account may put on the peer's bus
    receive: tuple[Flow, ...] = ()  # flows this account accepts from the peer


class PipelineRef(Strict):
    account: Name
    name: str = Field(min_length=1, max_length=100)


class AsgRef(Strict):
    account: Name
    name: str = Field(min_length=1)


class App(Strict):
    channel: Channel
    alarm_prefixes: tuple[str, ...] = ()
    # Keyed by environment name.
    pipelines: dict[Name, PipelineRef] = Field(default_factory=dict)
    ecs_services: dict[Name, tuple[EcsServiceRef, ...]] = Field(default_factory=dict)
    asgs: dict[Name, tuple[AsgRef, ...]] = Field(default_factory=dict)


# ---- the Slack section: every capability talks to people through the front door ----


class SlackSection(Strict):
    command: Annotated[str, StringConstraints(pattern=r"^/[a-z0-9_-]+$")] = "/ops"
    front_door: Name | None = None  # account name (this one or a peer) where the Slack app points
    secret_name: str = "switchboard/slack"  # noqa: S105 - a Secrets Manager name, not a secret
    # the one workspace and Slack app the front door answers (Slack's "Basic Information" page: App ID; the
    # workspace's Team ID); a signed request from any other is refused with 401. Required in the front door.
    team_id: Annotated[str, StringConstraints(pattern=r"^T[A-Z0-9]{2,20}$")] | None = None
    api_app_id: Annotated[str, StringConstraints(pattern=r"^A[A-Z0-9]{2,20}$")] | None = None
    # environment -> role -> Slack user ids and user-group ids holding that role there
    roles: dict[Name, dict[Role, tuple[SlackPrincipal, ...]]] = Field(default_factory=dict)
    # environments where an approval must come from someone who is neither the requester nor the commit author
    four_eyes: tuple[Name, ...] = ("prod",)
    # Slack user -> the identities they commit as (git author emails or names), for the four-eyes check
    identities: dict[SlackUser, tuple[str, ...]] = Field(default_factory=dict)
    # where Switchboard says what the front door did (denials, failures to deliver); "" = nowhere
    audit_channel: Channel | None = None


# ---- freeze windows (used by promotion, rotation, scaling; evaluated in chalicelib/freezes.py) ----

LocalTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
EndTime = Annotated[str, StringConstraints(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]  # 24:00: day's end
Weekday = Annotated[str, StringConstraints(pattern=r"^(mon|tue|wed|thu|fri|sat|sun)$")]


class WeeklyWindow(Strict):
    days: tuple[Weekday, ...] = Field(min_length=1)
    start: LocalTime = Field(alias="from")
    end: EndTime = Field(alias="to")


class DateWindow(Strict):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")


class Freeze(Strict):
    name: Name
    environments: tuple[Name, ...] = Field(min_length=1)
    timezone: str = "UTC"
    weekly: WeeklyWindow | None = None
    dates: DateWindow | None = None
    reason: str | None = None


class PolicyCore(Strict):
    """What every cold start needs: the schema version, this account and its peers (app.py builds the peer
    event pattern from them). Always validated when a policy is loaded; inside Lambda the other sections are
    validated on first use (see ``Policy``)."""

    version: int = Field(ge=SCHEMA_VERSION, le=SCHEMA_VERSION)
    account: ThisAccount
    peers: dict[Name, Peer] = Field(default_factory=dict)

    # ---- derived views used by handlers ----

    def accounts(self) -> dict[str, tuple[str, str]]:
        """Every known account: name -> (id, environment), this one included."""
        known = {self.account.name: (self.account.id, self.account.environment)}
        known.update({name: (p.id, p.environment) for name, p in self.peers.items()})
        return known

    def environments(self) -> set[str]:
        return {env for _, env in self.accounts().values()}

    def peer_by_id(self, account_id: str) -> tuple[str, Peer] | None:
        for name, peer in self.peers.items():
            if peer.id == account_id:
                return name, peer
        return None

    def inbound_account_ids(self) -> list[str]:
        """Accounts whose Switchboard events this instance's peer rule admits (itself included)."""
        ids = {self.account.id} | {p.id for p in self.peers.values() if p.receive}
        return sorted(ids)


class Policy(PolicyCore):
    """The whole policy: the core, then its sections (``document.py`` assembles the full type: apps, slack, each
    installed capability's section, freezes, limits; annotations name this class).

    Loaded in full (``chalicelib.policy.loader.load``: the CLI, ``chalice deploy``, tests), every section is
    validated up front. Loaded lazily (``load(..., lazy=True)``: ``current()`` inside Lambda), only the core is;
    each other section is missing from the instance until it is first read, when ``__getattr__`` has the loader
    validate it (its shape, then its references) and keeps it, or raise the ``PolicyError`` a full load would
    report for it. A section is never handed out half-valid.
    """

    # sections still to validate (a lazily loaded policy only)
    _pending: Pending | None = PrivateAttr(None)

    def __getattr__(self, name: str) -> Any:
        # only reached for a name missing from the instance: a section of a lazy policy not yet read
        private = object.__getattribute__(self, "__pydantic_private__") or {}
        pending = private.get("_pending")
        if pending is not None and name in type(self).lazy_sections():
            return pending.resolve(self, name)
        return super().__getattr__(name)

    @classmethod
    def lazy_sections(cls) -> tuple[str, ...]:
        """Validated on first read in a lazily loaded policy: every field but the core's, in document order."""
        return tuple(name for name in cls.model_fields if name not in PolicyCore.model_fields)

    def pending_sections(self) -> list[str]:
        """Sections of a lazily loaded policy not validated yet (none once all were read)."""
        return [name for name in self.lazy_sections() if name not in self.__dict__] if self._pending else []

    def validate_sections(self) -> Policy:
        """Validate every section still pending (raises the first ``PolicyError``); returns this policy."""
        for name in self.pending_sections():
            getattr(self, name)
        return self

    # whole-policy views see every section, so a lazy policy validates the rest first

    def __eq__(self, other: object) -> bool:
        self.validate_sections()
        if isinstance(other, Policy):
            other.validate_sections()
        return super().__eq__(other)

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        self.validate_sections()
        return super().__iter__()

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        self.validate_sections()
        return super().model_dump(**kwargs)

    def model_dump_json(self, **kwargs: Any) -> str:
        self.validate_sections()
        return super().model_dump_json(**kwargs)
