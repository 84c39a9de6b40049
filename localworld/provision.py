"""Deploy infra/account.yaml and infra/peer-link.yaml into moto's server, then fill what moto leaves out.

The templates are the single source of truth: they are deployed through moto's CloudFormation exactly as
they are deployed to AWS, and everything moto's CloudFormation (moto 5.2) does not do is then done with
the equivalent API call, using values resolved from the same template. Each gap is listed in the
``ProvisionReport`` (``Gap.kind``) so the docs can say what the local world emulates and how:

``rewrite``   moto mishandles a property (it crashes or stores it in the wrong shape), so the template sent
              to moto is adjusted first: KMS ``KeyPolicy`` (stored unserialised, DescribeKey then fails),
              KMS ``Tags`` (read with the wrong key names, the key is silently not created), DynamoDB
              ``SSESpecification`` (read with the API's key ``Enabled``, not CloudFormation's ``SSEEnabled``),
              IAM Role ``Policies`` (each document stored as a Python repr, not JSON).
``property``  moto accepts a property and ignores it: DynamoDB ``TimeToLiveSpecification`` and
              ``PointInTimeRecoverySpecification`` (filled by update_time_to_live, update_continuous_backups).
``resource``  moto has no CloudFormation support for the type and skips the resource:
              ``AWS::SecretsManager::Secret`` (create_secret), ``AWS::Events::EventBusPolicy``
              (put_permission with Policy), ``AWS::SQS::QueuePolicy`` (set_queue_attributes Policy).
``output``    moto drops outputs that refer to a skipped resource (SlackSecretArn); they are resolved here
              into the report's outputs, but moto has no export for them, so Fn::ImportValue cannot see them.
``not-filled`` moto ignores it and nothing local depends on it (KMS ``PendingWindowInDays``).
Not needed here: ``AWS::Lambda::EventInvokeConfig`` (infra/app.yaml) has no moto CloudFormation support
either, but the local world runs the handlers itself (localworld.delivery emulates the retries and DLQ).

A filler that meets a property it does not know fails loudly instead of skipping it silently. Every call is
idempotent, so provisioning one account twice, or many accounts on one server, is safe: an existing stack
is kept, a TTL already on is left alone, an existing secret keeps its value.

This module is local-world code and is never deployed. It refuses to run without ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_TEMPLATE = ROOT / "infra" / "account.yaml"
PEER_LINK_TEMPLATE = ROOT / "infra" / "peer-link.yaml"


class ProvisionError(RuntimeError):
    """A stack did not deploy, or the template uses something this module cannot emulate."""


@dataclass(frozen=True)
class Gap:
    stack: str
    logical_id: str
    resource_type: str
    kind: str  # "rewrite" | "property" | "resource" | "output" | "not-filled"
    moto: str  # what moto's CloudFormation does with it
    filled_by: str  # the template rewrite or API call that closes the gap

    def line(self) -> str:
        return f"{self.stack}/{self.logical_id} ({self.resource_type}): moto {self.moto} -> {self.filled_by}"


@dataclass
class ProvisionReport:
    account_id: str
    region: str
    stacks: dict[str, str] = field(default_factory=dict)  # stack name -> stack id
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # stack name -> output key -> value
    gaps: list[Gap] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [gap.line() for gap in self.gaps]


# ---- templates ----

class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, ...) read as their long form."""


def _cfn_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


# ---- gaps: what moto 5.2's CloudFormation does not do ----

def _rewrite_key(props: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    done = []
    if isinstance(props.get("KeyPolicy"), dict):
        props["KeyPolicy"] = {"Fn::ToJsonString": props["KeyPolicy"]}
        done.append(("KeyPolicy", "rewrite", "stores a KeyPolicy object unserialised (DescribeKey then fails)",
                     "template rewrite: KeyPolicy wrapped in Fn::ToJsonString"))
    if props.get("Tags"):
        props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props["Tags"]]
        done.append(("Tags", "rewrite", "reads Tags as TagKey/TagValue and silently drops the key otherwise",
                     "template rewrite: Tags given as TagKey/TagValue"))
    if "PendingWindowInDays" in props:
        done.append(("PendingWindowInDays", "not-filled", "ignores PendingWindowInDays",
                     "nothing: it only matters when the key is scheduled for deletion"))
    return done


def _rewrite_table(props: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    sse = props.get("SSESpecification")
    if not sse:
        return []
    props["SSESpecification"] = {"Enabled": sse.get("SSEEnabled", False), "SSEType": sse.get("SSEType", "KMS"),
                                 **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {})}
    return [("SSESpecification", "rewrite", "reads SSESpecification.Enabled (the API's name), ignoring SSEEnabled",
             "template rewrite: SSEEnabled given as Enabled")]


