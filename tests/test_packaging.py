"""What is deployed: every stage's packaged template (infra/package.py = chalice package + infra/harden.py).

- every stage packages with no AWS configuration at all (the region is the policy's);
- every function, whatever its name, has its reserved concurrency from policy, its environment and its log
  group encrypted with the account's key, a log group with retention, and failed async invocations going to
  the dead-letter queue; every API (where there is one) has access logs and throttling; the template lints clean;
- every checkov skip sits in the template next to its resource with its reason, and only for the checks that
  do not apply (the Makefile runs checkov itself on every packaged stage, and skips nothing on its command line);
- infra/harden.py, on templates made up here: a new function gets everything, a new kind of trigger or a
  misnamed entry in policy stops the build with a message naming it.

Only the deployment zip is faked (building it would install the app's dependencies); the chalice CLI, its
template generator, the merge with infra/app.yaml and infra/harden.py are the real ones.
"""

from __future__ import annotations

import copy
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from chalicelib.policy.limits import LimitsSection
from chalicelib.policy.loader import PolicyError, parse
from infra import package as packaging
from infra.harden import DEAD_LETTER_QUEUE_ARN, KEY_ARN, TemplateError, harden, kinds
from localworld.provision import ACCOUNT_TEMPLATE, load_template, provision_account

ROOT = Path(__file__).resolve().parent.parent
STAGES = packaging.stages()
FUNCTION, API = "AWS::Serverless::Function", "AWS::Serverless::Api"
# the checks a resource may skip, each only where its reason holds (the reasons are in infra/harden.py)
SKIPPABLE = {FUNCTION: {"CKV_AWS_116", "CKV_AWS_117"}, API: {"CKV_AWS_120", "CKV_AWS_73"}}

# `chalice` with a stand-in for the deployment package (the app's code and dependencies, nothing of the template)
FAKE_ZIP_CHALICE = [sys.executable, "-c", textwrap.dedent("""
    import sys, tempfile, zipfile
    from chalice.cli import main
    from chalice.deploy.packager import LambdaDeploymentPackager

    def fake(self, project_dir, python_version):
        path = tempfile.mkdtemp() + "/deployment.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("app.py", "")
        return path

    LambdaDeploymentPackager.create_deployment_package = fake
    sys.exit(main())
""")]


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in template["Resources"].items() if res["Type"] == kind}


@pytest.fixture(scope="module")
def packaged_files(tmp_path_factory) -> dict[str, Path]:
    """Stage -> its packaged template's file, built with no AWS configuration in the environment."""
    out = tmp_path_factory.mktemp("build")
    with pytest.MonkeyPatch.context() as mp:
        for var in packaging.AWS_CONFIGURATION:
            mp.delenv(var, raising=False)
        mp.setenv("AWS_PROFILE", "no-such-profile")  # dropped by infra/package.py: packaging reads no profile
        return {stage: packaging.package(stage, out / stage, chalice=FAKE_ZIP_CHALICE) for stage in STAGES}


@pytest.fixture(scope="module")
def packaged(packaged_files) -> dict[str, dict[str, Any]]:
    return {stage: packaging.load_sam(path) for stage, path in packaged_files.items()}


def test_the_packaged_file_spells_every_value_out(packaged_files):
    """No YAML anchors or aliases (the key's ARN is used by every function): CloudFormation takes none."""
    for path in packaged_files.values():
        text = path.read_text()
        assert "&id0" not in text and "*id0" not in text
        assert text.count("Fn::Sub: ${AccountStackName}-KeyArn") > 14


def test_the_stages_are_the_accounts():
    assert set(STAGES) == {"stage", "prod", "shared-services"}


def test_packaging_runs_in_the_policy_region_and_reads_no_aws_configuration():
    env = packaging.chalice_env("eu-central-1", {"PATH": "/bin", "AWS_PROFILE": "admin", "AWS_REGION": "us-east-1",
                                                 "AWS_DEFAULT_REGION": "us-east-1"})
    assert env == {"PATH": "/bin", "AWS_DEFAULT_REGION": "eu-central-1", "AWS_CONFIG_FILE": packaging.os.devnull,
                   "AWS_SHARED_CREDENTIALS_FILE": packaging.os.devnull}
    assert packaging.stage_policy("prod").account.region == "eu-west-1"


