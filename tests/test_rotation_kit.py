"""Helpers the rotation tests share (no tests here): a policy with a rotation section, secrets, and Secrets
Manager's rotation service played by localworld/rotation_service.py (moto cannot invoke a rotation function)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import yaml

from chalicelib import aws
from chalicelib.rotation import rotator
from localworld import rotation_service
from tests.harness import ACTIONABLE, reset_caches

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "chalicelib" / "policies"
KIND_TAG = "switchboard:rotation-kind"


def use_policy(monkeypatch: Any, tmp_path: Path, account: str = "prod", rotation: dict[str, Any] | None = None,
               freezes: list[dict[str, Any]] | None = None, slack: dict[str, Any] | None = None) -> Path:
    """Act as ``account`` with its shipped policy plus the given rotation section (and freezes)."""
    document = yaml.safe_load((POLICIES / f"{account}.yaml").read_text())
    document["rotation"] = {"enabled": True, "channel": "#platform", **(rotation or {})}
    if freezes is not None:
        document["freezes"] = freezes
    if slack:
        document["slack"] = {**document.get("slack", {}), **slack}
    path = tmp_path / f"{account}-policy.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.setenv("SWITCHBOARD_ACCOUNT_NAME", account)
    monkeypatch.setenv("SWITCHBOARD_SIGNING_KEY", f"alias/switchboard-signing-{account}")
    monkeypatch.setenv("SWITCHBOARD_POLICY_FILE", str(path))
    reset_caches()
    return path


def client_as(service: str, *, access_key_id: str, secret_access_key: str, session_token: str | None = None,
              region: str | None = None) -> Any:
    """The factory the IAM kind needs from chalicelib.aws (the proposed ``aws.client_as``), for the tests."""
    from chalicelib.settings import get_settings

    settings = get_settings()
    return boto3.session.Session().client(
        service, region_name=region or settings.region, endpoint_url=settings.endpoint_url,
        aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, aws_session_token=session_token)


class Crash(Exception):
    """Injected: the Lambda died right after the wrapped call succeeded."""


def crash_after(monkeypatch: Any, owner: Any, method: str, times: int = 1) -> list[int]:
    """Make ``owner.method`` do its work and then raise Crash (``times`` times); returns a call counter."""
    real = getattr(owner, method)
    calls = [0]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] <= times:
            raise Crash(f"crashed after {method}")
        return result

    monkeypatch.setattr(owner, method, wrapped)
    return calls


@dataclass
class Clock:
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


@dataclass
class Secrets:
    """Secrets Manager in the emulated account, and its rotation service."""

    function_arn: str
    clock: Clock = field(default_factory=Clock)

    @property
    def sm(self) -> Any:
        return aws.client("secretsmanager")

    def create(self, name: str, value: Any, kind: str | None = None, kms_key: str | None = None,
               tags: dict[str, str] | None = None) -> str:
        all_tags = {**(tags or {}), **({KIND_TAG: kind} if kind else {})}
        params: dict[str, Any] = {"Name": name, "SecretString": value if isinstance(value, str) else json.dumps(value)}
        if all_tags:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in all_tags.items()]
        if kms_key:
            params["KmsKeyId"] = kms_key
        return self.sm.create_secret(**params)["ARN"]

    def start(self, secret: str, days: int | None = 30) -> str:
        return rotation_service.start(self.sm, secret, self.function_arn, days=days)

    def step(self, secret: str, token: str, step: str, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("now", self.clock)
        kwargs.setdefault("sleep", lambda seconds: None)
        return rotator.handle({"SecretId": secret, "ClientRequestToken": token, "Step": step}, None, **kwargs)

    def drive(self, secret: str, token: str, steps: tuple[str, ...] = rotation_service.STEPS,
              **kwargs: Any) -> rotation_service.Report:
        kwargs.setdefault("now", self.clock)
        kwargs.setdefault("sleep", lambda seconds: None)
        return rotation_service.drive(rotator.handle, secret, token, steps, **kwargs)

    def rotate(self, secret: str, **kwargs: Any) -> rotation_service.Report:
        return self.drive(secret, self.start(secret), **kwargs)

    def value(self, secret: str, stage: str = "AWSCURRENT", version: str | None = None) -> Any:
        params = {"SecretId": secret, "VersionStage": stage, **({"VersionId": version} if version else {})}
        text = self.sm.get_secret_value(**params)["SecretString"]
        try:
            return json.loads(text)
        except ValueError:
            return text

    def stages(self, secret: str) -> dict[str, list[str]]:
        return {v: sorted(s) for v, s in self.sm.describe_secret(SecretId=secret)["VersionIdsToStages"].items() if s}

    def version(self, secret: str, stage: str) -> str | None:
        return next((v for v, s in self.stages(secret).items() if stage in s), None)


_setup_clients: dict[tuple[str, str], Any] = {}


def _setup_client(moto_url: str, service: str) -> Any:
    """Clients for setting the world up, built once per run (chalicelib.aws's are rebuilt for every test)."""
    key = (moto_url, service)
    if key not in _setup_clients:
        _setup_clients[key] = boto3.session.Session().client(service, endpoint_url=moto_url, region_name="eu-west-1")
    return _setup_clients[key]


def secrets_world(moto_url: str) -> Secrets:
    arn = rotation_service.ensure_function(moto_url, _setup_client(moto_url, "lambda"),
                                           _setup_client(moto_url, "iam"), "test")
    return Secrets(arn)


def token() -> str:
    return str(uuid.uuid4())


Step = Callable[..., dict[str, Any]]


def capture_bus() -> Callable[[], list[dict[str, Any]]]:
    """What this account puts on its default bus with source=switchboard (a rule to an SQS queue)."""
    sqs, events = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName="captured-rotation")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="capture-rotation", EventPattern=json.dumps(ACTIONABLE))
    events.put_targets(Rule="capture-rotation", Targets=[{"Id": "q", "Arn": arn}])

    def take() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in got]
    return take


def slack_workspace(monkeypatch: Any, slack: Any) -> None:
    """The Slack stand-in as this account's Slack (call before use_policy): secret, directory, API URL."""
    from tests.frontdoor_kit import directory, put_slack_secret

    monkeypatch.setenv("SWITCHBOARD_SLACK_API_URL", slack.api_url)
    reset_caches()
    put_slack_secret()
    slack.reset(directory=True)
    directory(slack)


def texts(slack: Any, channel: str) -> list[str]:
    return [m.text + " " + json.dumps(m.blocks) for m in slack.messages(channel)]
