"""The decision, as a pure function: (current capacity, request, guardrails, history, now) -> Plan | Refusal.

No I/O here (like chalice's deploy planner): a ``Plan`` lists the API calls to make as plain data and the
executor only performs them. Dry-run, Slack previews, approvals and the tests all read the same plan.

How a target is scaled depends on how it is run (``Mode``, detected by the executor):

=============  ====================================================================================================
``ecs``        a plain ECS service: its ``desiredCount``
``ecs-aas``    an ECS service registered with Application Auto Scaling: target tracking would undo a new
               desiredCount, so the scalable target's range moves instead (scale out: min = n; scale in: max = n)
``asg``        an Auto Scaling group without scaling policies: desired capacity; min/max widened only when n is
               outside them (AWS refuses a desired capacity outside min..max)
``asg-managed`` an Auto Scaling group with scaling policies: desired, and min (out) or max (in) so the change holds
=============  ====================================================================================================

Rules, in the order they are reported (every applicable reason is given, not only the first):

- the count is a whole number (``set``: 0 or more); the guardrails are consistent (floor <= ceiling);
- floor <= n <= ceiling. A *bounded* request (alarm rules) is clamped instead, and refused only when clamping
  would leave nothing to do or reverse its direction;
- one change moves at most ``max_step`` and at most ``max_step_percent`` of the current count (at least 1; from 0
  only the count limit applies). Bounded requests are clamped to the step too;
- ``cooldown`` since the last Switchboard change of the target, and at most ``max_changes_per_hour`` in the last hour;
- during a freeze, Switchboard changes nothing on its own (actor ``system``); a person's request goes ahead, noted;
- a direction listed under ``approval`` for the environment needs an approver: the plan says so
  (``needs_approval``), and is planned again, against fresh state, once approved. A restore needs one too unless
  ``approve_restores`` is false.

A *restore* (back to the size saved before a temporary change) first checks that the target still has what
Switchboard set; if someone changed it in between, it is refused as ``interference`` (say so, don't fight). It is
bounded by floor and ceiling and needs approval like any change in its direction, but step, cooldown and the
hourly limit do not apply: it returns to a size the target had.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.scaling.policy import Direction, Guardrails

SYSTEM = "system"
HOUR = timedelta(hours=1)


class Mode(StrEnum):
    ECS = "ecs"
    ECS_AAS = "ecs-aas"
    ASG = "asg"
    ASG_MANAGED = "asg-managed"


# the fields Switchboard sets in each mode: what a restore compares to see whether someone else changed the target
HELD: dict[Mode, tuple[str, ...]] = {
    Mode.ECS: ("desired",),
    Mode.ECS_AAS: ("minimum", "maximum"),
    Mode.ASG: ("desired", "minimum", "maximum"),
    Mode.ASG_MANAGED: ("minimum", "maximum"),
}


@dataclass(frozen=True)
class Capacity:
    """What a target has. ``resource`` is the group name or ``cluster/service``; min/max: the group's or the
    scalable target's (None for a plain ECS service)."""

    mode: Mode
    resource: str
    desired: int
    minimum: int | None = None
    maximum: int | None = None

    @property
    def count(self) -> int:
        """The count the target runs (or converges to: Application Auto Scaling keeps it within min..max)."""
        if self.mode is Mode.ECS_AAS and self.minimum is not None and self.maximum is not None:
            return min(max(self.desired, self.minimum), self.maximum)
        return self.desired

    def held(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in HELD[self.mode]}

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if k == "mode" else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Capacity:
        return cls(Mode(data["mode"]), data["resource"], data["desired"], data.get("minimum"), data.get("maximum"))


@dataclass(frozen=True)
class Request:
    """What someone (or something) asked for. Plain data: it is the payload of an approval and is planned again
    when the approval comes back.

    ``action``: ``set`` (count = the size), ``add`` (count = how many more; negative for fewer), or ``restore``
    (``restore_to``: the saved capacity; ``expected``: what Switchboard set, for the interference check).
    """

    target: str
    action: str
    count: Any = None
    origin: str = "slack"  # slack | alarm:<rule> | schedule:<name> | expiry | ...
    actor: str = SYSTEM  # a Slack user id, or "system"
    request_id: str = ""
    duration: int | None = None  # seconds: a temporary change, restored afterwards
    revert_on_ok: bool = False
    bounded: bool = False
    dry_run: bool = False
    approved_by: str | None = None
    slot: str | None = None  # where the size before is saved (temporary changes) or read from (restores)
    restore_to: dict[str, Any] | None = None
    expected: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Request:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Change:
    """One change Switchboard made to a target (the history cooldown and the hourly limit are counted on)."""

    at: datetime
    before: int
    after: int
    origin: str = ""