def test_prod_packages_every_function_of_the_app(packaged):
    from chalice.utils import to_cfn_resource_name

    import app  # conftest: the prod stage's environment

    names = [s.name for s in app.app.event_sources] + [f.name for f in app.app.pure_lambda_functions]
    expected = {to_cfn_resource_name(n) for n in names} | ({"APIHandler"} if app.app.routes else set())
    assert set(_resources(packaged["prod"], FUNCTION)) == expected


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_front_door_has_an_api(packaged, stage):
    """Accounts that are not slack.front_door define no Slack route, so their package has no API Gateway at all."""
    front_door = packaging.stage_policy(stage).slack.front_door == stage
    apis = {res["Type"] for res in packaged[stage]["Resources"].values()} & {
        "AWS::Serverless::Api", "AWS::ApiGateway::RestApi", "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage"}
    assert bool(apis) is front_door
    assert ("APIHandler" in packaged[stage]["Resources"]) is front_door


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_is_bounded_encrypted_logged_and_dead_lettered(packaged, stage):
    template = packaged[stage]
    limits = packaging.stage_policy(stage).limits
    functions = _resources(template, FUNCTION)
    assert functions
    by_kind = kinds(template)
    for lid, function in functions.items():
        props = function["Properties"]
        expected = limits.concurrency.model_dump()[by_kind[lid]]
        assert props["ReservedConcurrentExecutions"] == expected, lid
        assert props["KmsKeyArn"] == KEY_ARN == {"Fn::ImportValue": {"Fn::Sub": "${AccountStackName}-KeyArn"}}
        group = template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group == {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{lid}"},
            "RetentionInDays": limits.log_retention_days, "KmsKeyId": KEY_ARN}}
        invoke = template["Resources"][f"{lid}EventInvokeConfig"]["Properties"]
        assert invoke == {"FunctionName": {"Ref": lid}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 2,
                          "MaximumEventAgeInSeconds": 3600,
                          "DestinationConfig": {"OnFailure": {"Destination": DEAD_LETTER_QUEUE_ARN}}}
    assert {k for k in by_kind.values()} <= {"events", "schedules", "direct", "api"}
    # Lambda keeps 100 of an account's concurrency unreserved; the default quota is 1000
    assert sum(f["Properties"]["ReservedConcurrentExecutions"] for f in functions.values()) <= 900


def test_the_exports_imported_are_the_account_stacks():
    outputs = load_template(ACCOUNT_TEMPLATE)["Outputs"]
    for name in ("KeyArn", "DeadLetterQueueArn"):
        assert outputs[name]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-" + name}
    app_yaml = load_template(packaging.APP_TEMPLATE)
    assert app_yaml["Parameters"]["AccountStackName"]["Default"] == provision_account.__kwdefaults__["stack_name"]


