"""Pure rules of the front door, table-tested: roles, four eyes, where a command acts, escaping, block limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.decisions import render
from chalicelib.frontdoor import grammar, targets
from chalicelib.policy.loader import load
from chalicelib.policy.schema import Role
from chalicelib.slackkit import blocks, mrkdwn, rbac

POLICIES = Path(__file__).resolve().parent.parent / "chalicelib" / "policies"
FRONT = load(POLICIES / "shared-services.yaml")
PROD = load(POLICIES / "prod.yaml")
ALICE, BOB, CAROL, DAVE, ROOT, EVE = "U0ALICE001", "U0BOB00001", "U0CAROL001", "U0DAVE0001", "U0ADMIN001", "U0EVE00001"
GROUPS = {ALICE: ["S0ENG", "S0PLATFORM"], BOB: ["S0ENG", "S0LEADS"], CAROL: ["S0ENG", "S0LEADS"], DAVE: ["S0ENG"],
          ROOT: [], EVE: []}


@pytest.mark.parametrize(("user", "env", "needed", "allowed"), [
    (DAVE, "prod", Role.VIEWER, True),
    (DAVE, "prod", Role.OPERATOR, False),
    (DAVE, "prod", Role.APPROVER, False),
    (ALICE, "prod", Role.OPERATOR, True),
    (ALICE, "prod", Role.APPROVER, False),
    (ALICE, "shared", Role.APPROVER, False),
    (BOB, "prod", Role.APPROVER, True),
    (BOB, "prod", Role.OPERATOR, False),
    (BOB, "shared", Role.VIEWER, True),
    (ROOT, "prod", Role.ADMIN, True),
    (ROOT, "stage", Role.APPROVER, True),  # admin implies every role
    (EVE, "stage", Role.VIEWER, False),
    (EVE, "prod", None, True),  # help needs no role
    (DAVE, "qa", Role.VIEWER, False),  # no roles at all in an unknown environment
])
def test_authorise(user, env, needed, allowed):
    assert rbac.authorise(FRONT, env, needed, user, GROUPS[user]).allowed is allowed


def test_denial_names_the_missing_role_and_what_you_have():
    assert rbac.authorise(FRONT, "prod", Role.OPERATOR, DAVE, GROUPS[DAVE]).reason == (
        "you need the operator role in prod (you have: viewer)")
    assert rbac.authorise(FRONT, "prod", Role.VIEWER, EVE, []).reason == "you need the viewer role in prod"


def test_roles_are_per_environment_and_a_peer_uses_its_own_policy():
    assert rbac.roles_of(FRONT, "stage", ALICE, GROUPS[ALICE]) == {Role.VIEWER, Role.OPERATOR}
    assert rbac.roles_of(PROD, "stage", ALICE, GROUPS[ALICE]) == set()  # prod's policy knows only prod


@pytest.mark.parametrize(("env", "approver", "requester", "author", "allowed"), [
    ("prod", CAROL, ALICE, "bob@acme.example", True),
    ("prod", ALICE, ALICE, None, False),
    ("prod", BOB, ALICE, "bob@acme.example", False),
    ("prod", BOB, ALICE, "BOB@ACME.EXAMPLE", False),  # identities compare case-insensitively
    ("prod", BOB, ALICE, "someone@acme.example", True),
    ("stage", ALICE, ALICE, "alice@acme.example", True),  # stage is not a four-eyes environment
])
def test_four_eyes(env, approver, requester, author, allowed):
    assert rbac.four_eyes(FRONT, env, approver, requester, author).allowed is allowed


@pytest.mark.parametrize(("text", "where"), [
    ("help", []),
    ("status", [("shared", "shared-services", True)]),
    ("audit", [("prod", "prod", False), ("shared", "shared-services", True), ("stage", "stage", False)]),
    ("audit web 5", [("prod", "prod", False), ("stage", "stage", False)]),
    ("promote web", [("stage", "stage", False)]),  # runs where the candidate soaks (allowed by prod's roles)
    ("promote web 1.2 to prod", [("stage", "stage", False)]),
    ("hold web freeze", [("prod", "prod", False)]),
    ("silence alarm=~web-.* env=stage for 1h deploy", [("stage", "stage", False)]),
    ("silence alarm=web-5xx for 1h deploy", [("shared", "shared-services", True)]),
    ("ack inc-1", [("shared", "shared-services", True)]),  # names no environment: answered here ("not an id")
    ("ack prod.0123456789.1", [("prod", "prod", False)]),  # ids name their environment
    ("unsilence stage.s1a2b3c4", [("stage", "stage", False)]),
    ("silences", [("prod", "prod", False), ("shared", "shared-services", True), ("stage", "stage", False)]),
    ("rotate web/db-password", [("shared", "shared-services", True)]),
    ("rotate web/db-password in prod", [("prod", "prod", False)]),
])
def test_where_commands_act(text, where):
    found = targets.resolve(grammar.parse(text), FRONT)
    assert [(t.environment, t.account, t.local) for t in found] == [tuple(w) for w in where]


@pytest.mark.parametrize(("text", "message"), [
    ("promote nope", "unknown app 'nope'"),
    ("promote web to qa", "unknown environment 'qa'"),
    ("promote web to stage", r"nothing promotes web to 'stage' \(its path: stage → prod\)"),
    ("scale nope 3", "unknown scaling target 'nope'"),
    ("silence env=prod env=stage for 1h x", "a silence names one environment at most"),
])
def test_unresolvable_commands(text, message):
    with pytest.raises(targets.Unresolvable, match=message):
        targets.resolve(grammar.parse(text), FRONT)


def test_a_forwarded_command_acts_only_here():
    assert [t.environment for t in targets.resolve(grammar.parse("audit web"), PROD, here_only=True)] == ["prod"]
    with pytest.raises(targets.Unresolvable, match=r"this account \(prod\) does not serve stage"):
        targets.resolve(grammar.parse("promote web"), PROD, here_only=True)


def test_promote_is_authorised_by_the_roles_of_the_environment_it_deploys_to():
    [where] = targets.resolve(grammar.parse("promote web 1.2"), FRONT)
    assert (where.environment, where.role_environment) == ("stage", "prod")
    [hold] = targets.resolve(grammar.parse("hold web x"), FRONT)
    assert hold.role_environment == "prod"


@pytest.mark.parametrize(("raw", "safe"), [
    ("<!channel>", "&lt;!channel&gt;"),
    ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
    ("a & b", "a &amp; b"),
    ("&lt;", "&amp;lt;"),  # escaping is not undone by pre-escaped input
    ("<@U0BOSS>", "&lt;@U0BOSS&gt;"),
])
def test_escape(raw, safe):
    assert mrkdwn.escape(raw) == safe


def test_truncate_marks_the_cut_and_never_splits_an_entity():
    assert mrkdwn.truncate("x" * 10, 10) == "x" * 10
    cut = mrkdwn.truncate("y" * 50, 20)
    assert len(cut) == 20 and cut.endswith(mrkdwn.MARKER)
    cut = mrkdwn.truncate(mrkdwn.escape("<" * 40), 30)
    assert len(cut) <= 30 and cut.endswith(mrkdwn.MARKER)
    assert not cut[: -len(mrkdwn.MARKER)].endswith(("&", "&l", "&lt"))


def test_blocks_respect_slack_limits():
    lines = [f"line {i} " + "z" * 200 for i in range(1000)]  # ~200 kB of text
    built = blocks.reply("big", lines, footer="f" * 5000)
    assert len(built) <= mrkdwn.BLOCKS_PER_MESSAGE
    for block in built:
        text = block.get("text", {}).get("text") or block.get("elements", [{}])[0].get("text", "")
        assert len(text) <= mrkdwn.SECTION_TEXT


def test_decision_card_escapes_everything_from_outside():
    card = json.dumps(render.card({
        "id": "pro-1", "title": "<!here>", "summary": "<https://x|y>", "environment": "prod", "role": "approver",
        "requester": ALICE, "author": "<@U0BOSS>", "capability": "promotion"}))
    assert "<!here>" not in card and "<https://x" not in card and "<@U0BOSS>" not in card