@dataclass(frozen=True)
class Action:
    """One API call, as data: ``service``'s boto3 ``method`` with ``params``."""

    service: str
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    request: Request
    before: Capacity
    after: Capacity
    actions: tuple[Action, ...]
    direction: Direction | None  # None: nothing to change
    needs_approval: bool = False
    notes: tuple[str, ...] = ()

    @property
    def noop(self) -> bool:
        return not self.actions


@dataclass(frozen=True)
class Refusal:
    request: Request
    current: Capacity | None
    reasons: tuple[str, ...]
    interference: bool = False  # a restore found the target changed by someone else
    deferred: bool = False  # a restore that should be tried again later (a freeze)


@dataclass(frozen=True)
class _Checked:
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---- the decision ----

def plan(current: Capacity, request: Request, guardrails: Guardrails, history: list[Change] | tuple[Change, ...],
         now: datetime, *, environment: str, freezes: tuple[str, ...] = ()) -> Plan | Refusal:
    """Plan ``request`` against ``current``. ``history``: this target's recent Switchboard changes; ``freezes``:
    names of the freeze windows in force in ``environment`` now."""
    def refuse(*reasons: str, **flags: bool) -> Refusal:
        return Refusal(request, current, tuple(reasons), **flags)

    if guardrails.ceiling < guardrails.floor:
        return refuse(f"the guardrails are inconsistent: ceiling {guardrails.ceiling} is below floor "
                      f"{guardrails.floor}")
    if request.action == "restore":
        return _restore(current, request, guardrails, environment, freezes)
    if request.action not in ("set", "add"):
        return refuse(f"unknown action {show(request.action)}")
    if not _whole(request.count):
        return refuse(f"{show(request.count)} is not a whole number")
    if request.action == "set" and request.count < 0:
        return refuse(f"{show(request.count)} is not a size (use a whole number, 0 or more)")

    now_count = current.count
    wanted = request.count if request.action == "set" else now_count + request.count
    checked = _Checked()
    step = allowed_step(guardrails, now_count)
    if request.bounded:
        wanted = _clamp(request, current, guardrails, wanted, step, checked)
        if isinstance(wanted, Refusal):
            return wanted
    else:
        if wanted < guardrails.floor:
            checked.reasons.append(f"{show(wanted)} is below the floor of {guardrails.floor}")
        if wanted > guardrails.ceiling:
            checked.reasons.append(f"{show(wanted)} is above the ceiling of {guardrails.ceiling}")
        if abs(wanted - now_count) > step:
            checked.reasons.append(f"a step of {show(abs(wanted - now_count))} is more than the maximum step of "
                                   f"{step} {_step_basis(guardrails, now_count)}")
    if wanted == now_count and not checked.reasons:
        return Plan(request, current, current, (), None, notes=(f"already at {now_count}: nothing to change",))

    _cooldown_and_rate(guardrails, history, now, checked)
    _freeze(request, environment, freezes, checked)
    if checked.reasons:
        return refuse(*checked.reasons)

    after = resized(current, wanted)
    direction = Direction.OUT if wanted > now_count else Direction.IN
    return Plan(request, current, after, actions(current, after), direction,
                needs_approval=_needs_approval(request, guardrails, environment, direction, checked),
                notes=tuple(checked.notes))


