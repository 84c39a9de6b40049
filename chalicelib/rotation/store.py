"""The rotation capability's items in the shared state table (see chalicelib/state/models.py for the key design).

rotation#<secret name> / iam-key#<version>   createSecret of an IAM key began at ``started_at``: a key of that user
                                             made since then and held by no version is this rotation's own (a crash
                                             between CreateAccessKey and PutSecretValue), safe to delete on retry
rotation#<secret name> / stuck#<version>     the watch asked in Slack to clear this stuck AWSPENDING (asked once)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.state.keys import conditional_failed
from chalicelib.state.models import StateItem

LIFETIME = timedelta(days=30)


class RotationItem(Model):
    class Meta(StateItem.Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    started_at = UnicodeAttribute(null=True)
    decision = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


def key(secret: str) -> str:
    return f"rotation#{secret}"


def mark_once(secret: str, sk: str, now: datetime, **attributes: str) -> tuple[RotationItem, bool]:
    """Create the item unless it exists; returns (the item as stored, whether this call created it)."""
    item = RotationItem(key(secret), sk, started_at=now.astimezone(UTC).isoformat(), expires_at=now + LIFETIME,
                        **attributes)
    try:
        item.save(condition=RotationItem.pk.does_not_exist())
        return item, True
    except PutError as exc:
        if not conditional_failed(exc):
            raise
        return RotationItem.get(key(secret), sk, consistent_read=True), False


def forget(secret: str, sk: str) -> None:
    try:
        RotationItem.get(key(secret), sk).delete()
    except RotationItem.DoesNotExist:
        pass
