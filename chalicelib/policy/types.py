"""Building blocks of the policy schema, shared by the core schema and the capabilities' own sections."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from chalicelib import outbound
from chalicelib.timefmt import DURATION_PATTERN

if TYPE_CHECKING:
    from chalicelib.policy.schema import Policy

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
AccountId = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
# A Slack channel id (C…/G…) or a #name.
Channel = Annotated[str, StringConstraints(pattern=r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{8,})$")]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")]
# A pinned public key in PEM (its shape here; references.py parses it when the whole policy is validated)
PublicKeyPem = Annotated[str, StringConstraints(
    pattern=r"^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]{40,2000}-----END PUBLIC KEY-----\n?$")]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]  # chalicelib.timefmt reads it
# A Slack user (U…/W…) or user group (S…) id.
SlackPrincipal = Annotated[str, StringConstraints(pattern=r"^[UWS][A-Z0-9]{2,20}$")]
SlackUser = Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,20}$")]


def _outbound_url(url: str) -> str:
    """The outbound adapter's own rules (``chalicelib.outbound.check``), with the local-world switch off whatever the
    environment says: a policy is validated the same everywhere, and ships to AWS. Loopback stand-ins are named in
    secrets (checked at run time, where the local world allows loopback)."""
    try:
        outbound.check(url, loopback=False)
    except outbound.Refused as exc:
        raise PydanticCustomError("outbound_url", "{url} {why}", {"url": repr(url), "why": str(exc)}) from None
    return url


# A URL Switchboard calls (a health check, a webhook): https to a host name or a public address. Its resolved
# addresses are checked when it is called. The length as max_length, not in a pattern: pydantic-core's regex engine
# takes ~20 ms to compile a bounded repetition of a Unicode class, whenever a section's validator is built.
OutboundUrl = Annotated[str, StringConstraints(max_length=len("https://") + 2000), AfterValidator(_outbound_url)]

Path = tuple[str | int, ...]


class Strict(BaseModel):
    # defer_build: a model's validator is built on its first use, not when its module is imported. Every cold start
    # imports the whole schema but (inside Lambda) validates only the policy's core; a capability's models are
    # built when its section is first used (see chalicelib/policy/loader.py). So no model here may be
    # instantiated at import: a default that is a model is a ``default_factory``.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Section(Strict):
    """A capability's section of the policy. ``dangling`` yields its cross-reference problems as
    (path of the entry, message, path of the offending value), paths relative to the policy root."""

    def dangling(self, policy: Policy) -> Iterator[tuple[Path, str, Path]]:
        return iter(())

    def warnings(self, policy: Policy) -> Iterator[tuple[Path, str, Path]]:
        """Allowed but unwise, in the same form as ``dangling``: reported by ``switchboard policy validate``,
        never an error (the exit code stays 0)."""
        return iter(())


class Role(StrEnum):
    """What someone may do in an environment. ``admin`` implies every role; any role implies ``viewer``."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"


class EcsServiceRef(Strict):
    account: Name
    cluster: str = Field(min_length=1)
    service: str = Field(min_length=1)