def _rewrite_role(props: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    policies = [p for p in props.get("Policies", []) if isinstance(p.get("PolicyDocument"), dict)]
    for policy in policies:
        policy["PolicyDocument"] = {"Fn::ToJsonString": policy["PolicyDocument"]}
    return [("Policies", "rewrite", "stores an inline PolicyDocument object as its Python repr (GetRolePolicy returns "
             "invalid JSON)", "template rewrite: PolicyDocument wrapped in Fn::ToJsonString")] if policies else []


_REWRITES: dict[str, Callable[[dict[str, Any]], list[tuple[str, str, str, str]]]] = {
    "AWS::KMS::Key": _rewrite_key,
    "AWS::DynamoDB::Table": _rewrite_table,
    "AWS::IAM::Role": _rewrite_role,
}


def _fill_ttl(ctx: _Context, logical_id: str, spec: dict[str, Any]) -> str:
    ddb = ctx.client("dynamodb")
    table = ctx.physical[logical_id]
    current = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    enabled = current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    if enabled != bool(spec["Enabled"]) or (enabled and current.get("AttributeName") != spec["AttributeName"]):
        ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={
            "AttributeName": spec["AttributeName"], "Enabled": bool(spec["Enabled"])})
    return "dynamodb:UpdateTimeToLive"


