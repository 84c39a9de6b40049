"""The kinds of secret Switchboard rotates, one module each, behind ``kinds.base.Kind``. Imported on first use, so
only the rotation of a PostgreSQL secret loads pg8000."""

from __future__ import annotations

import importlib

from chalicelib.rotation.exceptions import NoKind
from chalicelib.rotation.kinds.base import Kind, Target
from chalicelib.rotation.policy import SecretKind

_CLASSES: dict[SecretKind, str] = {
    SecretKind.API_KEY: "chalicelib.rotation.kinds.api_key:ApiKey",
    SecretKind.POSTGRES_SINGLE: "chalicelib.rotation.kinds.postgres:Postgres",
    SecretKind.POSTGRES_ALTERNATING: "chalicelib.rotation.kinds.postgres:AlternatingPostgres",
    SecretKind.IAM_ACCESS_KEY: "chalicelib.rotation.kinds.iam_key:IamAccessKey",
}

__all__ = ["Kind", "Target", "for_target"]


def for_target(target: Target) -> Kind:
    """The kind that rotates ``target`` (NoKind if policy and tag name none, or disagree)."""
    effective = target.policy
    if effective.problem:
        raise NoKind(f"{target.name}: {effective.problem}")
    if effective.kind is None:
        raise NoKind(f"{target.name} has no kind: name one in policy (rotation.secrets) or tag the secret")
    module, _, cls = _CLASSES[effective.kind].partition(":")
    return getattr(importlib.import_module(module), cls)(target)
