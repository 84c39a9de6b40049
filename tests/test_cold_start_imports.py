"""Cold start stays lean: importing app.py (what every Lambda function does) loads none of the heavy modules
that only some invocations need. Deterministic stand-in for bench/cold_start.py's timing (which is not a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFERRED = [
    "slack_bolt", "slack_sdk", "chalicelib.frontdoor.http", "chalicelib.frontdoor.commands",
    "aws_lambda_powertools.utilities.idempotency", "aws_lambda_powertools.utilities.parameters",
    "aws_xray_sdk", "boto3",
]


def test_importing_app_defers_what_only_some_invocations_need():
    env = {**os.environ, "SWITCHBOARD_ACCOUNT_NAME": "prod", "SWITCHBOARD_POLICY_FILE": "policies/prod.yaml"}
    probe = "import sys, json, app; print(json.dumps(sorted(m for m in sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True,
                                           text=True, check=True, timeout=60).stdout))
    assert [m for m in DEFERRED if m in loaded] == []
    assert "chalicelib.intake.pipeline" in loaded and "pynamodb.models" in loaded  # the probe really imported app
