"""What every function and API of the packaged template gets, whatever functions the app has.

``harden(template, limits)`` takes the SAM template ``chalice package --merge-template infra/app.yaml`` wrote
and returns it with, for every ``AWS::Serverless::Function`` found in it (none is named here):

- ``ReservedConcurrentExecutions`` from the policy's ``limits.concurrency``, by what invokes the function
  (an EventBridge rule, a schedule, the REST API, or a service calling it by name) or by its own entry;
- ``KmsKeyArn``: environment variables encrypted with the account's Switchboard key (infra/account.yaml);
- ``LoggingConfig`` to a log group of its own (``<Function>LogGroup``): retention from policy, the same key;
- ``<Function>EventInvokeConfig``: failed asynchronous invocations retried twice, dropped after an hour,
  then sent to the account's dead-letter queue;
- ``Metadata.checkov.skip``: each check that does not apply to it, with the reason.

and, for every ``AWS::Serverless::Api`` (only where the Slack front door is served): access logs to a log
group of its own, throttling of its routes from ``limits.api``, the account's API Gateway logging role, and
its own checkov skips.

A pure function over plain data: infra/package.py runs Chalice and writes the result; tests call it directly.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from chalice.utils import to_cfn_resource_name

from chalicelib.policy.limits import LimitsSection

FUNCTION = "AWS::Serverless::Function"
API = "AWS::Serverless::Api"


class TemplateError(ValueError):
    """The packaged template cannot be hardened as it is (the message says what and where)."""


def _account_export(name: str) -> dict[str, Any]:
    """An output of the account stack (infra/account.yaml), named by app.yaml's AccountStackName parameter."""
    return {"Fn::ImportValue": {"Fn::Sub": "${AccountStackName}-" + name}}


KEY_ARN = _account_export("KeyArn")
DEAD_LETTER_QUEUE_ARN = _account_export("DeadLetterQueueArn")

# SAM event types -> the limits.concurrency entry of a function they invoke
TRIGGERS = {
    "CloudWatchEvent": "events",
    "EventBridgeRule": "events",
    "Schedule": "schedules",
    "ScheduleV2": "schedules",
}

# Why a check does not apply, written next to the resource it is skipped for.
NO_VPC = ("Calls only AWS APIs (DynamoDB, EventBridge, Secrets Manager, the services it manages) and Slack over "
          "HTTPS, and reaches nothing private; a VPC would add NAT for no isolation gained. A function that "
          "needs one (rotation of a database in a VPC) gets subnet_ids in .chalice/config.json, and this skip "
          "goes away.")
DLQ_BY_DESTINATION = ("Failed asynchronous invocations go to the account's dead-letter queue through the "
                      "OnFailure destination of {config} (a destination keeps the error and the request; the "
                      "DeadLetterQueue property would be a second, poorer copy).")
NO_CACHE = ("Serves only Slack's signed POSTs (commands, interactions): each is a distinct request whose answer "
            "must not be replayed, and API Gateway caches GET only.")
NO_XRAY = ("Switchboard does not trace (no X-Ray SDK in the functions: its cold-start cost, see "
           "docs/ARCHITECTURE.md); the access log and the functions' correlation ids follow a request.")

# One JSON line per request: who, what, how it ended. No body, no headers (Slack's signature stays out of logs).
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "time": "$context.requestTime",
    "method": "$context.httpMethod", "path": "$context.resourcePath", "status": "$context.status",
    "length": "$context.responseLength", "latency": "$context.responseLatency",
    "integrationStatus": "$context.integrationStatus", "error": "$context.error.message",
}, separators=(",", ":"))


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in sorted(template["Resources"].items()) if res["Type"] == kind}


def _skip(resource: dict[str, Any], check: str, reason: str) -> None:
    skips = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
    skips.append({"id": check, "comment": reason})


def _serves(api: dict[str, Any], function_id: str) -> bool:
    """The API's definition integrates the function (Chalice's swagger names it as ``${Function.Arn}``)."""
    return f"${{{function_id}.Arn}}" in json.dumps(api.get("Properties", {}))


def kinds(template: dict[str, Any]) -> dict[str, str]:
    """Function logical id -> what invokes it: ``events``, ``schedules``, ``api`` or ``direct`` (none of these:
    invoked by name, e.g. by EventBridge Scheduler or Secrets Manager), else the SAM event types, joined."""
    apis = _resources(template, API).values()
    found = {}
    for lid, function in _resources(template, FUNCTION).items():
        types = sorted({e.get("Type", "?") for e in function["Properties"].get("Events", {}).values()})
        triggers = {TRIGGERS.get(t, t) for t in types}
        if any(_serves(api, lid) for api in apis):
            triggers.add("api")
        found[lid] = triggers.pop() if len(triggers) == 1 else ("+".join(sorted(triggers)) or "direct")
    return found


def _function_ids(names: list[str]) -> dict[str, str]:
    """Chalice function name -> logical id (Chalice's REST API function is ``api_handler`` -> ``APIHandler``)."""
    return {name: "APIHandler" if name == "api_handler" else to_cfn_resource_name(name) for name in names}