def _restore(current: Capacity, request: Request, guardrails: Guardrails, environment: str,
             freezes: tuple[str, ...]) -> Plan | Refusal:
    try:
        saved = Capacity.from_dict(request.restore_to or {})
        expected = Capacity.from_dict(request.expected or {})
    except (KeyError, TypeError, ValueError):
        return Refusal(request, current, ("nothing saved to restore",))
    if current.mode is not expected.mode or current.held() != expected.held():
        return Refusal(request, current, (
            f"changed since Switchboard set it to {describe(expected)} (now {describe(current)}): "
            f"not restoring {describe(saved)}, leaving it as it is",), interference=True)
    after = restored(current, saved)
    count = after.count
    checked = _Checked(notes=["restores the size saved before a temporary change: step, cooldown and hourly "
                              "limits do not apply"])
    if count < guardrails.floor:
        checked.reasons.append(f"the saved size {count} is below the floor of {guardrails.floor}")
    if count > guardrails.ceiling:
        checked.reasons.append(f"the saved size {count} is above the ceiling of {guardrails.ceiling}")
    if checked.reasons:
        return Refusal(request, current, tuple(checked.reasons))
    if after == current:
        return Plan(request, current, current, (), None, notes=(f"already at {describe(current)}: nothing to "
                                                                f"restore",))
    _freeze(request, environment, freezes, checked)
    if checked.reasons:
        return Refusal(request, current, tuple(checked.reasons), deferred=True)
    direction = None if count == current.count else (Direction.OUT if count > current.count else Direction.IN)
    needs = guardrails.approve_restores and _needs_approval(request, guardrails, environment, direction, checked)
    return Plan(request, current, after, actions(current, after), direction, needs_approval=needs,
                notes=tuple(checked.notes))


def _clamp(request: Request, current: Capacity, guardrails: Guardrails, wanted: int, step: int,
           checked: _Checked) -> int | Refusal:
    """Bounded requests: clamp into floor..ceiling and the step; refuse when that leaves nothing to do."""
    now_count = current.count
    clamped = min(max(wanted, guardrails.floor), guardrails.ceiling)
    if clamped != wanted:
        bound = "ceiling" if wanted > guardrails.ceiling else "floor"
        limit = guardrails.ceiling if bound == "ceiling" else guardrails.floor
        if clamped == now_count or (clamped - now_count) * (wanted - now_count) < 0:
            where = "at" if clamped == now_count else ("above" if bound == "ceiling" else "below")
            return Refusal(request, current, (f"already {where} its {bound} of {limit} (at {now_count})",))
        checked.notes.append(f"bounded by the {bound}: {show(wanted)} → {clamped}")
    if abs(clamped - now_count) > step:
        stepped = now_count + (step if clamped > now_count else -step)
        if not guardrails.floor <= stepped <= guardrails.ceiling:
            return Refusal(request, current, (f"{now_count} is outside its floor..ceiling of {guardrails.floor}.."
                                              f"{guardrails.ceiling} and one step of {step} does not bring it back",))
        checked.notes.append(f"bounded by the maximum step of {step}: {clamped} → {stepped}")
        clamped = stepped
    return clamped


def _cooldown_and_rate(guardrails: Guardrails, history: list[Change] | tuple[Change, ...], now: datetime,
                       checked: _Checked) -> None:
    if not history:
        return
    cooldown = timedelta(seconds=guardrails.cooldown_seconds)
    last = max(change.at for change in history)
    elapsed = max(now - last, timedelta(0))
    if elapsed < cooldown:
        checked.reasons.append(f"cooldown: the last change was {_ago(elapsed)} ago; the next is allowed at "
                               f"{_clock(last + cooldown)}")
    recent = sorted(change.at for change in history if change.at > now - HOUR)
    if len(recent) >= guardrails.max_changes_per_hour:
        nth = recent[len(recent) - guardrails.max_changes_per_hour]
        checked.reasons.append(f"hourly limit: {len(recent)} changes in the last hour (at most "
                               f"{guardrails.max_changes_per_hour}); the next is allowed at {_clock(nth + HOUR)}")


def _freeze(request: Request, environment: str, freezes: tuple[str, ...], checked: _Checked) -> None:
    if not freezes:
        return
    names = ", ".join(f"'{name}'" for name in freezes)
    if request.actor == SYSTEM:
        checked.reasons.append(f"freeze {names} is in force in {environment}: Switchboard changes nothing on its "
                               f"own")
    else:
        checked.notes.append(f"freeze {names} is in force in {environment}; a person asked, so it goes ahead")


