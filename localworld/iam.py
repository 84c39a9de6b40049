"""IAM in the local world: one role per function, made from the generated policies, and moto's access control on.

Roles as deployed: ``chalice package`` gives every function a role of its own (``<function>_role`` in Chalice's
graph, CloudFormation logical id ``OnAlarmRole``...) with one inline policy, the file ``make iam-policy`` wrote from
``infra.iam_policy.policies_for(stage)``. ``create_roles`` makes the same roles in an emulated account, named as
CloudFormation names them in the app stack ``switchboard-app`` (``switchboard-app-OnAlarmRole-<12 characters>``,
which is what infra/account.yaml's bus policy expects), trusting Lambda, with the same documents (read from
``policies_for``: no second source of truth).

Enforcement: moto checks a request against the caller's policies once ``ActionAuthenticatorMixin.request_count``
reaches ``moto.settings.INITIAL_NO_AUTH_ACTION_COUNT``; both are read on every request in the process that runs
moto's server (this one), so ``enforce()`` switches access control on in-process after provisioning and
``relax()`` switches it off again (the unit tests share the process and moto's default of no checks).

What moto 5.2.5's access control does not do, emulated here (``install()``, idempotent):

- it checks the request's *resource* only for SQS, IAM role calls and ``sts:AssumeRole``; every other call is
  checked against ``*``, which matches no statement scoped to an ARN. ``resources()`` names, per service and
  action, the ARN AWS checks (the table and index, the event bus, the key behind an alias, the secret's full ARN,
  the pipeline, the ECS service, the alarm...).
- it names CloudWatch's actions after its signing name (``monitoring:``): they are ``cloudwatch:`` in IAM.
- DynamoDB's ``TransactWriteItems``/``TransactGetItems`` are authorised in IAM as the action of each item
  (``PutItem``, ``UpdateItem``, ``DeleteItem``, ``ConditionCheckItem``, ``GetItem``) on its table: so here too.
- its wildcard match turns ``*`` into ``.*`` and nothing else (``?`` and ``.`` stay regex): IAM's ``*`` and ``?``
  are matched here, everything else literally (``secret:switchboard/slack-??????`` is a valid IAM resource).

What it does not do and is *not* emulated (AWS alone checks it): condition keys of identity policies (moto ignores
every ``Condition`` of an identity policy: an Allow with conditions allows, a Deny with conditions denies),
resource policies (the event bus policy, queue policies, KMS key policies), permission boundaries, SCPs.

Every refusal is recorded (``denials()``) with the role, the function it belongs to, the action and the resource:
the world fails loudly with them.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

import boto3

APP_STACK = "switchboard-app"  # the stack `chalice package`'s template is deployed as (README, Deploying)
TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
# The provisioning identity (the local world acting as AWS and as the deployer) may do anything.
PROVISIONER_ROLE = "switchboard-local"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# Lambda's own part (event source polling, the rules Chalice deploys) in the local world, kept off the functions'
# roles: the instance drains its queue with this role and runs the handler with the function's.
DELIVERY_ROLE = "switchboard-local-delivery"


def cfn_logical_id(name: str) -> str:
    """Chalice's ``to_cfn_resource_name``: ``on_alarm_role`` -> ``OnAlarmRole``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name) if part)


def role_name(account_id: str, function: str) -> str:
    """What CloudFormation names the function's role in the app stack: ``<stack>-<LogicalId>-<12 chars>``
    (the suffix is random on AWS; here it is derived from the account and function, so runs are reproducible)."""
    suffix = hashlib.sha256(f"{account_id}/{function}".encode()).hexdigest()[:12].upper()
    return f"{APP_STACK}-{cfn_logical_id(function + '_role')}-{suffix}"[:64]


def delivery_policy(region: str, account_id: str) -> dict[str, Any]:
    queues = f"arn:aws:sqs:{region}:{account_id}:switchboard-local-*"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Queues", "Effect": "Allow", "Resource": queues,
         "Action": ["sqs:CreateQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage",
                    "sqs:DeleteMessage"]},
        {"Sid": "DeadLetterQueue", "Effect": "Allow", "Action": ["sqs:GetQueueUrl"],
         "Resource": f"arn:aws:sqs:{region}:{account_id}:switchboard-dead-letters"},
        {"Sid": "Rules", "Effect": "Allow", "Action": ["events:PutRule", "events:PutTargets"],
         "Resource": f"arn:aws:events:{region}:{account_id}:rule/switchboard-*"},
    ]}


@dataclass(frozen=True)
class Role:
    function: str
    name: str
    arn: str


