"""The alerts capability's items in the shared state table, and the one way incidents are changed.

    incident#<group hash> / incident    one alert group's incident: ``data`` (JSON, see incidents.Incident) and a
                                        ``version``. Every change is read -> pure function -> PutItem on condition
                                        that the version is still the one read (or, for a new group, that the
                                        item does not exist). A writer that loses re-reads and re-applies its
                                        change: parallel Lambda invocations never lose each other's updates.
                                        gsi1: "incident#open" / "<next deadline>#<group hash>" while open, so the
                                        flush finds what is due with one Query, and inhibition what is open.
    silence / <silence id>              a silence (see silences.py): one partition, read with a consistent Query.

TTL: closed incidents 30 days after closing (the record of an episode keeps late, older events from reopening
it); open ones are pushed 30 days ahead at every write.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.alerts import incidents
from chalicelib.alerts.clock import iso
from chalicelib.alerts.incidents import Incident
from chalicelib.state.keys import conditional_failed
from chalicelib.state.models import StateIndex, StateItem

OPEN = "incident#open"
KEEP = timedelta(days=30)
MAX_ATTEMPTS = 25


class Conflict(RuntimeError):
    """Someone else changed the incident between our read and our write."""


class IncidentItem(Model):
    class Meta(StateItem.Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)  # incident#<group hash>
    sk = UnicodeAttribute(range_key=True)  # "incident"
    version = NumberAttribute()
    data = JSONAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    open_index = StateIndex()


def pk_of(group_hash: str) -> str:
    return f"incident#{group_hash}"


def load(group_hash: str) -> tuple[Incident | None, int]:
    """The incident and its version (0: none yet). A consistent read."""
    inc, version, _ = load_with_deadline(group_hash)
    return inc, version


def load_with_deadline(group_hash: str) -> tuple[Incident | None, int, str | None]:
    """Also the deadline the index holds for it (to tell whether it needs rescheduling)."""
    try:
        item = IncidentItem.get(pk_of(group_hash), "incident", consistent_read=True)
    except IncidentItem.DoesNotExist:
        return None, 0, None
    return Incident.model_validate(item.data), int(item.version), item.gsi1sk


def save(inc: Incident, version: int, now: datetime) -> int:
    """Write ``inc`` if it is still at ``version``; returns the new version or raises ``Conflict``."""
    deadline = incidents.next_deadline(inc, now)
    item = IncidentItem(pk_of(inc.key), "incident", version=version + 1, data=inc.model_dump(mode="json"),
                        expires_at=(inc.closed_at or now) + KEEP)
    if deadline is not None:
        item.gsi1pk, item.gsi1sk = OPEN, f"{iso(deadline)}#{inc.key}"
    condition = IncidentItem.pk.does_not_exist() if version == 0 else IncidentItem.version == version
    try:
        item.save(condition=condition)
    except PutError as exc:
        if conditional_failed(exc):
            _cache.pop(inc.key, None)
            raise Conflict(inc.key) from None
        raise
    _remember(inc.key, inc, version + 1)
    from chalicelib.console import feed, records  # the console's copy (chalicelib/console/feed.py)

    feed.publish(feed.build(lambda: records.incident(inc, version + 1, account=feed.here()["account"])))
    return version + 1


def deadline_key(inc: Incident, now: datetime) -> str | None:
    deadline = incidents.next_deadline(inc, now)
    return None if deadline is None else f"{iso(deadline)}#{inc.key}"


def change(group_hash: str, fn: Callable[[Incident | None, int], Incident | None], now: datetime,
           attempts: int = MAX_ATTEMPTS, *, cached: bool = False) -> tuple[Incident | None, bool]:
    """Optimistic read-modify-write: ``fn(incident, version)`` returns the new incident, or None for no change.
    Returns (the incident as stored, whether this call changed it). Retries on conflict.

    ``cached``: start from this process's last copy of the incident instead of reading it (a warm Lambda in an
    alarm storm sees the same groups again and again). The version condition still decides: a stale copy only
    costs a failed write and a read. A "no change" reached from the copy is confirmed against a fresh read."""
    hit = _cache.get(group_hash) if cached else None
    for _ in range(attempts):
        if hit is not None:
            inc, version = hit
        else:
            inc, version = load(group_hash)
        new = fn(inc, version)
        if new is None:
            if hit is not None:
                hit = None
                continue
            return inc, False
        try:
            save(new, version, now)  # remembers the new copy
        except Conflict:
            hit = None
            continue
        return new, True
    raise Conflict(f"incident {group_hash}: still contended after {attempts} attempts")


CACHE_SIZE = 256  # incidents whose last written copy this process keeps (warm Lambda); a few MB at most
_cache: OrderedDict[str, tuple[Incident, int]] = OrderedDict()


def _remember(group_hash: str, inc: Incident, version: int) -> None:
    _cache[group_hash] = (inc, version)
    _cache.move_to_end(group_hash)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


def forget() -> None:
    _cache.clear()


def due(now: datetime) -> list[str]:
    """Group hashes of open incidents whose next deadline has come (oldest first)."""
    found = IncidentItem.open_index.query(OPEN, IncidentItem.gsi1sk <= f"{iso(now)}~")
    return [item.gsi1sk.split("#", 1)[1] for item in found]


def open_incidents() -> list[Incident]:
    """Every open incident (from the index: eventually consistent, fine for inhibition and listings)."""
    return [Incident.model_validate(item.data) for item in IncidentItem.open_index.query(OPEN)]