def _needs_approval(request: Request, guardrails: Guardrails, environment: str, direction: Direction | None,
                    checked: _Checked) -> bool:
    if direction is None or direction not in guardrails.approval.get(environment, ()):
        return False
    if request.approved_by:
        checked.notes.append(f"scale-{direction} in {environment} approved by <@{request.approved_by}>")
        return False
    checked.notes.append(f"scale-{direction} in {environment} needs an approver")
    return True


# ---- capacities and calls ----

def allowed_step(guardrails: Guardrails, count: int) -> int:
    step = guardrails.max_step
    if guardrails.max_step_percent is not None and count > 0:
        step = min(step, max(1, count * guardrails.max_step_percent // 100))
    return step


def _step_basis(guardrails: Guardrails, count: int) -> str:
    if guardrails.max_step_percent is not None and count > 0 and allowed_step(guardrails, count) < guardrails.max_step:
        return f"({guardrails.max_step_percent}% of {count})"
    return "(max_step)"


def resized(current: Capacity, n: int) -> Capacity:
    """The capacity that runs ``n``, changing only what the mode needs."""
    if current.mode is Mode.ECS:
        return replace(current, desired=n)
    low, high = current.minimum or 0, current.maximum if current.maximum is not None else n
    if current.mode is Mode.ASG:
        return replace(current, desired=n, minimum=min(low, n), maximum=max(high, n))
    out = n > current.count
    minimum, maximum = (n, max(high, n)) if out else (min(low, n), n)
    if current.mode is Mode.ASG_MANAGED:
        return replace(current, desired=n, minimum=minimum, maximum=maximum)
    return replace(current, minimum=minimum, maximum=maximum)  # ECS_AAS: Application Auto Scaling moves the count


def restored(current: Capacity, saved: Capacity) -> Capacity:
    """The capacity after putting back what was saved (the held fields; the rest follows)."""
    if current.mode is Mode.ECS:
        return replace(current, desired=saved.desired)
    if current.mode is Mode.ASG:
        return replace(current, desired=saved.desired, minimum=saved.minimum, maximum=saved.maximum)
    low, high = saved.minimum or 0, saved.maximum if saved.maximum is not None else current.desired
    if current.mode is Mode.ASG_MANAGED:
        return replace(current, desired=min(max(current.desired, low), high), minimum=saved.minimum,
                       maximum=saved.maximum)
    return replace(current, minimum=saved.minimum, maximum=saved.maximum)


def actions(before: Capacity, after: Capacity) -> tuple[Action, ...]:
    """The one API call that takes ``before`` to ``after`` (one call, so a failure leaves nothing half-done)."""
    if after == before:
        return ()
    if before.mode is Mode.ECS:
        cluster, service = before.resource.split("/", 1)
        return (Action("ecs", "update_service", {"cluster": cluster, "service": service,
                                                 "desiredCount": after.desired}),)
    if before.mode is Mode.ECS_AAS:
        return (Action("application-autoscaling", "register_scalable_target", {
            "ServiceNamespace": "ecs", "ResourceId": f"service/{before.resource}",
            "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": after.minimum,
            "MaxCapacity": after.maximum}),)
    params: dict[str, Any] = {"AutoScalingGroupName": before.resource}
    for name, key in (("minimum", "MinSize"), ("maximum", "MaxSize"), ("desired", "DesiredCapacity")):
        if getattr(after, name) != getattr(before, name):
            params[key] = getattr(after, name)
    return (Action("autoscaling", "update_auto_scaling_group", params),)


def describe(capacity: Capacity) -> str:
    """``4`` for a plain service; ``4 (min 2, max 10)`` where min/max matter."""
    if capacity.mode is Mode.ECS:
        return str(capacity.desired)
    return f"{capacity.count} (min {capacity.minimum}, max {capacity.maximum})"


# ---- small helpers ----

def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def show(value: Any) -> str:
    if _whole(value):
        if abs(value) >= 10**15:  # never str() an absurd number: Python refuses past 4300 digits
            digits = int(abs(value).bit_length() * 0.30103) + 1
            return f"{'-' if value < 0 else ''}a {digits}-digit number"
        return str(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s" if seconds % 60 else f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def _clock(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M:%S UTC")
