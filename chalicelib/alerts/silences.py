"""Silences: matchers, an author, a reason and an end. Created from Slack (``/ops silence …`` or the Silence 1h
button), listed (``/ops silences``), ended early (``/ops unsilence <id>``).

Kept in the state table under one partition (``silence`` / ``<id>``), read with one consistent Query. DynamoDB's
TTL removes a silence a week after it ends, but TTL deletion is lazy (up to days), so whether a silence is in
force is always decided at read time from ``starts_at <= now < ends_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.attributes import JSONAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model

from chalicelib import matchers as m
from chalicelib.alerts import ids
from chalicelib.alerts.clock import iso
from chalicelib.alerts.mutes import SilenceView
from chalicelib.state.models import StateItem
from chalicelib.timefmt import parse_iso

PARTITION = "silence"
KEEP_AFTER_END = timedelta(days=7)
MAX_DURATION = timedelta(days=30)
MAX_REASON = 500


class SilenceError(ValueError):
    """A silence that cannot be created or ended; the message is for the person who asked."""


class SilenceItem(Model):
    class Meta(StateItem.Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)  # "silence"
    sk = UnicodeAttribute(range_key=True)  # the silence id, e.g. prod.s9f2c1e0a
    matchers = JSONAttribute()  # ["alarm=~web-.*", 'environment="prod"'], each in Alertmanager's grammar
    # "alertmanager": `matchers` is read with the one matcher grammar; absent (silences stored before it): read as
    # they were written (label<op>value, the value verbatim), so a stored silence keeps its meaning
    syntax = UnicodeAttribute(null=True)
    author = UnicodeAttribute()  # Slack user id
    reason = UnicodeAttribute()
    starts_at = UnicodeAttribute()  # iso (clock.iso)
    ends_at = UnicodeAttribute()
    created_at = UnicodeAttribute()
    ended_by = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[m.Matcher, ...]
    author: str
    reason: str
    starts_at: datetime
    ends_at: datetime
    ended_by: str | None = None

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def view(self) -> SilenceView:
        return SilenceView(self.id, self.matchers, self.starts_at, self.ends_at)


def _parse_time(text: str) -> datetime:
    return parse_iso(text)


SYNTAX = "alertmanager"


def _matchers(item: SilenceItem) -> tuple[m.Matcher, ...]:
    if item.syntax == SYNTAX:
        return m.parse_all(item.matchers)
    return tuple(m.parse_legacy(text) for text in item.matchers)


def _of(item: SilenceItem) -> Silence:
    return Silence(id=item.sk, matchers=_matchers(item), author=item.author, reason=item.reason,
                   starts_at=_parse_time(item.starts_at), ends_at=_parse_time(item.ends_at), ended_by=item.ended_by)


def check(matchers: Sequence[m.Matcher], duration: timedelta) -> None:
    """Alertmanager's rule: a silence whose every matcher also matches an alert without labels would silence
    everything (``alarm=~.*``), which is refused."""
    if not matchers:
        raise SilenceError("a silence needs at least one matcher")
    if all(x.matches({}) for x in matchers):
        raise SilenceError("these matchers would silence every alert: add one that must match a value")
    if not timedelta(0) < duration <= MAX_DURATION:
        raise SilenceError(f"a silence lasts more than 0 and at most {MAX_DURATION.days} days")


def create(matchers: Sequence[m.Matcher], *, duration: timedelta, author: str, reason: str, environment: str,
           now: datetime) -> Silence:
    check(matchers, duration)
    silence_id = ids.new_silence_id(environment)
    ends = now + duration
    item = SilenceItem(PARTITION, silence_id, matchers=[x.as_text() for x in matchers], syntax=SYNTAX, author=author,
                       reason=reason[:MAX_REASON], starts_at=iso(now), ends_at=iso(ends), created_at=iso(now),
                       expires_at=ends + KEEP_AFTER_END)
    try:
        item.save(condition=SilenceItem.sk.does_not_exist())
    except PutError as exc:  # 4 billion ids per environment: a clash is retried by the caller
        raise SilenceError(f"silence id {silence_id} already exists: try again") from exc
    made = _of(item)
    _feed(made, environment=environment)
    return made


def _feed(silence: Silence, *, environment: str, ended: bool = False) -> None:
    """The console's copy (chalicelib/console/feed.py)."""
    from chalicelib.console import feed, records

    feed.publish(feed.build(lambda: records.silence(silence, account=feed.here()["account"],
                                                    environment=environment, ended=ended)))


def every() -> list[Silence]:
    """Every silence still stored (ended ones included until TTL removes them)."""
    return [_of(item) for item in SilenceItem.query(PARTITION, consistent_read=True)]


def active(now: datetime) -> list[Silence]:
    return [s for s in every() if s.active(now)]


def get(silence_id: str) -> Silence | None:
    try:
        return _of(SilenceItem.get(PARTITION, silence_id, consistent_read=True))
    except SilenceItem.DoesNotExist:
        return None


def end(silence_id: str, *, user: str, now: datetime) -> Silence:
    """End a silence now (a conditional update: only one that has not ended yet)."""
    try:
        item = SilenceItem.get(PARTITION, silence_id, consistent_read=True)
    except SilenceItem.DoesNotExist:
        raise SilenceError(f"there is no silence '{silence_id}'") from None
    if _parse_time(item.ends_at) <= now:
        raise SilenceError(f"silence {silence_id} already ended at {item.ends_at[:16].replace('T', ' ')} UTC")
    try:
        item.update(actions=[SilenceItem.ends_at.set(iso(now)), SilenceItem.ended_by.set(user),
                             SilenceItem.expires_at.set(now + KEEP_AFTER_END)],
                    condition=SilenceItem.ends_at > iso(now))
    except UpdateError as exc:
        raise SilenceError(f"silence {silence_id} ended meanwhile") from exc
    ended = _of(item)
    _feed(ended, environment=silence_id.split(".", 1)[0], ended=True)
    return ended