def concurrency(template: dict[str, Any], limits: LimitsSection) -> dict[str, int]:
    """Function logical id -> its reserved concurrency. A function invoked some other way than the four
    kinds, or an entry naming no function, is an error: a new kind of trigger needs a number chosen for it."""
    found = kinds(template)
    own = _function_ids(list(limits.concurrency.functions))
    unknown = sorted(name for name, lid in own.items() if lid not in found)
    if unknown:
        raise TemplateError(f"limits.concurrency.functions: {', '.join(unknown)} is no function of this app "
                            f"(its functions: {', '.join(sorted(found))})")
    by_id = {lid: limits.concurrency.functions[name] for name, lid in own.items()}
    kinds_limits = limits.concurrency.model_dump(exclude={"functions"})
    sized = {}
    for lid, kind in found.items():
        if lid in by_id:
            sized[lid] = by_id[lid]
        elif kind in kinds_limits:
            sized[lid] = kinds_limits[kind]
        else:
            raise TemplateError(f"{lid}: invoked by {kind}, for which limits.concurrency has no number; "
                                f"give it one under limits.concurrency.functions")
    return sized


def harden(template: dict[str, Any], limits: LimitsSection) -> dict[str, Any]:
    """The template with every function's and API's settings and skips (see the module's docstring)."""
    out = copy.deepcopy(template)
    resources = out["Resources"]
    if "AccountStackName" not in out.get("Parameters", {}):
        raise TemplateError("the template has no AccountStackName parameter: package it with "
                            "--merge-template infra/app.yaml")
    sized = concurrency(out, limits)
    for lid, function in _resources(out, FUNCTION).items():
        props = function["Properties"]
        for prop in ("ReservedConcurrentExecutions", "KmsKeyArn", "LoggingConfig"):
            if prop in props:
                raise TemplateError(f"{lid}: {prop} is already set (by .chalice/config.json?); it comes from "
                                    f"policy and infra/harden.py only")
        for new in (f"{lid}LogGroup", f"{lid}EventInvokeConfig"):
            if new in resources:
                raise TemplateError(f"{new}: already in the template; infra/harden.py makes it for every function")
        props["ReservedConcurrentExecutions"] = sized[lid]
        props["KmsKeyArn"] = copy.deepcopy(KEY_ARN)
        props["LoggingConfig"] = {"LogGroup": {"Ref": f"{lid}LogGroup"}}
        resources[f"{lid}LogGroup"] = _log_group(f"/aws/lambda/${{AWS::StackName}}-{lid}", limits)
        resources[f"{lid}EventInvokeConfig"] = {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": lid},
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2,
                "MaximumEventAgeInSeconds": 3600,
                "DestinationConfig": {"OnFailure": {"Destination": copy.deepcopy(DEAD_LETTER_QUEUE_ARN)}},
            },
        }
        _skip(function, "CKV_AWS_116", DLQ_BY_DESTINATION.format(config=f"{lid}EventInvokeConfig"))
        if "VpcConfig" not in props:
            _skip(function, "CKV_AWS_117", NO_VPC)
    apis = _resources(out, API)
    for lid, api in apis.items():
        props = api["Properties"]
        for prop in ("AccessLogSetting", "MethodSettings"):
            if prop in props:
                raise TemplateError(f"{lid}: {prop} is already set; it comes from infra/harden.py only")
        resources[f"{lid}AccessLogs"] = _log_group(f"/aws/apigateway/${{AWS::StackName}}-{lid}", limits)
        props["AccessLogSetting"] = {"DestinationArn": {"Fn::GetAtt": [f"{lid}AccessLogs", "Arn"]},
                                     "Format": ACCESS_LOG_FORMAT}
        # every route (all of them Slack's): a flood is refused at the door, before any function runs
        props["MethodSettings"] = [{"ResourcePath": "/*", "HttpMethod": "*",
                                    "ThrottlingRateLimit": limits.api.rate,
                                    "ThrottlingBurstLimit": limits.api.burst}]
        api.setdefault("DependsOn", "ApiGatewayAccount")  # access logs need the account's logging role first
        _skip(api, "CKV_AWS_120", NO_CACHE)
        _skip(api, "CKV_AWS_73", NO_XRAY)
    if apis:
        resources.update(_api_gateway_logging_role())
    return out


def _log_group(name: str, limits: LimitsSection) -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {
            "LogGroupName": {"Fn::Sub": name},
            "RetentionInDays": limits.log_retention_days,
            # infra/account.yaml's key policy lets CloudWatch Logs use the key for these groups
            "KmsKeyId": copy.deepcopy(KEY_ARN),
        },
    }


def _api_gateway_logging_role() -> dict[str, dict[str, Any]]:
    """API Gateway writes access logs with one role per account and region (its ``Account`` setting). Kept when
    the stack goes, so that other APIs of the account that log keep logging."""
    return {
        "ApiGatewayLoggingRole": {
            "Type": "AWS::IAM::Role",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}],
                },
                "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                                  "AmazonAPIGatewayPushToCloudWatchLogs"}],
            },
        },
        "ApiGatewayAccount": {
            "Type": "AWS::ApiGateway::Account",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]}},
        },
    }