def test_the_key_lets_lambda_and_cloudwatch_logs_use_it_for_what_is_packaged():
    statements = {s["Sid"]: s for s in load_template(ACCOUNT_TEMPLATE)["Resources"]["Key"]["Properties"]
                  ["KeyPolicy"]["Statement"]}
    via = statements["UseOnlyThroughSwitchboardServices"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert {"Fn::Sub": "lambda.${AWS::Region}.amazonaws.com"} in via  # environment variables
    logs = statements["CloudWatchLogsEncryptsSwitchboardLogs"]
    arns = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    # the stack is named switchboard-<something> (README: switchboard-app), as the functions' IAM Logs grant says
    assert [a["Fn::Sub"].rsplit(":log-group:", 1)[1] for a in arns] == ["/aws/lambda/switchboard-*",
                                                                         "/aws/apigateway/switchboard-*"]


@pytest.mark.parametrize("stage", STAGES)
def test_an_api_is_logged_and_throttled_where_there_is_one(packaged, stage):
    template = packaged[stage]
    limits = packaging.stage_policy(stage).limits
    apis = _resources(template, API)
    gateway = {"ApiGatewayAccount", "ApiGatewayLoggingRole"} & set(template["Resources"])
    assert gateway == ({"ApiGatewayAccount", "ApiGatewayLoggingRole"} if apis else set())
    for api in apis.values():
        props = api["Properties"]
        group = props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
        assert template["Resources"][group]["Properties"]["RetentionInDays"] == limits.log_retention_days
        assert template["Resources"][group]["Properties"]["KmsKeyId"] == KEY_ARN
        assert "$context.requestId" in props["AccessLogSetting"]["Format"]
        assert props["MethodSettings"] == [{"ResourcePath": "/*", "HttpMethod": "*",
                                            "ThrottlingRateLimit": limits.api.rate,
                                            "ThrottlingBurstLimit": limits.api.burst}]
        assert api["DependsOn"] == "ApiGatewayAccount"


@pytest.mark.parametrize("stage", STAGES)
def test_every_checkov_skip_is_in_place_with_its_reason(packaged, stage):
    for lid, res in packaged[stage]["Resources"].items():
        skips = res.get("Metadata", {}).get("checkov", {}).get("skip", [])
        assert {s["id"] for s in skips} <= SKIPPABLE.get(res["Type"], set()), lid
        for skip in skips:
            assert len(skip["comment"]) > 80, (lid, skip)
        if res["Type"] == FUNCTION:
            ids = {s["id"] for s in skips}
            assert "CKV_AWS_116" in ids and f"{lid}EventInvokeConfig" in packaged[stage]["Resources"]
            assert ("CKV_AWS_117" in ids) == ("VpcConfig" not in res["Properties"])


def test_checkov_runs_on_every_packaged_stage_and_skips_nothing_on_its_command_line():
    makefile = (ROOT / "Makefile").read_text()
    assert "--skip-check" not in makefile and "--soft-fail" not in makefile and "soft_fail" not in makefile
    assert "$(CHECKOV_RUN) -f $$t" in makefile and "TEMPLATES := $(foreach s,$(STAGES),build/$(s)/sam.yaml)" in makefile


@pytest.mark.parametrize("stage", STAGES)
def test_packaged_template_lints_clean(packaged, stage):
    template = copy.deepcopy(packaged[stage])
    # app.yaml tells cfn-lint to ignore its refs to functions it does not define; merged, they must resolve
    for res in template["Resources"].values():
        res.get("Metadata", {}).pop("cfn-lint", None)
    matches = lint(json.dumps(template), config=ManualArgs(regions=[packaging.stage_policy(stage).account.region]))
    assert not matches, "\n".join(str(m) for m in matches)


# ---- infra/harden.py on made-up templates ----

def _function(events: dict[str, Any] | None = None, **props: Any) -> dict[str, Any]:
    return {"Type": FUNCTION, "Properties": {"Handler": "app.x", "Runtime": "python3.11", "CodeUri": "./d.zip",
                                             **({"Events": events} if events else {}), **props}}


def _template(**resources: Any) -> dict[str, Any]:
    return {"Parameters": {"AccountStackName": {"Type": "String"}}, "Resources": resources}


RULE = {"E": {"Type": "CloudWatchEvent", "Properties": {"Pattern": {"source": ["aws.ecs"]}}}}
TIMER = {"E": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}}
QUEUE = {"E": {"Type": "SQS", "Properties": {"Queue": "arn:aws:sqs:eu-west-1:1:q"}}}
INTEGRATION = {"uri": {"Fn::Sub": "arn:...:functions/${APIHandler.Arn}/invocations"}}
REST_API = {"Type": API, "Properties": {"StageName": "api", "DefinitionBody": {"paths": {"/slack/commands": {
    "post": {"x-amazon-apigateway-integration": INTEGRATION}}}}}}


def _limits(**section: Any) -> LimitsSection:
    return LimitsSection.model_validate(section)


@pytest.mark.parametrize(("resources", "expected"), [
    ({"OnThing": _function(RULE)}, {"OnThing": "events"}),
    ({"Tick": _function(TIMER)}, {"Tick": "schedules"}),
    ({"OnSchedule": _function()}, {"OnSchedule": "direct"}),
    ({"APIHandler": _function(), "RestAPI": REST_API}, {"APIHandler": "api"}),
    ({"OnQueue": _function(QUEUE)}, {"OnQueue": "SQS"}),
    ({"Both": _function({**RULE, "T": TIMER["E"]})}, {"Both": "events+schedules"}),
])
def test_what_invokes_a_function_decides_its_kind(resources, expected):
    assert kinds(_template(**resources)) == expected