def _fill_pitr(ctx: _Context, logical_id: str, spec: dict[str, Any]) -> str:
    ctx.client("dynamodb").update_continuous_backups(
        TableName=ctx.physical[logical_id],
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": bool(spec["PointInTimeRecoveryEnabled"])})
    return "dynamodb:UpdateContinuousBackups"


def _fill_key_spec(ctx: _Context, logical_id: str, spec: Any) -> str:
    """moto's CloudFormation makes every key symmetric; the signing key is made what the template says, in moto's
    own backend (this process runs moto's server), with the local world's demo private half (localworld/keys.py:
    moto cannot import asymmetric key material, and the shipped policies pin these keys' public halves)."""
    from moto.kms.models import kms_backends
    from moto.kms.utils import ECDSAPrivateKey

    from localworld import keys

    if spec != "ECC_NIST_P256":
        raise ProvisionError(f"{logical_id}: provision.py emulates KeySpec ECC_NIST_P256 only, not {spec}")
    account_id = ctx.refs["AWS::AccountId"]
    key = kms_backends[account_id][ctx.region].describe_key(ctx.physical[logical_id])
    if key.key_spec != spec:
        key.key_spec, key.key_usage = spec, "SIGN_VERIFY"
        key.private_key = ECDSAPrivateKey(spec)
    keys.install(account_id, ctx.region, key.id)
    return "moto's KMS backend: KeySpec, KeyUsage SIGN_VERIFY, demo private key (localworld/keys.py)"


_IGNORED_PROPERTIES: dict[tuple[str, str], Callable[[_Context, str, Any], str]] = {
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification"): _fill_ttl,
    ("AWS::DynamoDB::Table", "PointInTimeRecoverySpecification"): _fill_pitr,
    ("AWS::KMS::Key", "KeySpec"): _fill_key_spec,
}


def _fill_secret(ctx: _Context, logical_id: str, props: dict[str, Any]) -> tuple[str, str]:
    _only(props, logical_id, {"Name", "Description", "KmsKeyId", "SecretString", "Tags"})
    sm = ctx.client("secretsmanager")
    try:
        arn = sm.create_secret(**props)["ARN"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise
        arn = sm.describe_secret(SecretId=props["Name"])["ARN"]  # keep the value someone put since
    return arn, "secretsmanager:CreateSecret"


def _fill_bus_policy(ctx: _Context, logical_id: str, props: dict[str, Any]) -> tuple[str, str]:
    _only(props, logical_id, {"EventBusName", "StatementId", "Statement"})
    if "Statement" not in props:
        raise ProvisionError(f"{logical_id}: only the Statement form of AWS::Events::EventBusPolicy is emulated")
    bus = props.get("EventBusName", "default")
    statement = {"Sid": props["StatementId"], **props["Statement"]}
    # Each AWS::Events::EventBusPolicy adds its statement to the bus's policy; PutPermission with a Policy
    # replaces the whole policy, so the statements already there are kept (one with the same Sid is replaced).
    events = ctx.client("events")
    existing = events.describe_event_bus(Name=bus).get("Policy")
    kept = json.loads(existing)["Statement"] if existing else []
    statements = [s for s in kept if s.get("Sid") != statement["Sid"]]
    events.put_permission(
        EventBusName=bus, Policy=json.dumps({"Version": "2012-10-17", "Statement": [*statements, statement]}))
    return props["StatementId"], "events:PutPermission (Policy)"


def _fill_queue_policy(ctx: _Context, logical_id: str, props: dict[str, Any]) -> tuple[str, str]:
    _only(props, logical_id, {"Queues", "PolicyDocument"})
    sqs = ctx.client("sqs")
    for url in props["Queues"]:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
    return logical_id, "sqs:SetQueueAttributes (Policy)"


def _fill_alarm(ctx: _Context, logical_id: str, props: dict[str, Any]) -> tuple[str, str]:
    _only(props, logical_id, {"AlarmName", "AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic",
                              "Period", "EvaluationPeriods", "Threshold", "ComparisonOperator", "TreatMissingData",
                              "Tags"})
    ctx.client("cloudwatch").put_metric_alarm(**{k: v for k, v in props.items()})
    return props["AlarmName"], "cloudwatch:PutMetricAlarm"


_UNSUPPORTED_TYPES: dict[str, Callable[[_Context, str, dict[str, Any]], tuple[str, str]]] = {
    "AWS::CloudWatch::Alarm": _fill_alarm,
    "AWS::SecretsManager::Secret": _fill_secret,
    "AWS::Events::EventBusPolicy": _fill_bus_policy,
    "AWS::SQS::QueuePolicy": _fill_queue_policy,
}
EMULATED_TYPES = frozenset(_UNSUPPORTED_TYPES)


def _only(props: dict[str, Any], logical_id: str, known: set[str]) -> None:
    unknown = set(props) - known
    if unknown:
        raise ProvisionError(f"{logical_id}: provision.py does not emulate {sorted(unknown)}; teach it")


# ---- resolving the template's intrinsic functions against what was deployed ----

class _Context:
    def __init__(self, session: boto3.Session, endpoint_url: str, template: dict[str, Any],
                 stack_name: str, stack_id: str, parameters: dict[str, str], account_id: str):
        self.session = session
        self.endpoint_url = endpoint_url
        self.template = template
        self.region = session.region_name
        self.refs: dict[str, Any] = {
            "AWS::AccountId": account_id, "AWS::Region": self.region, "AWS::Partition": "aws",
            "AWS::StackName": stack_name, "AWS::StackId": stack_id, "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        for name, spec in template.get("Parameters", {}).items():
            value = parameters.get(name, spec.get("Default"))
            if value is None:
                raise ProvisionError(f"{stack_name}: parameter {name} has no value")
            self.refs[name] = value.split(",") if spec["Type"] == "CommaDelimitedList" else value
        self.physical: dict[str, str] = {}
        self._clients: dict[str, Any] = {}
        self._conditions: dict[str, bool] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self._ref(arg)
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._get_att(logical_id, attribute)
            if fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return self._sub(text, variables)
            if fn == "Fn::Join":
                return arg[0].join(str(v) for v in self.resolve(arg[1]))
            if fn == "Fn::Split":
                return self.resolve(arg[1]).split(arg[0])
            if fn == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if fn == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if fn == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if fn == "Fn::Not":
                return not self.resolve(arg[0])
            if fn == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if fn == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if fn == "Fn::ImportValue":
                name = self.resolve(arg)
                exports = self.client("cloudformation").list_exports()["Exports"]
                return next(e["Value"] for e in exports if e["Name"] == name)
            if fn.startswith("Fn::"):
                raise ProvisionError(f"provision.py cannot resolve {fn}")
        return {key: value for key, value in ((k, self.resolve(v)) for k, v in node.items()) if value is not None}

    def _ref(self, name: str) -> Any:
        if name in self.refs:
            return self.refs[name]
        if name in self.physical:
            return self.physical[name]
        raise ProvisionError(f"Ref {name}: not a parameter and not a deployed resource")

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] not in self.refs:
                return str(self._get_att(*name.split(".", 1)))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def _get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.template["Resources"][logical_id]["Type"]
        physical = self._ref(logical_id)
        if attribute == "Arn":
            if kind == "AWS::KMS::Key":
                return self.client("kms").describe_key(KeyId=physical)["KeyMetadata"]["Arn"]
            if kind == "AWS::SQS::Queue":
                return self.client("sqs").get_queue_attributes(
                    QueueUrl=physical, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            if kind == "AWS::DynamoDB::Table":
                return self.client("dynamodb").describe_table(TableName=physical)["Table"]["TableArn"]
            if kind == "AWS::IAM::Role":
                return self.client("iam").get_role(RoleName=physical)["Role"]["Arn"]
            if kind == "AWS::Events::Rule":
                return self.client("events").describe_rule(Name=physical)["Arn"]
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return physical.rsplit("/", 1)[-1]
        raise ProvisionError(f"provision.py cannot resolve GetAtt {logical_id}.{attribute} ({kind})")


# ---- deploying one stack ----

def _endpoint_url() -> str:
    url = os.environ.get("AWS_ENDPOINT_URL")
    if not url:
        raise ProvisionError("AWS_ENDPOINT_URL is not set: provisioning only ever targets moto's server")
    return url


def _account_id(session: boto3.Session, endpoint_url: str) -> str:
    return session.client("sts", endpoint_url=endpoint_url).get_caller_identity()["Account"]


def deploy_stack(session: boto3.Session, template_path: Path, stack_name: str, parameters: dict[str, str],
                 report: ProvisionReport) -> dict[str, str]:
    """Create (or keep) one stack from ``template_path`` in moto, fill moto's gaps; returns its outputs."""
    endpoint_url = _endpoint_url()
    template = load_template(template_path)
    for_moto = copy.deepcopy(template)
    rewrites: list[Gap] = []
    for logical_id, resource in for_moto["Resources"].items():
        rewrite = _REWRITES.get(resource["Type"])
        for prop, kind, moto, filled_by in rewrite(resource.setdefault("Properties", {})) if rewrite else []:
            rewrites.append(Gap(stack_name, f"{logical_id}.{prop}", resource["Type"], kind, moto, filled_by))

    cfn = session.client("cloudformation", endpoint_url=endpoint_url)
    stack = _existing_stack(cfn, stack_name)
    if stack is None:
        cfn.create_stack(
            StackName=stack_name, TemplateBody=json.dumps(for_moto),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
        cfn.get_waiter("stack_create_complete").wait(
            StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        stack = _existing_stack(cfn, stack_name)
    if stack is None or stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise ProvisionError(f"stack {stack_name}: {stack and stack['StackStatus']}")

    ctx = _Context(session, endpoint_url, template, stack_name, stack["StackId"], parameters,
                   report.account_id)
    for item in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]:
        if "LogicalResourceId" in item and item.get("PhysicalResourceId"):
            ctx.physical[item["LogicalResourceId"]] = item["PhysicalResourceId"]

    gaps = list(rewrites)
    for logical_id, resource in template["Resources"].items():
        if "Condition" in resource and not ctx.condition(resource["Condition"]):
            continue
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind in _UNSUPPORTED_TYPES:
            physical, api = _UNSUPPORTED_TYPES[kind](ctx, logical_id, ctx.resolve(props))
            ctx.physical[logical_id] = physical
            gaps.append(Gap(stack_name, logical_id, kind, "resource", "has no CloudFormation support for the type",
                            api))
            continue
        for prop, value in props.items():
            filler = _IGNORED_PROPERTIES.get((kind, prop))
            if filler:
                api = filler(ctx, logical_id, ctx.resolve(value))
                gaps.append(Gap(stack_name, f"{logical_id}.{prop}", kind, "property", "ignores the property", api))

    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    for key, output in template.get("Outputs", {}).items():
        if key in outputs or ("Condition" in output and not ctx.condition(output["Condition"])):
            continue
        outputs[key] = str(ctx.resolve(output["Value"]))
        gaps.append(Gap(stack_name, f"Outputs.{key}", "Output", "output",
                        "drops an output that refers to a resource it skipped (and its export)",
                        "resolved by provision.py into the report (not importable in moto)"))

    report.stacks[stack_name] = stack["StackId"]
    report.outputs[stack_name] = outputs
    report.gaps.extend(gaps)
    return outputs


def _existing_stack(cfn: Any, stack_name: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    live = [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
    return live[0] if live else None


# ---- one account ----

def peer_link_stack_name(peer_account_id: str) -> str:
    return f"switchboard-to-{peer_account_id}"


def provision_account(session: boto3.Session, *, account_name: str, peer_account_ids: list[str],
                      peer_links: list[tuple[str, str]], stack_name: str = "switchboard-account",
                      front_door: bool = False) -> ProvisionReport:
    """Deploy the account stack and one peer-link stack per (peer account id, peer region) into moto.

    ``session`` holds credentials that act in the emulated account (see localworld.emulator.assume);
    the endpoint is ``AWS_ENDPOINT_URL``.
    """
    if not session.region_name:
        raise ProvisionError("the session has no region")
    endpoint_url = _endpoint_url()
    report = ProvisionReport(account_id=_account_id(session, endpoint_url), region=session.region_name)
    deploy_stack(session, ACCOUNT_TEMPLATE, stack_name, {
        "AccountName": account_name, "PeerAccountIds": ",".join(peer_account_ids),
        "FrontDoor": "true" if front_door else "false"}, report)
    for peer_account_id, peer_region in peer_links:
        deploy_stack(session, PEER_LINK_TEMPLATE, peer_link_stack_name(peer_account_id), {
            "PeerAccountId": peer_account_id, "PeerRegion": peer_region}, report)
    return report
