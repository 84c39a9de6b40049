"""docs/ARCHITECTURE.md, "Adding a capability", followed step by step with a sample capability that lives in the
test suite only (tests/sample_capability/). Installed, it is routed the events its manifest names, its command
parses, resolves and runs through the front door, its policy section is part of the document, its IAM statements
are in the generated policies, and its tick runs what it declares; until its function is in app.py, the wiring
check names it. The same checks hold for every installed capability."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from chalicelib import capabilities
from chalicelib.capabilities import run_function, schedule_of
from chalicelib.frontdoor import grammar
from chalicelib.kinds import Kind
from chalicelib.policy import document, loader
from chalicelib.slackkit.commands import ParseError
from infra import iam_policy
from tests.events import context, sample
from tests.frontdoor_kit import answers

ROOT = Path(__file__).resolve().parent.parent
SCHEDULED = {"version": "0", "id": "tick-1", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "333344445555", "time": "2026-12-01T12:00:00Z", "region": "eu-west-1", "resources": [],
             "detail": {}}


def wiring_problems(app_module) -> list[str]:
    """What app.py lacks for the functions the manifests declare: each is one of its functions; a tick, with the
    manifest's schedule."""
    chalice = app_module.app
    schedules = {s.name: getattr(s, "schedule_expression", None) for s in chalice.event_sources}
    direct = {f.name for f in chalice.pure_lambda_functions}
    problems = []
    for name, (capability, function) in capabilities.FUNCTIONS.items():
        if function.schedule is None:
            if name not in direct:
                problems.append(f"{capability}: app.py has no function {name}")
        elif name not in schedules:
            problems.append(f"{capability}: app.py has no tick {name}")
        elif getattr(schedules[name], "to_string", lambda name=name: schedules[name])() != function.schedule:
            problems.append(f"{capability}: {name} runs on {schedules[name]}, not {function.schedule}")
    return problems


def _forget_sample_modules() -> None:
    """As a fresh process: the modules the manifest names are imported (and register) on first use."""
    for name in [m for m in sys.modules if m.startswith("tests.sample_capability.")
                 and m.rsplit(".", 1)[1] not in ("manifest", "policy")]:
        del sys.modules[name]


@pytest.fixture
def installed(monkeypatch):
    """Step 6 (the capability's line in ``capabilities.INSTALLED``) for a capability outside chalicelib: installed
    for the test, with the policy document assembled again so that it has the sample's section."""
    from chalicelib.slackkit import commands
    from tests.sample_capability.manifest import MANIFEST

    _forget_sample_modules()
    monkeypatch.setattr(commands, "EXECUTORS", dict(commands.EXECUTORS))  # the sample's executor goes with it
    capabilities.install(MANIFEST)
    monkeypatch.setattr(loader, "Policy", document.assemble(capabilities.INSTALLED))
    loader.current.cache_clear()
    yield MANIFEST
    capabilities.uninstall("sample")
    _forget_sample_modules()
    loader.current.cache_clear()


# ---- steps 1 and 2: the manifest and its policy section ----

def test_its_section_is_read_validated_and_lazily_loaded_in_document_order(installed):
    text = (ROOT / "chalicelib" / "policies" / "prod.yaml").read_text()
    assert loader.parse(text + "\nsample:\n  greeting: hey\n").sample.greeting == "hey"
    assert loader.parse(text).sample.greeting == "hello"  # the section's defaults when the document has none
    with pytest.raises(loader.PolicyError) as caught:
        loader.parse(text + "\nsample:\n  greeting: ''\n")
    assert [p.path for p in caught.value.problems] == ["sample.greeting"]
    lazy = loader.parse(text + "\nsample:\n  greeting: hey\n", lazy=True)
    assert lazy.pending_sections() == ["apps", "slack", "alerts", "promotion", "scaling", "rotation", "sample",
                                       "freezes", "limits"]
    assert lazy.sample.greeting == "hey"


# ---- step 3: its handler, for the kinds the manifest names ----