def test_a_new_function_gets_everything_without_being_named_anywhere():
    limits = _limits(concurrency={"events": 7}, log_retention_days=30)
    out = harden(_template(OnNewThing=_function(RULE)), limits)
    props = out["Resources"]["OnNewThing"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == 7 and props["KmsKeyArn"] == KEY_ARN
    assert out["Resources"]["OnNewThingLogGroup"]["Properties"]["RetentionInDays"] == 30
    assert out["Resources"]["OnNewThingEventInvokeConfig"]["Properties"]["FunctionName"] == {"Ref": "OnNewThing"}
    assert [s["id"] for s in out["Resources"]["OnNewThing"]["Metadata"]["checkov"]["skip"]] == ["CKV_AWS_116",
                                                                                               "CKV_AWS_117"]
    assert not {"ApiGatewayAccount", "ApiGatewayLoggingRole"} & set(out["Resources"])


def test_harden_leaves_its_input_alone_and_gives_the_same_output_every_time():
    template = _template(APIHandler=_function(), RestAPI=REST_API, Tick=_function(TIMER))
    before = copy.deepcopy(template)
    assert harden(template, _limits()) == harden(template, _limits())
    assert template == before


def test_a_function_in_a_vpc_is_not_excused_from_the_vpc_check():
    vpc = {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    out = harden(_template(RotateSecret=_function(VpcConfig=vpc)), _limits())
    assert [s["id"] for s in out["Resources"]["RotateSecret"]["Metadata"]["checkov"]["skip"]] == ["CKV_AWS_116"]


def test_an_entry_of_its_own_sizes_one_function_by_its_chalice_name():
    template = _template(OnThing=_function(RULE), APIHandler=_function(), RestAPI=REST_API)
    out = harden(template, _limits(concurrency={"functions": {"on_thing": 3, "api_handler": 40}}))
    assert out["Resources"]["OnThing"]["Properties"]["ReservedConcurrentExecutions"] == 3
    assert out["Resources"]["APIHandler"]["Properties"]["ReservedConcurrentExecutions"] == 40


@pytest.mark.parametrize(("template", "limits", "message"), [
    (_template(OnQueue=_function(QUEUE)), {},
     "OnQueue: invoked by SQS, for which limits.concurrency has no number; give it one under "
     "limits.concurrency.functions"),
    (_template(OnThing=_function(RULE)), {"concurrency": {"functions": {"on_thnig": 3}}},
     "limits.concurrency.functions: on_thnig is no function of this app (its functions: OnThing)"),
    (_template(OnThing=_function(RULE, ReservedConcurrentExecutions=5)), {},
     "OnThing: ReservedConcurrentExecutions is already set (by .chalice/config.json?); it comes from policy and "
     "infra/harden.py only"),
    ({"Resources": {"OnThing": _function(RULE)}}, {},
     "the template has no AccountStackName parameter: package it with --merge-template infra/app.yaml"),
])
def test_what_cannot_be_hardened_stops_the_build_with_one_clear_line(template, limits, message):
    with pytest.raises(TemplateError) as caught:
        harden(template, _limits(**limits))
    assert str(caught.value) == message


def test_a_new_kind_of_trigger_passes_once_policy_sizes_it():
    out = harden(_template(OnQueue=_function(QUEUE)), _limits(concurrency={"functions": {"on_queue": 4}}))
    assert out["Resources"]["OnQueue"]["Properties"]["ReservedConcurrentExecutions"] == 4


# ---- the policy's limits section ----

POLICY = """\
    version: 1
    account: {name: prod, id: "333344445555", environment: prod}
"""


def test_limits_have_defaults_and_each_bad_value_is_named():
    assert parse(textwrap.dedent(POLICY), "prod.yaml").limits == LimitsSection(
        concurrency={"events": 10, "schedules": 2, "direct": 5, "api": 20}, api={"rate": 10, "burst": 20},
        log_retention_days=365)
    bad = textwrap.dedent(POLICY) + textwrap.dedent("""\
        limits:
          concurrency: {events: 0, functions: {on_alarm: 2000}}
          log_retention_days: 42
    """)
    with pytest.raises(PolicyError) as caught:
        parse(bad, "prod.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "limits.concurrency.events: input should be greater than or equal to 1 (line 4)",
        "limits.concurrency.functions.on_alarm: input should be less than or equal to 1000 (line 4)",
        "limits.log_retention_days: input should be 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, "
        "731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 (line 5)",
    ]


# ---- the deployment zip: botocore's models of the services the code uses, and no others ----

@pytest.mark.parametrize(("source", "named", "mentioned", "pynamodb", "dynamic"), [
    ('from chalicelib import aws\naws.client("sqs").send_message()', {"sqs"}, {"sqs"}, False, []),
    ('client("ecs", region="x")', {"ecs"}, {"ecs"}, False, []),
    ('boto3.session.Session().client(service_name="kms")', {"kms"}, {"kms"}, False, []),
    ('boto3.resource("dynamodb")', {"dynamodb"}, {"dynamodb"}, False, []),
    ('session.create_client("sts", "eu-west-1")', {"sts"}, {"sts"}, False, []),
    ('aws.client("no-such-service")', set(), set(), False, []),  # not a service: nothing to ship
    ('Action("ecs", "update_service", {})', set(), {"ecs"}, False, []),
    ('def make(service):\n    return session.client(service)', set(), set(), False, []),  # a factory: callers count
    ('x = 1\nservice = client(action.service)', set(), set(), False, [2]),
    ('from pynamodb.models import Model', set(), set(), True, []),
])
def test_the_scan_reads_what_a_module_makes_clients_of(source, named, mentioned, pynamodb, dynamic):
    assert packaging.scan(source, packaging.available_services()) == (named, mentioned, pynamodb, dynamic)


def test_a_client_of_a_computed_service_ships_every_service_its_package_names(tmp_path):
    (tmp_path / "scaling").mkdir()
    (tmp_path / "scaling" / "plan.py").write_text('Action("autoscaling", "set_desired_capacity", {})\n')
    (tmp_path / "scaling" / "executor.py").write_text('client(action.service)\nclient("ecs")\n')
    (tmp_path / "other.py").write_text('print("sqs")\n')  # another package's mention of a service is not a use
    assert packaging.services_used((tmp_path,)) == {"autoscaling", "ecs"}


def test_the_code_uses_the_services_it_is_granted():
    """What the scan finds in Switchboard today (a new client call adds its service by itself)."""
    used = packaging.services_used()
    assert used <= packaging.available_services()
    assert {"dynamodb", "secretsmanager", "lambda", "kms", "events", "sqs", "cloudwatch", "sns", "codepipeline", "iam",
            "sts", "ecs", "autoscaling", "application-autoscaling"} <= used
    assert len(used) < 30


def test_every_client_the_code_creates_builds_from_the_slimmed_zip(tmp_path):
    """botocore and boto3 as installed, zipped, slimmed as `make package` slims the deployment zip, unpacked: every
    service the code uses gets a client through chalicelib.aws (and PynamoDB its own); a service the code does not
    use is not there."""
    import subprocess
    import zipfile

    import boto3
    import botocore

    zipped = tmp_path / "deployment.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as zf:
        for package in (botocore, boto3):
            root = Path(package.__file__).parent
            for path in root.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, f"{root.name}/{path.relative_to(root)}")
    before = zipfile.ZipFile(zipped).namelist()
    packaging.slim(zipped)
    after = zipfile.ZipFile(zipped).namelist()
    assert {n for n in before if not n.startswith("botocore/data/")} == {
        n for n in after if not n.startswith("botocore/data/")}
    assert {"botocore/data/endpoints.json", "botocore/data/partitions.json"} <= set(after)
    unpacked = tmp_path / "task"
    zipfile.ZipFile(zipped).extractall(unpacked)

    used = sorted(packaging.services_used())
    unused = sorted(packaging.available_services() - set(used))[:3]
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(unpacked)!r})
        sys.path.insert(1, {str(ROOT)!r})
        import botocore
        from botocore.exceptions import UnknownServiceError
        assert botocore.__file__.startswith({str(unpacked)!r}), botocore.__file__
        from chalicelib import aws
        for service in {used!r}:
            assert aws.client(service).meta.service_model.service_name == service
        from pynamodb.connection import Connection
        Connection(region="eu-west-1").client
        for service in {unused!r}:
            try:
                aws.client(service)
            except UnknownServiceError:
                continue
            raise SystemExit(f"{{service}} is still in the zip")
        print("ok", len({used!r}))
    """)
    env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1", "SWITCHBOARD_ACCOUNT_NAME": "prod",
           "SWITCHBOARD_POLICY_FILE": "policies/prod.yaml", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ok", str(len(used))]
