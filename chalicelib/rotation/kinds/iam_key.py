"""The access key of an IAM service user: ``{"user": "ci-deployer", "access_key_id": "AKIA…", "secret_access_key":
"…"}``.

- createSecret makes the new key (IAM allows two per user). Before that it deletes the user's keys no version
  needs: inactive ones (retired by an earlier rotation), and an active one made since this rotation began (a
  crash between CreateAccessKey and PutSecretValue left it behind; a marker in the state table says when the
  rotation began). Any other active key it cannot account for is refused, not deleted: a person may be using it.
- setSecret makes sure the new key exists, belongs to the user and is active.
- testSecret calls ``sts:GetCallerIdentity`` with the new key and expects the user's ARN (retrying a few times:
  a new key takes a moment to be accepted everywhere).
- finishSecret, once AWSCURRENT has moved, deactivates the old key; the next rotation deletes it.

Only users tagged ``switchboard:rotation=enabled`` are rotated: the rotation function's role is allowed the IAM
calls on those users only (``rotation/permissions.py``), and createSecret refuses an untagged user with that reason
rather than IAM's AccessDenied.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.rotation import store
from chalicelib.rotation.exceptions import Refused, TargetRejected
from chalicelib.rotation.kinds.base import Kind, Value, field_of
from chalicelib.rotation.policy import SecretKind
from chalicelib.rotation.secrets import AWSPREVIOUS, code_of

MAX_KEYS = 2
PROVE_ATTEMPTS = 6
PROVE_PAUSE_SECONDS = 2.0
CLOCK_SKEW = timedelta(seconds=5)
USER_TAG = "switchboard:rotation"  # the tag a service user must carry for Switchboard to rotate its keys
USER_TAG_VALUE = "enabled"


class IamAccessKey(Kind):
    kind = SecretKind.IAM_ACCESS_KEY

    def parse(self, text: str) -> Value:
        value = super().parse(text)
        for key in ("user", "access_key_id", "secret_access_key"):
            field_of(value, key, self.target.name, self.kind)
        return value

    @property
    def iam(self) -> Any:
        return aws.client("iam")

    def check_pending(self, current: Value, pending: Value) -> None:
        if pending["user"] != current["user"]:
            raise Refused(f"the pending value of {self.target.name} is for user {pending['user']}, not "
                          f"{current['user']}: refused")

    def _keys(self, user: str) -> list[dict[str, Any]]:
        return self.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]

    # ---- createSecret ----

    def generate(self, current: Value) -> Value:
        user, name, version = current["user"], self.target.name, self.target.version or "-"
        self._require_tag(user)
        mark, _ = store.mark_once(name, f"iam-key#{version}", self.target.now())
        began = _parse_time(mark.started_at) - CLOCK_SKEW
        previous = self.target.store.value(self.target.arn, AWSPREVIOUS)
        previous_id = self.parse(previous.text)["access_key_id"] if previous is not None else None
        keep = []
        for key in self._keys(user):
            key_id, created = key["AccessKeyId"], key.get("CreateDate")
            if key_id == current["access_key_id"]:
                keep.append(key_id)
            elif key["Status"] == "Inactive" or key_id == previous_id or (created is not None and created >= began):
                self.iam.delete_access_key(UserName=user, AccessKeyId=key_id)
            else:
                raise Refused(f"user {user} has an active access key {key_id} that no version of {name} holds: "
                              "delete or deactivate it first (Switchboard does not delete a key it cannot account "
                              "for)")
        if len(keep) >= MAX_KEYS:
            raise Refused(f"user {user} already has {len(keep)} keys")
        try:
            made = self.iam.create_access_key(UserName=user)["AccessKey"]
        except ClientError as exc:
            raise TargetRejected(f"IAM did not make a new key for {user}: {code_of(exc)}") from None
        return {**current, "access_key_id": made["AccessKeyId"], "secret_access_key": made["SecretAccessKey"]}

    def _require_tag(self, user: str) -> None:
        try:
            tags = {t["Key"]: t["Value"] for t in self.iam.get_user(UserName=user)["User"].get("Tags", [])}
        except ClientError as exc:
            raise TargetRejected(f"IAM did not describe user {user}: {code_of(exc)}") from None
        if tags.get(USER_TAG) != USER_TAG_VALUE:
            raise Refused(f"user {user} is not tagged {USER_TAG}={USER_TAG_VALUE}: Switchboard rotates the keys of "
                          "tagged users only (tag the user to allow it)")

    # ---- setSecret / testSecret ----

    def _user_arn(self, user: str) -> str:
        return self.iam.get_user(UserName=user)["User"]["Arn"]

    def works(self, value: Value) -> bool:
        key = next((k for k in self._keys(value["user"]) if k["AccessKeyId"] == value["access_key_id"]), None)
        if key is None or key["Status"] != "Active":
            return False
        return self._identity(value) == self._user_arn(value["user"])

    def _identity(self, value: Value) -> str | None:
        sts = aws.client_as("sts", access_key_id=value["access_key_id"],
                            secret_access_key=value["secret_access_key"])
        try:
            return sts.get_caller_identity()["Arn"]
        except ClientError:
            return None

    def apply(self, current: Value, pending: Value, previous: Value | None) -> None:
        key = next((k for k in self._keys(pending["user"]) if k["AccessKeyId"] == pending["access_key_id"]), None)
        if key is None:
            raise TargetRejected(f"the new key {pending['access_key_id']} of user {pending['user']} no longer exists: "
                                 "this rotation cannot finish (clear its AWSPENDING and rotate again)")
        if key["Status"] != "Active":
            self.iam.update_access_key(UserName=pending["user"], AccessKeyId=pending["access_key_id"],
                                       Status="Active")

    def prove(self, pending: Value) -> None:
        expected = self._user_arn(pending["user"])
        seen = None
        for attempt in range(PROVE_ATTEMPTS):
            seen = self._identity(pending)
            if seen == expected:
                return
            if attempt + 1 < PROVE_ATTEMPTS:
                self.target.sleep(PROVE_PAUSE_SECONDS)
        raise TargetRejected(f"STS does not accept the new key of {pending['user']} as that user "
                             f"(got {seen or 'an error'})")

    # ---- after finishSecret / clearing ----

    def finished(self, previous: Value | None, current: Value) -> None:
        if previous is None or previous["access_key_id"] == current["access_key_id"]:
            return
        for key in self._keys(current["user"]):
            if key["AccessKeyId"] == previous["access_key_id"] and key["Status"] == "Active":
                self.iam.update_access_key(UserName=current["user"], AccessKeyId=key["AccessKeyId"],
                                           Status="Inactive")
        store.forget(self.target.name, f"iam-key#{self.target.version or '-'}")

    def discard(self, pending: Value, current: Value) -> None:
        if pending["access_key_id"] == current["access_key_id"]:
            return
        if any(k["AccessKeyId"] == pending["access_key_id"] for k in self._keys(current["user"])):
            self.iam.delete_access_key(UserName=current["user"], AccessKeyId=pending["access_key_id"])


def _parse_time(text: str | None) -> Any:
    from datetime import UTC, datetime

    return datetime.fromisoformat(text) if text else datetime.now(UTC)
