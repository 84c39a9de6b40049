"""The thin adapter to Secrets Manager: every read names its ``VersionStage`` explicitly, every write is one call.

Reading "the secret" without a stage returns whatever version Secrets Manager (or an emulator) considers the
default, which mid-rotation is not what anyone wants: ``value(secret, AWSCURRENT)``, ``value(secret, AWSPENDING,
token)``, ``value(secret, AWSPREVIOUS)``. The client is ``chalicelib.aws``'s unless one is injected (tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.rotation.exceptions import Malformed, RotationError

AWSCURRENT, AWSPENDING, AWSPREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


@dataclass(frozen=True)
class Version:
    id: str
    text: str
    stages: tuple[str, ...]

    def __repr__(self) -> str:  # a value never reaches a log line through repr()
        return f"Version(id={self.id!r}, stages={self.stages!r}, text='***')"


def code_of(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def name_of(secret_id: str) -> str:
    """A secret's name from its name or ARN (``arn:…:secret:web/db-password-AbCdEf`` -> ``web/db-password``)."""
    if secret_id.startswith("arn:") and ":secret:" in secret_id:
        return _ARN_SUFFIX.sub("", secret_id.split(":secret:", 1)[1])
    return secret_id


def tags_of(meta: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in meta.get("Tags") or [] if "Key" in t and "Value" in t}


def stages_of(meta: dict[str, Any]) -> dict[str, list[str]]:
    return dict(meta.get("VersionIdsToStages") or meta.get("SecretVersionsToStages") or {})


def version_with(meta: dict[str, Any], stage: str) -> str | None:
    return next((v for v, stages in stages_of(meta).items() if stage in stages), None)


class SecretStore:
    def __init__(self, client: Any = None):
        self._client = client

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else aws.client("secretsmanager")

    def describe(self, secret_id: str) -> dict[str, Any]:
        return self.client.describe_secret(SecretId=secret_id)

    def value(self, secret_id: str, stage: str, version_id: str | None = None) -> Version | None:
        """The value at ``stage`` (and ``version_id``, when given), or None when there is none."""
        params = {"SecretId": secret_id, "VersionStage": stage}
        if version_id is not None:
            params["VersionId"] = version_id
        try:
            got = self.client.get_secret_value(**params)
        except ClientError as exc:
            if code_of(exc) in ("ResourceNotFoundException", "SecretStageVersionMismatchException"):
                return None
            raise
        if "SecretString" not in got:
            raise Malformed(f"{name_of(secret_id)} holds a binary value: rotation handles text (JSON) secrets only")
        return Version(got["VersionId"], got["SecretString"], tuple(got.get("VersionStages") or ()))

    def put_pending(self, secret_id: str, token: str, text: str, rotation_token: str | None = None) -> None:
        params = {"SecretId": secret_id, "ClientRequestToken": token, "SecretString": text,
                  "VersionStages": [AWSPENDING]}
        if rotation_token:
            params["RotationToken"] = rotation_token
        try:
            self.client.put_secret_value(**params)
        except ClientError as exc:
            # A concurrent createSecret for the same token stored its value first: that value stands.
            if code_of(exc) != "ResourceExistsException" or self.value(secret_id, AWSPENDING, token) is None:
                raise

    def move_current(self, secret_id: str, token: str, from_version: str | None) -> None:
        params = {"SecretId": secret_id, "VersionStage": AWSCURRENT, "MoveToVersionId": token}
        if from_version is not None:
            params["RemoveFromVersionId"] = from_version
        self.client.update_secret_version_stage(**params)

    def detach(self, secret_id: str, stage: str, version_id: str) -> None:
        self.client.update_secret_version_stage(SecretId=secret_id, VersionStage=stage,
                                                RemoveFromVersionId=version_id)

    def random(self, length: int, *, exclude_characters: str = "", exclude_punctuation: bool = False) -> str:
        params: dict[str, Any] = {"PasswordLength": length, "ExcludePunctuation": exclude_punctuation,
                                  "RequireEachIncludedType": True}
        if exclude_characters:
            params["ExcludeCharacters"] = exclude_characters
        return self.client.get_random_password(**params)["RandomPassword"]

    def versions(self, secret_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"SecretId": secret_id}
        while True:
            page = self.client.list_secret_version_ids(**params)
            found.extend(page.get("Versions", []))
            if not page.get("NextToken"):
                return found
            params["NextToken"] = page["NextToken"]

    def secrets(self) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {}
        while True:
            page = self.client.list_secrets(**params)
            yield from page.get("SecretList", [])
            if not page.get("NextToken"):
                return
            params["NextToken"] = page["NextToken"]

    def start_rotation(self, secret_id: str, token: str, lambda_arn: str) -> str:
        """Start a rotation now with the secret's own rotation function (named again: its configuration stays)."""
        answer = self.client.rotate_secret(SecretId=secret_id, ClientRequestToken=token,
                                           RotationLambdaARN=lambda_arn, RotateImmediately=True)
        return answer.get("VersionId", token)


def describe_or_none(store: SecretStore, secret_id: str) -> dict[str, Any] | None:
    try:
        return store.describe(secret_id)
    except ClientError as exc:
        if code_of(exc) == "ResourceNotFoundException":
            return None
        raise


def require(version: Version | None, what: str) -> Version:
    if version is None:
        raise RotationError(f"there is no {what}")
    return version