def create_roles(session: boto3.Session, endpoint_url: str, stage: str, account_id: str,
                 documents: dict[str, dict[str, Any]] | None = None) -> dict[str, Role]:
    """One role per function of the stage, with its generated policy (``documents`` overrides it: tests remove a
    statement to prove the world notices); plus the local world's delivery role. Idempotent."""
    from infra import iam_policy

    iam = session.client("iam", endpoint_url=endpoint_url)
    documents = documents if documents is not None else iam_policy.policies_for(stage)
    roles = {}
    for function, document in documents.items():
        name = role_name(account_id, function)
        arn = _role(iam, name, TRUST_LAMBDA)
        iam.put_role_policy(RoleName=name, PolicyName=cfn_logical_id(function + "_role") + "Policy",
                            PolicyDocument=json.dumps(document))
        roles[function] = Role(function, name, arn)
    arn = _role(iam, DELIVERY_ROLE, TRUST_LAMBDA)
    iam.put_role_policy(RoleName=DELIVERY_ROLE, PolicyName="LocalDelivery",
                        PolicyDocument=json.dumps(delivery_policy(session.region_name, account_id)))
    roles[DELIVERY_ROLE] = Role(DELIVERY_ROLE, DELIVERY_ROLE, arn)
    return roles


def provisioner_role(session: boto3.Session, endpoint_url: str) -> None:
    """Give the role the provisioning credentials were assumed into a policy (moto let them be assumed before it
    existed): with access control on, they keep acting as AWS and the deployer would."""
    iam = session.client("iam", endpoint_url=endpoint_url)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    _role(iam, PROVISIONER_ROLE, trust)
    iam.put_role_policy(RoleName=PROVISIONER_ROLE, PolicyName="Provisioner", PolicyDocument=json.dumps(ADMIN))


def _role(iam: Any, name: str, trust: dict[str, Any]) -> str:
    try:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]


# ---- moto's access control, completed and switched on ----

@dataclass(frozen=True)
class Denial:
    account: str
    role: str
    function: str | None
    action: str
    resource: str

    def line(self) -> str:
        who = self.function or f"role {self.role}"
        return f"{self.account}: {who} may not {self.action} on {self.resource}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_lock = threading.Lock()
_denials: list[Denial] = []
_functions: dict[tuple[str, str], str] = {}  # (account id, role name) -> function
_accounts: dict[str, str] = {}  # account id -> account name
_installed = {"done": False}


def register(account_name: str, account_id: str, roles: dict[str, Role]) -> None:
    with _lock:
        _accounts[account_id] = account_name
        for function, role in roles.items():
            _functions[(account_id, role.name)] = function


def denials() -> list[Denial]:
    with _lock:
        return list(_denials)


def enforce() -> None:
    """moto checks every request from now on (in this process's moto server)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    install()
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0


def relax() -> None:
    """Back to moto's default: no checks (the unit tests in this process expect it)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    ActionAuthenticatorMixin.request_count = 0
    with _lock:
        _denials.clear()


def iam_match(pattern: str, value: str) -> bool:
    """IAM's wildcards: ``*`` any run of characters (``:`` and ``/`` included), ``?`` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def install() -> None:
    """Complete moto's access control in this process (see the module docstring). Idempotent."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMPolicyStatement, IAMRequest

    with _lock:
        if _installed["done"]:
            return
        _installed["done"] = True

    def _match(pattern: str, string: str) -> Any:
        return True if iam_match(pattern, string) else None

    IAMPolicyStatement._match = staticmethod(_match)  # type: ignore[method-assign]
    moto_check = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def authorize(self: Any, resource: str = "*") -> None:
        from moto import settings

        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            return moto_check(self, resource)
        wanted = requests(self, resource)
        for action, arn in wanted:
            iam_request = IAMRequest(account_id=self.current_account, method=self.method, path=_path(self),
                                     data=self.data, body=self.raw_body, headers=self.headers,
                                     action=self._get_action())
            iam_request._action = action
            form = "x-www-form-urlencoded" in (self.headers.get("Content-Type") or "")
            if not self.raw_body and not form:  # moto signs ``body or data``; Lambda's GETs keep headers in data
                iam_request._data = {}
            iam_request.check_signature()
            try:
                iam_request.check_action_permitted(arn)
            except Exception as exc:
                if getattr(exc, "code", None) == 403:
                    raise _denied(self, iam_request._access_key.arn, action, arn) from exc
                raise
        return None

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = authorize  # type: ignore[method-assign]


def _path(response: Any) -> str:
    from urllib.parse import urlparse

    query = urlparse(response.uri).query
    return response.raw_path + ("?" + query if query else "")


