"""Environment variables, declared as one pydantic model (read once, validated, typed).

The Chalice stage in ``.chalice/config.json`` sets these per account; the local world sets the same ones
for each emulated account's instance.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PACKAGE_DIR = Path(__file__).resolve().parent


class SettingsError(RuntimeError):
    """The environment does not describe a usable Switchboard instance."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    account_name: str = Field(alias="SWITCHBOARD_ACCOUNT_NAME", min_length=1)
    policy_file: str = Field(alias="SWITCHBOARD_POLICY_FILE", min_length=1)
    audit_table: str = Field("switchboard-audit", alias="SWITCHBOARD_AUDIT_TABLE")
    ledger_table: str = Field("switchboard-ledger", alias="SWITCHBOARD_LEDGER_TABLE")
    state_table: str = Field("switchboard-state", alias="SWITCHBOARD_STATE_TABLE")
    # The console's read model (front door only; infra/account.yaml creates it there)
    console_table: str = Field("switchboard-console", alias="SWITCHBOARD_CONSOLE_TABLE")
    # The console's public address, as Slack's OIDC redirect comes back to it (".../api/console" on API Gateway).
    # Required on AWS; unset in the local world, where it follows the Host of the request (loopback).
    console_url: str | None = Field(None, alias="SWITCHBOARD_CONSOLE_URL")
    # Who issues the id_token (OpenID Connect discovery at <issuer>/.well-known/openid-configuration)
    oidc_issuer: str = Field("https://slack.com", alias="SWITCHBOARD_OIDC_ISSUER")
    # How long a console session lasts (the cookie and the token inside it)
    console_session_seconds: int = Field(3600, alias="SWITCHBOARD_CONSOLE_SESSION_SECONDS", gt=0, le=12 * 3600)
    region: str = Field("eu-west-1", alias="AWS_REGION")
    # Unset on AWS. The local world points it at moto's server on loopback.
    endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")
    # How long an event id is remembered by the ledger. EventBridge retries for up to 24 h.
    ledger_ttl_seconds: int = Field(7 * 24 * 3600, alias="SWITCHBOARD_LEDGER_TTL_SECONDS", gt=0)
    audit_retention_days: int = Field(400, alias="SWITCHBOARD_AUDIT_RETENTION_DAYS", gt=0)
    # Unset on AWS (slack_sdk's default). The local world points it at the Slack stand-in.
    slack_api_url: str | None = Field(None, alias="SWITCHBOARD_SLACK_API_URL")
    # The KMS key this account signs its peer envelopes with (infra/account.yaml creates it under this alias).
    signing_key: str = Field("alias/switchboard-signing", alias="SWITCHBOARD_SIGNING_KEY", min_length=1)
    # How long Powertools Parameters caches the Slack secret; rotation takes effect within this time.
    secret_max_age_seconds: int = Field(300, alias="SWITCHBOARD_SECRET_MAX_AGE_SECONDS", ge=0)
    # Outbound calls (chalicelib/outbound.py) may go to loopback, plain http included. Only the local world and the
    # tests set it (their stand-ins listen on 127.0.0.1); never on AWS, where loopback is the Lambda runtime API.
    allow_loopback_http: bool = Field(False, alias="SWITCHBOARD_ALLOW_LOOPBACK_HTTP")
    # Unset on AWS (PostgreSQL rotation trusts policy's ca_file, by default the Amazon RDS bundle shipped in the
    # package). The local world points it at the CA its PostgreSQL server's certificate was made with.
    pg_ca_file: str | None = Field(None, alias="SWITCHBOARD_PG_CA_FILE")
    # Set by the Lambda runtime (and by bench/cold_start.py, which measures a Lambda cold start).
    lambda_task_root: str | None = Field(None, alias="LAMBDA_TASK_ROOT")
    # Set by the Chalice CLI (`chalice deploy`, `chalice package`, `chalice local`) before it imports app.py.
    chalice_cli_mode: str | None = Field(None, alias="AWS_CHALICE_CLI_MODE")

    @property
    def policy_path(self) -> Path:
        path = Path(self.policy_file)
        return path if path.is_absolute() else PACKAGE_DIR / path

    @property
    def in_lambda(self) -> bool:
        """Running as a Lambda function (not under the Chalice CLI, which imports app.py to deploy it)."""
        return self.lambda_task_root is not None and self.chalice_cli_mode is None


def from_environ(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    if "AWS_REGION" not in env and "AWS_DEFAULT_REGION" in env:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
    try:
        return Settings.model_validate(env)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid Switchboard environment: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return from_environ()
