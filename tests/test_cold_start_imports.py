"""Cold start stays lean: importing app.py (what every Lambda function does) loads none of the heavy modules
that only some invocations need: the libraries below, and every module a capability's manifest names (its
handlers, commands, ticks, IAM needs: loaded on first use). Deterministic stand-in for bench/cold_start.py's timing
(which is not a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from chalicelib import capabilities

ROOT = Path(__file__).resolve().parent.parent
DEFERRED = [
    "slack_bolt", "slack_sdk", "chalicelib.frontdoor.http", "chalicelib.frontdoor.commands",
    "chalicelib.decisions.service", "chalicelib.slackkit.keyed", "chalicelib.slackkit.slack",
    "chalicelib.slackkit.commands",
    "aws_lambda_powertools.utilities.idempotency", "aws_lambda_powertools.utilities.parameters",
    "aws_xray_sdk", "boto3",
]


def test_importing_app_defers_what_only_some_invocations_need():
    env = {**os.environ, "SWITCHBOARD_ACCOUNT_NAME": "prod", "SWITCHBOARD_POLICY_FILE": "policies/prod.yaml"}
    probe = "import sys, json, app; print(json.dumps(sorted(m for m in sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True,
                                           text=True, check=True, timeout=60).stdout))
    assert [m for m in DEFERRED if m in loaded] == []
    named = sorted({module for manifest in capabilities.INSTALLED for module in manifest.modules()})
    assert len(named) > 20 and [m for m in named if m in loaded] == []
    assert {f"chalicelib.{m.name}.manifest" for m in capabilities.INSTALLED} <= loaded  # the manifests are read
    assert "chalicelib.intake.pipeline" in loaded and "pynamodb.models" in loaded  # the probe really imported app


def test_a_lambda_cold_start_validates_the_policy_core_and_builds_no_section_model():
    """Inside Lambda app.py validates only what the peer pattern and the Slack routes need (the core, and the slack
    section: only the front door defines Slack routes); each other section's models are built (and the section
    validated) when a handler first reads it. See chalicelib/policy/loader.py."""
    env = {**os.environ, "SWITCHBOARD_ACCOUNT_NAME": "prod", "SWITCHBOARD_POLICY_FILE": "policies/prod.yaml",
           "LAMBDA_TASK_ROOT": str(ROOT)}
    env.pop("AWS_CHALICE_CLI_MODE", None)
    probe = """if True:
        import json, sys, app
        from pydantic import BaseModel
        modules = ["chalicelib.policy.schema", "chalicelib.alerts.policy", "chalicelib.promotion.policy",
                   "chalicelib.scaling.policy", "chalicelib.rotation.policy", "chalicelib.policy.limits"]
        def built():
            return sorted(f"{m}.{n}" for m in modules for n, v in vars(sys.modules[m]).items()
                          if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == m
                          and v.__pydantic_complete__)
        cold = {"built": built(), "pending": app.POLICY.pending_sections()}
        app.POLICY.alerts
        print(json.dumps({**cold, "after_alerts": built()}))
    """
    found = json.loads(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True,
                                      text=True, check=True, timeout=60).stdout)
    assert found["built"] == ["chalicelib.policy.schema.PolicyCore", "chalicelib.policy.schema.SlackSection"]
    assert found["pending"] == ["apps", "alerts", "promotion", "scaling", "rotation", "freezes", "limits"]
    assert "chalicelib.alerts.policy.AlertsSection" in found["after_alerts"]