def _denied(response: Any, principal: str, action: str, resource: str) -> Exception:
    """Record the refusal, and answer it as AWS does: AccessDeniedException (JSON protocols) or AccessDenied."""
    from moto.core.exceptions import AccessDeniedError, JsonRESTError

    account_id = response.current_account
    role = principal.split("/")[1] if ":assumed-role/" in principal else principal
    with _lock:
        denial = Denial(_accounts.get(account_id, account_id), role, _functions.get((account_id, role)), action,
                        resource)
        _denials.append(denial)
    message = f"User: {principal} is not authorized to perform: {action} on resource: {resource}"
    content_type = response.headers.get("Content-Type", "") or ""
    if response.headers.get("X-Amz-Target") or "json" in content_type:
        error: Exception = JsonRESTError("AccessDeniedException", message)
        error.code = 400  # type: ignore[attr-defined]  # what AWS's JSON services answer
        return error
    return AccessDeniedError(user_arn=principal, action=f"{action} on resource: {resource}")


# ---- the resource AWS checks, per service and action ----

def requests(response: Any, moto_resource: str) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs IAM authorises for this request."""
    service = _signing_service(response)
    operation = response._get_action()
    prefix = {"monitoring": "cloudwatch"}.get(service, service)
    region, account = response.region, response.current_account
    resolver = _RESOLVERS.get(prefix)
    if resolver is None or (moto_resource != "*" and prefix != "sqs"):
        return [(f"{prefix}:{operation}", moto_resource)]
    return resolver(response, operation, prefix, region, account)


def _signing_service(response: Any) -> str:
    scope = response.headers.get("Authorization", "").partition("Credential=")[2].partition(",")[0].split("/")
    return scope[3] if len(scope) > 3 else response.service_name


def _param(response: Any, name: str) -> Any:
    try:
        return response._get_param(name)
    except Exception:  # noqa: BLE001 - a parameter moto cannot parse is no resource
        return None


def _dynamodb(response: Any, operation: str, prefix: str, region: str, account: str) -> list[tuple[str, str]]:
    def table(name: str, index: str | None = None) -> str:
        if name.startswith("arn:"):
            return name
        return f"arn:aws:dynamodb:{region}:{account}:table/{name}" + (f"/index/{index}" if index else "")

    body = getattr(response, "body", None)
    params = body if isinstance(body, dict) else {}
    if operation in ("TransactWriteItems", "TransactGetItems"):
        actions = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                   "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
        found = []
        for item in params.get("TransactItems", []):
            for kind, spec in item.items():
                found.append((f"dynamodb:{actions[kind]}", table(spec["TableName"])))
        return found
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [(f"dynamodb:{operation}", table(name)) for name in params.get("RequestItems", {})]
    name = params.get("TableName") or _param(response, "TableName") or _param(response, "ResourceArn")
    if not name:
        return [(f"dynamodb:{operation}", "*")]
    return [(f"dynamodb:{operation}", table(name, params.get("IndexName")))]


def _events(response: Any, operation: str, prefix: str, region: str, account: str) -> list[tuple[str, str]]:
    def bus(name: str | None) -> str:
        name = name or "default"
        return name if name.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{name}"

    if operation == "PutEvents":
        entries = _param(response, "Entries") or []
        return sorted({("events:PutEvents", bus(e.get("EventBusName"))) for e in entries}) or [
            ("events:PutEvents", bus(None))]
    rule = _param(response, "Rule") or _param(response, "Name")
    if operation in ("PutRule", "PutTargets", "RemoveTargets", "DeleteRule", "DescribeRule", "ListTargetsByRule",
                     "EnableRule", "DisableRule") and rule:
        return [(f"events:{operation}", f"arn:aws:events:{region}:{account}:rule/{rule}")]
    return [(f"events:{operation}", "*")]


def _kms(response: Any, operation: str, prefix: str, region: str, account: str) -> list[tuple[str, str]]:
    from moto.kms.models import kms_backends

    key_id = _param(response, "KeyId")
    if not key_id:
        return [(f"kms:{operation}", "*")]
    try:
        arn = kms_backends[account][region].describe_key(key_id).arn
    except Exception:  # noqa: BLE001 - an unknown key: AWS checks the ARN it was given (moto then says NotFound)
        arn = key_id if key_id.startswith("arn:") else f"arn:aws:kms:{region}:{account}:{key_id}"
    return [(f"kms:{operation}", arn)]


def _secretsmanager(response: Any, operation: str, prefix: str, region: str,
                    account: str) -> list[tuple[str, str]]:
    from moto.secretsmanager.models import secretsmanager_backends

    secret_id = _param(response, "SecretId")
    if not secret_id:
        name = _param(response, "Name")  # CreateSecret: the ARN it will have is not known before; AWS checks it
        return [(f"secretsmanager:{operation}",
                 f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-??????" if name else "*")]
    try:
        arn = secretsmanager_backends[account][region].describe_secret(secret_id).arn
    except Exception:  # noqa: BLE001 - unknown secret: checked against its name (moto then says NotFound)
        arn = secret_id if secret_id.startswith("arn:") else (
            f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}")
    return [(f"secretsmanager:{operation}", arn)]


def _cloudwatch(response: Any, operation: str, prefix: str, region: str, account: str) -> list[tuple[str, str]]:
    def alarm(name: str) -> str:
        return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"

    if operation in ("ListTagsForResource", "TagResource", "UntagResource"):
        return [(f"cloudwatch:{operation}", _param(response, "ResourceARN") or "*")]
    names = _param(response, "AlarmNames")
    if names:
        return [(f"cloudwatch:{operation}", alarm(n)) for n in names]
    name = _param(response, "AlarmName")
    if name:
        return [(f"cloudwatch:{operation}", alarm(name))]
    if operation in ("DescribeAlarms", "DescribeAlarmHistory"):
        return [(f"cloudwatch:{operation}", alarm("*"))]
    return [(f"cloudwatch:{operation}", "*")]


def _codepipeline(response: Any, operation: str, prefix: str, region: str,
                  account: str) -> list[tuple[str, str]]:
    name = _param(response, "pipelineName") or _param(response, "name")
    if not name:
        return [(f"codepipeline:{operation}", "*")]
    arn = f"arn:aws:codepipeline:{region}:{account}:{name}"
    if operation == "PutApprovalResult":
        arn += f"/{_param(response, 'stageName')}/{_param(response, 'actionName')}"
    return [(f"codepipeline:{operation}", arn)]


def _ecs(response: Any, operation: str, prefix: str, region: str, account: str) -> list[tuple[str, str]]:
    cluster = _param(response, "cluster") or "default"
    cluster = cluster.rsplit("/", 1)[-1]

    def service(name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:ecs:{region}:{account}:service/{cluster}/{name}"

    names = _param(response, "services")
    if names:
        return [(f"ecs:{operation}", service(n)) for n in names]
    one = _param(response, "service")
    return [(f"ecs:{operation}", service(one) if one else "*")]


def _autoscaling(response: Any, operation: str, prefix: str, region: str,
                 account: str) -> list[tuple[str, str]]:
    from moto.autoscaling.models import autoscaling_backends

    name = _param(response, "AutoScalingGroupName")
    if not name or operation.startswith("Describe"):
        return [(f"autoscaling:{operation}", "*")]
    group = autoscaling_backends[account][region].autoscaling_groups.get(name)
    arn = group.arn if group is not None else (
        f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/{name}")
    return [(f"autoscaling:{operation}", arn)]


def _application_autoscaling(response: Any, operation: str, prefix: str, region: str,
                             account: str) -> list[tuple[str, str]]:
    if operation.startswith("Describe"):
        return [(f"application-autoscaling:{operation}", "*")]
    ident = hashlib.sha256(str(_param(response, "ResourceId")).encode()).hexdigest()[:32]
    return [(f"application-autoscaling:{operation}",
             f"arn:aws:application-autoscaling:{region}:{account}:scalable-target/{ident}")]


def _lambda(response: Any, operation: str, prefix: str, region: str, account: str) -> list[tuple[str, str]]:
    name = _param(response, "FunctionName")
    if not name:
        return [(f"lambda:{operation}", "*")]
    return [(f"lambda:{operation}", name if name.startswith("arn:") else
             f"arn:aws:lambda:{region}:{account}:function:{name}")]


def _iam(response: Any, operation: str, prefix: str, region: str, account: str) -> list[tuple[str, str]]:
    user = _param(response, "UserName")
    return [(f"iam:{operation}", f"arn:aws:iam::{account}:user/{user}" if user else "*")]


def _sqs(response: Any, operation: str, prefix: str, region: str, account: str) -> list[tuple[str, str]]:
    name = _param(response, "QueueName") or str(_param(response, "QueueUrl") or "").rsplit("/", 1)[-1]
    return [(f"sqs:{operation}", f"arn:aws:sqs:{region}:{account}:{name}" if name else "*")]


_RESOLVERS = {"sqs": _sqs, "dynamodb": _dynamodb, "events": _events, "kms": _kms, "secretsmanager": _secretsmanager,
              "cloudwatch": _cloudwatch, "codepipeline": _codepipeline, "ecs": _ecs, "autoscaling": _autoscaling,
              "application-autoscaling": _application_autoscaling, "lambda": _lambda, "iam": _iam}
