"""The part of Secrets Manager that moto does not play: the rotation service that invokes a rotation function.

moto's RotateSecret labels a new, empty version AWSPENDING (as AWS does) and then "invokes" the rotation function
through moto's Lambda, which cannot run code without Docker. With moto's Lambda config ``use_docker: false`` the
invocation succeeds and does nothing, so the local world (and the tests) call Switchboard's rotation function for
the four steps themselves, exactly as Secrets Manager would, and put on the bus the CloudTrail service event
(RotationSucceeded / RotationFailed) AWS would emit. All of it lives here, never in chalicelib/.

    arn = ensure_function(secretsmanager_endpoint, lambda_client, iam_client, "stage")
    token = start(secretsmanager_client, "web/api-key", arn, days=30)      # RotateSecret
    report = drive(rotator.handle, "web/api-key", token)                   # the four steps, stop at a failure
    event = service_event(report, account_id, region)                      # what CloudTrail would put on the bus

What else moto 5.2.5 does differently from AWS, and how Switchboard copes (no emulation needed):

- after RotateSecret moto points the secret's *default* version at the new empty one, so a read without
  VersionStage fails or returns the pending value: Switchboard (and the local world's "applications") always read
  with an explicit VersionStage.
- moto refuses RotateSecret while AWSPENDING and AWSCURRENT share a version (AWS allows it) and silently replaces
  an AWSPENDING left on another version (AWS refuses): finishSecret takes AWSPENDING off the finished version,
  which is a valid end state on AWS too.
- RotateSecret without RotationLambdaARN makes moto forget the function and move AWSCURRENT to the empty
  version: ``/ops rotate`` names the secret's own function again (harmless on AWS).
- ListSecretVersionIds reports every version as created "now": a stuck AWSPENDING is only found with an injected
  clock (the tests and the demo inject one).
- STS accepts unknown or inactive access keys (with a default identity for unknown ones): the IAM kind compares
  the ARN it gets back with the user's, which catches unknown keys; inactive ones cannot be told apart in moto.
- ``DescribeKey`` on ``alias/aws/secretsmanager`` says CUSTOMER: the watch treats that alias (and no key at all)
  as the AWS managed key without asking KMS.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
ROLE = "switchboard-rotation-local"
TRUST_LAMBDA = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def function_name(stage: str) -> str:
    """What `chalice deploy --stage <stage>` names app.py's ``@app.lambda_function(name="rotate_secret")``."""
    return f"switchboard-{stage}-rotate_secret"


def use_simple_lambda(endpoint_url: str) -> None:
    """moto's Lambda without Docker: invocations succeed and run nothing (moto's ``use_docker: false``)."""
    requests.post(f"{endpoint_url}/moto-api/config", json={"lambda": {"use_docker": False}},
                  timeout=10).raise_for_status()


def ensure_function(endpoint_url: str, lambda_client: Any, iam_client: Any, stage: str) -> str:
    """Register the rotation function with moto (so RotateSecret accepts it); returns its ARN."""
    use_simple_lambda(endpoint_url)
    name = function_name(stage)
    try:
        return lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    except lambda_client.exceptions.ResourceNotFoundException:
        pass
    try:
        role = iam_client.get_role(RoleName=ROLE)["Role"]["Arn"]
    except iam_client.exceptions.NoSuchEntityException:
        role = iam_client.create_role(RoleName=ROLE, AssumeRolePolicyDocument=TRUST_LAMBDA)["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", "# the real code runs in the local world's processes, not in moto\n")
    return lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                                         Code={"ZipFile": package.getvalue()})["FunctionArn"]


def start(secretsmanager: Any, secret_id: str, lambda_arn: str, *, days: int | None = None,
          token: str | None = None) -> str:
    """RotateSecret, as a person or the schedule would; returns the new version id (the ClientRequestToken)."""
    params: dict[str, Any] = {"SecretId": secret_id, "RotationLambdaARN": lambda_arn,
                              "ClientRequestToken": token or str(uuid.uuid4())}
    if days is not None:
        params["RotationRules"] = {"AutomaticallyAfterDays": days}
    return secretsmanager.rotate_secret(**params)["VersionId"]


@dataclass
class Report:
    secret: str
    token: str
    done: list[dict[str, Any]] = field(default_factory=list)  # what each step returned
    failed_step: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed_step is None

    def as_dict(self) -> dict[str, Any]:
        return {"secret": self.secret, "token": self.token, "ok": self.ok, "done": self.done,
                "failed_step": self.failed_step, "error": self.error}


def drive(handler: Callable[..., dict[str, Any]], secret_id: str, token: str, steps: tuple[str, ...] = STEPS,
          context: Any = None, **kwargs: Any) -> Report:
    """Invoke the rotation function for each step in turn; stop at the first failure (Secrets Manager would retry
    that step later). ``kwargs`` go to the handler (tests inject clocks)."""
    report = Report(secret_id, token)
    for step in steps:
        try:
            report.done.append(handler({"SecretId": secret_id, "ClientRequestToken": token, "Step": step},
                                       context, **kwargs))
        except Exception as exc:  # noqa: BLE001 - a failed step is what this reports
            report.failed_step, report.error = step, getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
            break
    return report


def service_event(secret_arn: str, outcome: str, account_id: str, region: str, *, legacy: bool = False,
                  at: datetime | None = None) -> dict[str, Any]:
    """The "AWS Service Event via CloudTrail" Secrets Manager emits when a rotation ends (``outcome``: Succeeded,
    Failed or Abandoned). ``legacy``: the older spelling, the ARN under ``aRN`` instead of ``SecretId``."""
    at = at or datetime.now(UTC)
    data = {"aRN": secret_arn} if legacy else {"SecretId": secret_arn}
    return {
        "source": "aws.secretsmanager", "detail-type": "AWS Service Event via CloudTrail", "account": account_id,
        "region": region, "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "resources": [],
        "detail": {"eventVersion": "1.05", "eventSource": "secretsmanager.amazonaws.com",
                   "eventName": f"Rotation{outcome}", "eventType": "AwsServiceEvent", "awsRegion": region,
                   "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "additionalEventData": data,
                   "eventID": str(uuid.uuid4()), "recipientAccountId": account_id},
    }