def test_it_is_routed_the_events_its_manifest_names(aws, installed, monkeypatch):
    from chalicelib.intake.pipeline import handle
    from tests.sample_capability import handlers

    assert capabilities.KIND_ROUTES[Kind.ECS] == ("promotion", "sample")
    assert "sample" not in capabilities.KIND_ROUTES[Kind.ALARM]
    assert capabilities.schedule_capability("switchboard-sample-nightly") == "sample"
    promotion = []
    monkeypatch.setitem(capabilities._registry, "promotion", lambda event, ctx: promotion.append(event.target)
                        or capabilities.Result("succeeded"))
    outcome = handle(Kind.ECS, sample("ecs-deployment-web-prod-completed.json"), context())
    assert outcome["outcome"] == "processed"
    assert [r["capability"] for r in outcome["results"]] == ["promotion", "sample"]
    assert handlers.SEEN == [("ecs", promotion[0])]  # the same typed event, after promotion's handler
    assert outcome["results"][1]["actions"] == [f"sampled {promotion[0]}"]


# ---- step 4: its /ops command ----

def test_its_command_parses_with_its_usage_and_help_lists_it(installed):
    command = grammar.parse("sample Hello in stage")
    assert (command.name, command.capability, command.role, dict(command.args)) == (
        "sample", "sample", "viewer", {"word": "Hello", "env": "stage"})
    with pytest.raises(ParseError) as caught:
        grammar.parse("sample")
    assert (caught.value.message, caught.value.usage) == ("sample needs a word", "/ops sample <word> [in <env>]")
    assert "/ops sample <word> [in <env>] — say a word back (the sample capability)" in grammar.usage().splitlines()


def test_its_command_runs_where_it_resolves_through_the_front_door(front, installed):
    front.command("sample there")
    front.runner.drain()
    [answer] = answers(front)
    assert answer.startswith("hello there from shared ")  # here: the front door's environment; the section's greeting
    front.command("sample there", user="eve")  # eve holds no role in shared: the role the manifest names is checked
    front.runner.drain()
    assert "you need the viewer role in shared" in answers(front)[-1]


def test_its_cards_buttons_run_the_command_they_stand_for(installed, front):
    assert capabilities.BUTTONS["sample_wave"] == "tests.sample_capability.commands:wave"
    assert front.click("sample_wave", "there", "dave").status_code == 200
    front.runner.drain()
    assert answers(front)[-1].startswith("hello there from shared ")  # the same command as typed, same RBAC
    front.click("sample_wave", "there", "eve")
    front.runner.drain()
    assert "you need the viewer role in shared" in answers(front)[-1]


# ---- step 5: its IAM statements ----

def test_its_iam_statements_are_in_the_generated_policies_of_its_entry_points_only(installed):
    documents = iam_policy.policies_for("prod")
    sids = {function: {s["Sid"] for s in doc["Statement"]} for function, doc in documents.items()}
    assert "SampleEcsRead" in sids["on_ecs"] and "SampleTick" in sids["sample_tick"]
    assert [f for f, found in sids.items() if {"SampleEcsRead", "SampleTick"} & found] == ["on_ecs", "sample_tick"]


# ---- step 7: its function in app.py ----

def test_its_tick_runs_what_it_declares_and_the_wiring_check_names_it_until_app_py_has_it(installed):
    import app
    from tests.sample_capability import ticks

    assert schedule_of("sample_tick") == "rate(10 minutes)"
    assert run_function("sample_tick") == {"ticks": 1} and ticks.RUNS == ["tick"]
    assert wiring_problems(app) == ["sample: app.py has no tick sample_tick"]


def test_every_installed_capability_has_its_functions_in_app_py_each_running_what_its_manifest_names(monkeypatch):
    import app

    assert wiring_problems(app) == []
    ran = []
    for name, (_, function) in capabilities.FUNCTIONS.items():
        module, attribute = function.runs.split(":")
        monkeypatch.setattr(importlib.import_module(module), attribute, lambda *a, name=name: ran.append(name))
        getattr(app, name)(SCHEDULED if function.schedule else {}, context())
    assert ran == list(capabilities.FUNCTIONS)


def test_every_command_a_manifest_declares_has_its_executor_or_is_decided_by_the_front_door():
    from chalicelib.slackkit import commands

    for name, (capability, _) in capabilities.COMMANDS.items():
        capabilities.ensure_executors(capability)
        assert name in commands.EXECUTORS or name in ("help", "approve", "reject"), name
