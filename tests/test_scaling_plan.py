"""The scaling decision, as tables: every bound, step, cooldown, hourly limit, approval and freeze rule, the edge
values (0, floor, ceiling, negative, absurdly large, not a number), each mode's calls, and restores. Pure: no AWS."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.scaling.plan import (
    Action,
    Capacity,
    Change,
    Mode,
    Plan,
    Refusal,
    Request,
    actions,
    allowed_step,
    describe,
    plan,
)
from chalicelib.scaling.policy import Direction, Guardrails

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
G = Guardrails(floor=2, ceiling=10, max_step=4, cooldown="5m", max_changes_per_hour=3,
               approval={"prod": (Direction.IN,)})


def ecs(desired: int = 4) -> Capacity:
    return Capacity(Mode.ECS, "prod/web", desired)


def aas(desired: int = 4, minimum: int = 2, maximum: int = 10) -> Capacity:
    return Capacity(Mode.ECS_AAS, "prod/web", desired, minimum, maximum)


def group(desired: int = 2, minimum: int = 1, maximum: int = 6, managed: bool = False) -> Capacity:
    return Capacity(Mode.ASG_MANAGED if managed else Mode.ASG, "api", desired, minimum, maximum)


def ask(count, action: str = "set", **kw) -> Request:
    return Request("web", action, count, request_id="r1", **kw)


def decide(current: Capacity, request: Request, guardrails: Guardrails = G, history=(), env: str = "stage",
           freezes=()) -> Plan | Refusal:
    return plan(current, request, guardrails, list(history), NOW, environment=env, freezes=tuple(freezes))


def reasons(result) -> list[str]:
    assert isinstance(result, Refusal), result
    return list(result.reasons)


# ---- bounds and edge values ----

@pytest.mark.parametrize(("current", "count", "expected"), [
    (4, 6, 6), (4, 2, 2), (4, 8, 8), (6, 10, 10), (4, 3, 3), (2, 2, None), (10, 10, None),
])
def test_sizes_inside_the_guardrails_are_planned(current, count, expected):
    result = decide(ecs(current), ask(count))
    assert isinstance(result, Plan)
    if expected is None:
        assert result.noop and result.notes == (f"already at {current}: nothing to change",)
    else:
        assert result.after.desired == expected and not result.noop
        assert result.direction is (Direction.OUT if expected > current else Direction.IN)


@pytest.mark.parametrize(("current", "count", "expected"), [
    (4, 1, ["1 is below the floor of 2"]),
    (2, 0, ["0 is below the floor of 2"]),
    (4, 11, ["11 is above the ceiling of 10", "a step of 7 is more than the maximum step of 4 (max_step)"]),
    (4, 9, ["a step of 5 is more than the maximum step of 4 (max_step)"]),
    (8, 2, ["a step of 6 is more than the maximum step of 4 (max_step)"]),
    (4, -1, ["-1 is not a size (use a whole number, 0 or more)"]),
    (4, 10**30, ["a 31-digit number is above the ceiling of 10",
                 "a step of a 31-digit number is more than the maximum step of 4 (max_step)"]),
    (4, "six", ["'six' is not a whole number"]),
    (4, "6", ["'6' is not a whole number"]),
    (4, 6.0, ["6.0 is not a whole number"]),
    (4, float("nan"), ["nan is not a whole number"]),
    (4, None, ["None is not a whole number"]),
    (4, True, ["True is not a whole number"]),
    (4, [6], ["[6] is not a whole number"]),
    (4, "x" * 500, ["'" + "x" * 36 + "... is not a whole number"]),
    (12, 12, ["12 is above the ceiling of 10"]),  # already outside the guardrails: not a no-op, refused
])
def test_sizes_outside_the_guardrails_are_refused_with_every_reason(current, count, expected):
    assert reasons(decide(ecs(current), ask(count))) == expected


def test_an_absurd_number_never_breaks_the_refusal():
    huge = 10**5000  # str() of this raises in Python 3.11: the reason must not
    found = reasons(decide(ecs(), ask(huge)))
    assert found[0].startswith("a 5001-digit number") or found[0].startswith("a 5000-digit number")
    assert reasons(decide(ecs(), ask(-huge)))[0].endswith("is not a size (use a whole number, 0 or more)")


def test_floor_zero_allows_zero():
    result = decide(ecs(4), ask(0), replace_g(floor=0))
    assert isinstance(result, Plan) and result.after.desired == 0 and result.direction is Direction.IN


def test_inconsistent_guardrails_refuse_everything():
    assert reasons(decide(ecs(), ask(4), replace_g(floor=5, ceiling=3))) == [
        "the guardrails are inconsistent: ceiling 3 is below floor 5"]


def test_unknown_action():
    assert reasons(decide(ecs(), ask(4, action="explode"))) == ["unknown action 'explode'"]


# ---- step: count and percent ----

@pytest.mark.parametrize(("pct", "current", "count", "allowed"), [
    (50, 4, 6, True), (50, 4, 7, False), (50, 4, 2, True), (50, 4, 1, False),
    (50, 1, 2, True),  # 50% of 1 is 0: at least 1
    (50, 0, 4, True),  # from 0 only the count limit applies
    (50, 0, 5, False),
    (10, 10, 9, True), (10, 10, 8, False),  # 10% of 10 = 1
    (200, 3, 7, True),  # percent above 100: the count limit (4) still applies
    (200, 3, 8, False),
])
def test_step_is_limited_by_count_and_percent(pct, current, count, allowed):
    g = replace_g(floor=0, ceiling=20, max_step_percent=pct)
    result = decide(ecs(current), ask(count), g)
    assert isinstance(result, Plan) is allowed, result
    if not allowed:
        assert "is more than the maximum step of" in reasons(result)[0]


def test_the_percent_basis_is_named_in_the_reason():
    g = replace_g(floor=0, ceiling=20, max_step_percent=50)
    assert reasons(decide(ecs(4), ask(7), g)) == ["a step of 3 is more than the maximum step of 2 (50% of 4)"]
    assert allowed_step(g, 4) == 2 and allowed_step(g, 0) == 4 and allowed_step(g, 100) == 4


# ---- cooldown and the hourly limit ----

@pytest.mark.parametrize(("ago", "allowed"), [
    (timedelta(minutes=4, seconds=59), False), (timedelta(minutes=5), True), (timedelta(hours=2), True),
    (timedelta(seconds=0), False), (-timedelta(minutes=1), False),  # a change "in the future": a clock behind
])
def test_cooldown(ago, allowed):
    result = decide(ecs(4), ask(6), history=[Change(NOW - ago, 2, 4, "slack")])
    assert isinstance(result, Plan) is allowed
    if not allowed:
        assert reasons(result)[0].startswith("cooldown: the last change was ")
        assert reasons(result)[0].endswith(f"the next is allowed at {(NOW - ago + timedelta(minutes=5)):%H:%M:%S} UTC")


def test_cooldown_reason_reads_well():
    result = decide(ecs(4), ask(6), history=[Change(NOW - timedelta(minutes=2, seconds=30), 2, 4)])
    assert reasons(result) == ["cooldown: the last change was 2m30s ago; the next is allowed at 12:02:30 UTC"]


@pytest.mark.parametrize(("minutes_ago", "allowed"), [
    ((50, 40, 20), False),  # 3 in the last hour: the limit
    ((61, 40, 20), True),  # one of them is older than an hour
    ((60, 40, 20), True),  # exactly an hour ago no longer counts
    ((59, 58, 57, 10), False),
    ((40, 20), True),
])
def test_hourly_limit(minutes_ago, allowed):
    history = [Change(NOW - timedelta(minutes=m), 4, 4) for m in minutes_ago]
    result = decide(ecs(4), ask(6), history=history)
    assert isinstance(result, Plan) is allowed
    if not allowed:
        kept = sorted((m for m in minutes_ago if m < 60), reverse=True)  # oldest first
        leaves = kept[len(kept) - 3]  # when it leaves the hour, there is room for one more
        assert f"hourly limit: {len(kept)} changes in the last hour (at most 3)" in reasons(result)[0]
        assert reasons(result)[0].endswith(f"{(NOW - timedelta(minutes=leaves) + timedelta(hours=1)):%H:%M:%S} UTC")


def test_cooldown_and_limit_are_both_reported():
    history = [Change(NOW - timedelta(minutes=m), 4, 4) for m in (30, 20, 1)]
    found = reasons(decide(ecs(4), ask(6), history=history))
    assert [r.split(":")[0] for r in found] == ["cooldown", "hourly limit"]


def test_a_no_op_is_not_refused_by_cooldown():
    result = decide(ecs(4), ask(4), history=[Change(NOW, 2, 4)])
    assert isinstance(result, Plan) and result.noop


# ---- approvals ----

@pytest.mark.parametrize(("env", "count", "approved_by", "needs"), [
    ("prod", 2, None, True),  # prod scale-in
    ("prod", 6, None, False),  # prod scale-out
    ("stage", 2, None, False),
    ("prod", 2, "U0CAROL001", False),  # planned again after the approval
])
def test_approval_rule(env, count, approved_by, needs):
    result = decide(ecs(4), ask(count, approved_by=approved_by), env=env)
    assert isinstance(result, Plan) and result.needs_approval is needs
    if needs:
        assert "scale-in in prod needs an approver" in result.notes
    if approved_by:
        assert "scale-in in prod approved by <@U0CAROL001>" in result.notes


def test_approval_can_cover_both_directions():
    g = replace_g(approval={"stage": (Direction.IN, Direction.OUT)})
    assert decide(ecs(4), ask(6), g).needs_approval and decide(ecs(4), ask(3), g).needs_approval


def test_an_approved_request_still_meets_every_other_guardrail():
    result = decide(ecs(4), ask(2, approved_by="U0CAROL001"), env="prod", history=[Change(NOW, 6, 4)])
    assert reasons(result)[0].startswith("cooldown")


# ---- freezes ----

def test_a_freeze_stops_switchboard_but_not_a_person():
    frozen = reasons(decide(ecs(4), ask(6, origin="alarm:x"), freezes=["black-friday"]))
    assert frozen == ["freeze 'black-friday' is in force in stage: Switchboard changes nothing on its own"]
    person = decide(ecs(4), ask(6, actor="U0ALICE001"), freezes=["black-friday"])
    assert isinstance(person, Plan)
    assert "freeze 'black-friday' is in force in stage; a person asked, so it goes ahead" in person.notes


# ---- bounded requests (alarm rules: +N, clamped) ----

@pytest.mark.parametrize(("current", "add", "expected", "note"), [
    (4, 2, 6, None),
    (9, 2, 10, "bounded by the ceiling: 11 → 10"),
    (4, 6, 8, "bounded by the maximum step of 4: 10 → 8"),
    (8, 9, 10, "bounded by the ceiling: 17 → 10"),
    (4, -1, 3, None),
    (3, -5, 2, "bounded by the floor: -2 → 2"),
])
def test_bounded_requests_are_clamped(current, add, expected, note):
    result = decide(ecs(current), ask(add, action="add", bounded=True))
    assert isinstance(result, Plan) and result.after.desired == expected
    assert (note in result.notes) if note else result.notes == ()


@pytest.mark.parametrize(("current", "add", "reason"), [
    (10, 2, "already at its ceiling of 10 (at 10)"),
    (12, 2, "already above its ceiling of 10 (at 12)"),  # never "clamped" into a scale-in
    (2, -1, "already at its floor of 2 (at 2)"),
    (1, -1, "already below its floor of 2 (at 1)"),
])
def test_bounded_requests_refuse_when_nothing_is_left(current, add, reason):
    assert reasons(decide(ecs(current), ask(add, action="add", bounded=True))) == [reason]


def test_unbounded_add_is_checked_not_clamped():
    assert decide(ecs(4), ask(2, action="add")).after.desired == 6
    assert reasons(decide(ecs(4), ask(-3, action="add"))) == ["1 is below the floor of 2"]
    assert reasons(decide(ecs(4), ask("2", action="add"))) == ["'2' is not a whole number"]


# ---- modes: what changes and which call ----

def test_plain_ecs_sets_the_desired_count():
    result = decide(ecs(4), ask(6))
    assert result.actions == (Action("ecs", "update_service", {"cluster": "prod", "service": "web",
                                                               "desiredCount": 6}),)


@pytest.mark.parametrize(("before", "count", "after_range"), [
    (aas(4, 2, 10), 6, (6, 10)),  # out: the floor of the range rises
    (aas(4, 2, 10), 3, (2, 3)),  # in: the top of the range comes down
    (aas(4, 4, 4), 6, (6, 6)),
    (aas(4, 3, 10), 2, (2, 2)),
    (aas(1, 3, 10), 5, (5, 10)),  # desired outside the range: the count is what the range makes it (3)
])
def test_application_auto_scaling_moves_the_range_not_the_count(before, count, after_range):
    result = decide(before, ask(count))
    assert isinstance(result, Plan)
    assert (result.after.minimum, result.after.maximum) == after_range and result.after.count == count
    assert result.after.desired == before.desired  # AAS moves the service; Switchboard does not
    [call] = result.actions
    assert (call.service, call.method) == ("application-autoscaling", "register_scalable_target")
    assert call.params == {"ServiceNamespace": "ecs", "ResourceId": "service/prod/web",
                           "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": after_range[0],
                           "MaxCapacity": after_range[1]}


def test_aas_count_is_the_desired_count_clamped_into_the_range():
    assert aas(1, 3, 10).count == 3 and aas(12, 3, 10).count == 10 and aas(5, 3, 10).count == 5


@pytest.mark.parametrize(("before", "count", "params"), [
    (group(2, 1, 6), 4, {"DesiredCapacity": 4}),
    (group(2, 1, 6), 8, {"MaxSize": 8, "DesiredCapacity": 8}),  # AWS refuses desired > max: max follows
    (group(2, 1, 6), 0, {"MinSize": 0, "DesiredCapacity": 0}),
    (group(2, 1, 6, managed=True), 4, {"MinSize": 4, "DesiredCapacity": 4}),  # holds against its policies
    (group(4, 1, 6, managed=True), 2, {"MaxSize": 2, "DesiredCapacity": 2}),
    (group(2, 1, 6, managed=True), 8, {"MinSize": 8, "MaxSize": 8, "DesiredCapacity": 8}),
])
def test_auto_scaling_groups(before, count, params):
    result = decide(before, ask(count), replace_g(floor=0, ceiling=10, max_step=10))
    [call] = result.actions
    assert (call.service, call.method) == ("autoscaling", "update_auto_scaling_group")
    assert call.params == {"AutoScalingGroupName": "api", **params}
    assert result.after.minimum <= result.after.count <= result.after.maximum


def test_moto_quirk_desired_above_max_is_planned_from_what_is_reported():
    # moto lets a group report desired 9 with max 6; the guardrails hold on their own (ceiling 10)
    result = decide(group(9, 1, 6), ask(10), replace_g(ceiling=10))
    assert result.after.maximum == 10 and result.after.desired == 10
    assert reasons(decide(group(9, 1, 6), ask(11))) == ["11 is above the ceiling of 10"]


def test_describe():
    assert describe(ecs(3)) == "3" and describe(aas(1, 2, 5)) == "2 (min 2, max 5)"
    assert describe(group(2, 1, 6)) == "2 (min 1, max 6)"


def test_no_actions_for_no_change():
    assert actions(ecs(4), ecs(4)) == ()


# ---- restores ----

def restore(saved: Capacity, expected: Capacity, **kw) -> Request:
    return Request("web", "restore", origin="expiry", request_id="restore:r1", slot="alarm:x",
                   restore_to=saved.as_dict(), expected=expected.as_dict(), **kw)


def test_a_restore_puts_back_what_was_saved_ignoring_step_cooldown_and_limit():
    history = [Change(NOW - timedelta(seconds=10), 4, 8)] * 5
    result = decide(ecs(8), restore(ecs(2), ecs(8)), replace_g(max_step=1), history=history)
    assert isinstance(result, Plan) and result.after.desired == 2 and result.direction is Direction.IN
    assert "step, cooldown and hourly limits do not apply" in result.notes[0]


@pytest.mark.parametrize(("now", "expected"), [
    (ecs(7), ecs(8)),  # someone set 7 after Switchboard set 8
    (aas(8, 2, 10), ecs(8)),  # registered with Application Auto Scaling since
    (aas(4, 6, 10), aas(4, 8, 10)),  # the range was moved by someone else
])
def test_a_restore_does_not_fight_someone_who_changed_the_target(now, expected):
    result = decide(now, restore(ecs(2), expected))
    assert isinstance(result, Refusal) and result.interference
    assert "not restoring" in result.reasons[0] and "leaving it as it is" in result.reasons[0]


def test_a_restore_outside_todays_guardrails_is_refused():
    assert reasons(decide(ecs(4), restore(ecs(12), ecs(4)))) == ["the saved size 12 is above the ceiling of 10"]
    assert reasons(decide(ecs(4), restore(ecs(1), ecs(4)))) == ["the saved size 1 is below the floor of 2"]


def test_a_restore_needs_approval_like_any_change_in_its_direction():
    assert decide(ecs(6), restore(ecs(4), ecs(6)), env="prod").needs_approval
    assert not decide(ecs(4), restore(ecs(6), ecs(4)), env="prod").needs_approval


def test_restores_can_be_let_go_back_without_asking():
    result = decide(ecs(6), restore(ecs(4), ecs(6)), replace_g(approve_restores=False), env="prod")
    assert isinstance(result, Plan) and not result.needs_approval


def test_a_restore_during_a_freeze_is_deferred():
    result = decide(ecs(6), restore(ecs(4), ecs(6)), freezes=["release"])
    assert isinstance(result, Refusal) and result.deferred and not result.interference


def test_restore_edge_cases():
    assert decide(ecs(4), restore(ecs(4), ecs(4))).noop
    assert reasons(decide(ecs(4), Request("web", "restore", request_id="x"))) == ["nothing saved to restore"]


def test_restores_of_each_mode():
    out = decide(aas(4, 6, 10), restore(aas(4, 2, 10), aas(4, 6, 10)))
    assert (out.after.minimum, out.after.maximum) == (2, 10) and out.after.count == 4
    managed = decide(group(5, 4, 6, managed=True), restore(group(2, 1, 6, managed=True), group(4, 4, 6, managed=True)))
    assert (managed.after.desired, managed.after.minimum, managed.after.maximum) == (5, 1, 6)
    plain = decide(group(8, 1, 8), restore(group(2, 1, 6), group(8, 1, 8)))
    assert plain.actions[0].params == {"AutoScalingGroupName": "api", "MaxSize": 6, "DesiredCapacity": 2}


# ---- round trips (a request is an approval's payload) ----

def test_requests_and_capacities_round_trip():
    request = ask(6, duration=3600, slot="slack:x", approved_by="U0CAROL001")
    assert Request.from_dict({**request.as_dict(), "unknown": 1}) == request
    for capacity in (ecs(), aas(), group(managed=True)):
        assert Capacity.from_dict(capacity.as_dict()) == capacity


# ---- invariants over many random cases ----

def test_invariants_hold_for_random_requests():
    rng = random.Random(6)
    for _ in range(3000):
        floor = rng.randint(0, 5)
        g = Guardrails(floor=floor, ceiling=floor + rng.randint(0, 10), max_step=rng.randint(1, 6),
                       max_step_percent=rng.choice([None, 10, 50, 100, 300]), cooldown="1m",
                       max_changes_per_hour=rng.randint(1, 4), approval={})
        mode = rng.choice(list(Mode))
        desired = rng.randint(0, 20)
        low = rng.randint(0, 8)
        current = Capacity(mode, "prod/web" if mode.startswith("ecs") else "api", desired,
                           None if mode is Mode.ECS else low, None if mode is Mode.ECS else low + rng.randint(0, 12))
        history = [Change(NOW - timedelta(minutes=rng.randint(0, 120)), 1, 2) for _ in range(rng.randint(0, 4))]
        request = Request("web", rng.choice(["set", "add"]), rng.randint(-25, 25), bounded=rng.random() < 0.5)
        result = plan(current, request, g, history, NOW, environment="stage")
        if isinstance(result, Refusal) or result.noop:
            continue
        n = result.after.count
        assert g.floor <= n <= g.ceiling
        assert abs(n - current.count) <= allowed_step(g, current.count)
        assert all(NOW - c.at >= timedelta(minutes=1) for c in history)
        assert sum(1 for c in history if c.at > NOW - timedelta(hours=1)) < g.max_changes_per_hour
        if mode is not Mode.ECS:
            assert result.after.minimum <= n <= result.after.maximum
            assert result.after.minimum <= result.after.maximum
        assert len(result.actions) == 1


def replace_g(**kw) -> Guardrails:
    return G.model_copy(update=kw)


def test_replace_g_keeps_the_rest():
    assert replace_g(floor=0).ceiling == 10 and replace(ecs(), desired=1).desired == 1


def test_notes_keep_user_mentions_and_escape_everything_else():
    from chalicelib.scaling.messages import note

    assert note("scale-in in prod approved by <@U0CAROL001>") == "scale-in in prod approved by <@U0CAROL001>"
    assert note("<!channel> <@U0X> & <https://evil|x>") == "&lt;!channel&gt; <@U0X> &amp; &lt;https://evil|x&gt;"
    assert note("<@here>") == "&lt;@here&gt;"
