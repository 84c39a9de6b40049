"""infra/: the templates lint clean, agree with the code that uses what they create, and deploy into moto.

- cfn-lint on every template (the packaged template of every stage: tests/test_packaging.py);
- account.yaml's tables are the PynamoDB models' (and Powertools Idempotency's) tables, named as in
  .chalice/config.json;
- peer-link.yaml forwards exactly what a Switchboard sender puts on the bus;
- localworld.provision deploys both templates into a real moto server for several accounts, filling every
  gap moto's CloudFormation leaves.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from localworld.provision import (
    ACCOUNT_TEMPLATE,
    EMULATED_TYPES,
    PEER_LINK_TEMPLATE,
    load_template,
    peer_link_stack_name,
    provision_account,
)

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
APP_TEMPLATE = INFRA / "app.yaml"
TEMPLATES = sorted(INFRA.glob("*.yaml"))
REGION = "eu-west-1"
LINT_CONFIG = ManualArgs(regions=[REGION])


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


def _chalice_config() -> dict[str, Any]:
    return json.loads((ROOT / ".chalice" / "config.json").read_text())


# ---- lint ----

def test_infra_has_the_templates():
    assert {p.name for p in TEMPLATES} >= {"account.yaml", "peer-link.yaml", "app.yaml"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_lints_clean(path):
    matches = lint_file(path, config=LINT_CONFIG)
    assert not matches, "\n".join(str(m) for m in matches)


# ---- account.yaml <-> chalicelib/state/models.py, Powertools Idempotency, .chalice/config.json ----

def _key_schema(entries: list[dict[str, str]]) -> dict[str, str]:
    return {e["KeyType"]: e["AttributeName"] for e in entries}


def _model_layout(model: Any) -> dict[str, Any]:
    from pynamodb.attributes import TTLAttribute

    schema = model._get_schema()
    ttl = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
    return {
        "attributes": {d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]},
        "keys": _key_schema(schema["key_schema"]),
        "indexes": {i["index_name"]: (_key_schema(i["key_schema"]), i["projection"]["ProjectionType"])
                    for i in schema["global_secondary_indexes"]},
        "ttl": ttl[0] if len(ttl) == 1 else ttl,
    }


def _ledger_layout() -> dict[str, Any]:
    """The layout of the Powertools persistence store chalicelib.state.ledger really builds."""
    from chalicelib import aws
    from chalicelib.state import ledger

    ledger.reset()
    try:
        store, _ = ledger._store_and_config()
    finally:
        ledger.reset()
        aws.reset()
    keys = {"HASH": store.key_attr, **({"RANGE": store.sort_key_attr} if store.sort_key_attr else {})}
    return {"attributes": {name: "S" for name in keys.values()}, "keys": keys, "indexes": {},
            "ttl": store.expiry_attr}


def _template_layout(table: dict[str, Any]) -> dict[str, Any]:
    props = table["Properties"]
    assert props["TimeToLiveSpecification"]["Enabled"] is True
    return {
        "attributes": {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]},
        "keys": _key_schema(props["KeySchema"]),
        "indexes": {i["IndexName"]: (_key_schema(i["KeySchema"]), i["Projection"]["ProjectionType"])
                    for i in props.get("GlobalSecondaryIndexes", [])},
        "ttl": props["TimeToLiveSpecification"]["AttributeName"],
    }


def _tables_by_env_var() -> dict[str, dict[str, Any]]:
    tables = _resources(load_template(ACCOUNT_TEMPLATE), "AWS::DynamoDB::Table")
    by_name = {t["Properties"]["TableName"]: t for t in tables.values()}
    assert len(by_name) == len(tables) == 4
    env = _chalice_config()["environment_variables"]
    return {var: by_name[env[var]] for var in
            ("SWITCHBOARD_AUDIT_TABLE", "SWITCHBOARD_LEDGER_TABLE", "SWITCHBOARD_STATE_TABLE",
             "SWITCHBOARD_CONSOLE_TABLE")}  # the console's read model: the front door only (IsSlackFrontDoor)


def test_table_names_are_the_ones_chalice_stages_use():
    config = _chalice_config()
    tables = _tables_by_env_var()
    for stage in config["stages"].values():
        env = {**config["environment_variables"], **stage.get("environment_variables", {})}
        for var, table in tables.items():
            assert env[var] == table["Properties"]["TableName"]


def test_tables_match_the_models():
    from chalicelib.state.models import AuditEntry, StateItem

    tables = _tables_by_env_var()
    assert _template_layout(tables["SWITCHBOARD_AUDIT_TABLE"]) == _model_layout(AuditEntry)
    assert _template_layout(tables["SWITCHBOARD_STATE_TABLE"]) == _model_layout(StateItem)
    assert _template_layout(tables["SWITCHBOARD_LEDGER_TABLE"]) == _ledger_layout()
    assert AuditEntry.Meta.table_name == tables["SWITCHBOARD_AUDIT_TABLE"]["Properties"]["TableName"]
    assert StateItem.Meta.table_name == tables["SWITCHBOARD_STATE_TABLE"]["Properties"]["TableName"]


def test_tables_are_protected_and_encrypted_with_the_account_key():
    for table in _tables_by_env_var().values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["DeletionProtectionEnabled"] is True
        assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS",
                                             "KMSMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_key_alias_and_dead_letter_queue_are_the_ones_the_lambda_role_names():
    """infra/iam_policy.py grants the functions the key by alias and the DLQ by name."""
    from infra import iam_policy

    template = load_template(ACCOUNT_TEMPLATE)
    alias = next(iter(_resources(template, "AWS::KMS::Alias").values()))["Properties"]["AliasName"]
    queue = next(iter(_resources(template, "AWS::SQS::Queue").values()))["Properties"]
    statements = {s["Sid"]: s for s in iam_policy.policies_for("prod")["on_alarm"]["Statement"]}
    assert statements["StateEncryption"]["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"] == alias
    assert statements["DeadLetters"]["Resource"].endswith(f":{queue['QueueName']}")
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


# ---- peer-link.yaml <-> what a sender puts ----

def test_peer_link_forwards_what_a_switchboard_sender_puts():
    from chalicelib.intake import patterns
    from chalicelib.intake.events import PeerDetail, PeerEvent
    from chalicelib.policy.loader import current

    rule = next(iter(_resources(load_template(PEER_LINK_TEMPLATE), "AWS::Events::Rule").values()))["Properties"]
    (source,) = typing.get_args(PeerEvent.model_fields["source"].annotation)
    assert "to_account" in PeerDetail.model_fields
    assert rule["EventPattern"] == {"source": [source], "detail": {"to_account": [{"Ref": "PeerAccountId"}]}}
    assert rule["Name"] == {"Fn::Sub": "switchboard-to-${PeerAccountId}"}
    # ...and the receiving instance's rule keys on the same fields.
    receiving = patterns.peer(current())
    assert receiving["source"] == [source] and set(receiving["detail"]) == {"to_account"}


# ---- localworld.provision <-> moto's CloudFormation ----

def test_every_resource_type_moto_cannot_deploy_is_emulated():
    from moto.cloudformation.parsing import get_model_map

    used = {res["Type"] for path in (ACCOUNT_TEMPLATE, PEER_LINK_TEMPLATE)
            for res in load_template(path)["Resources"].values()}
    assert {t for t in used if t not in get_model_map()} == EMULATED_TYPES & used


SHARED, PROD, STAGE = "111122223333", "333344445555", "222233334444"
WORLD = {  # account id -> (name, peers admitted on its bus, peers it sends to)
    SHARED: ("shared-services", [STAGE, PROD], [(STAGE, REGION), (PROD, REGION)]),
    PROD: ("prod", [SHARED, STAGE], [(SHARED, REGION)]),
}


@pytest.fixture(scope="module")
def world():
    """A moto server of its own with two provisioned accounts (plus one without peers)."""
    from moto.server import ThreadedMotoServer

    from localworld.emulator import assume, free_port, session_for

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", url)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        try:
            _reset(url)  # moto's backends are per process: start from nothing
            sessions = {acct: session_for(assume(url, acct, REGION), REGION) for acct in [*WORLD, STAGE]}
            reports = {acct: provision_account(sessions[acct], account_name=name, peer_account_ids=peers,
                                               peer_links=links, slack_front_door=acct == SHARED)
                       for acct, (name, peers, links) in WORLD.items()}
            reports[STAGE] = provision_account(sessions[STAGE], account_name="stage", peer_account_ids=[],
                                               peer_links=[])
            yield {"url": url, "sessions": sessions, "reports": reports}
        finally:
            _reset(url)
            server.stop()


def _reset(url: str) -> None:
    import requests

    requests.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()


def _client(world: dict[str, Any], account: str, service: str) -> Any:
    return world["sessions"][account].client(service, endpoint_url=world["url"])


@pytest.mark.parametrize("account", list(WORLD))
def test_provisioned_tables_have_ttl_pitr_and_the_account_key(world, account):
    ddb = _client(world, account, "dynamodb")
    outputs = world["reports"][account].outputs["switchboard-account"]
    tables = _tables_by_env_var()
    front_door_only = {t["Properties"]["TableName"] for t in tables.values() if t.get("Condition")}
    assert front_door_only == {"switchboard-console"}
    names = ddb.list_tables()["TableNames"]
    assert ("switchboard-console" in names) is (account == SHARED)
    for table in tables.values():
        name = table["Properties"]["TableName"]
        if name not in names:
            continue
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED",
                       "AttributeName": table["Properties"]["TimeToLiveSpecification"]["AttributeName"]}
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
        described = ddb.describe_table(TableName=name)["Table"]
        assert described["TableArn"] == f"arn:aws:dynamodb:{REGION}:{account}:table/{name}"
        assert described["SSEDescription"]["KMSMasterKeyArn"] == outputs["KeyArn"]
        assert described["DeletionProtectionEnabled"] is True
    kms = _client(world, account, "kms")
    assert kms.get_key_rotation_status(KeyId=outputs["KeyArn"])["KeyRotationEnabled"] is True
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert outputs["KeyArn"].endswith(f"/{aliases['alias/switchboard']}")
    policy = json.loads(kms.get_key_policy(KeyId=outputs["KeyArn"], PolicyName="default")["Policy"])
    # principals: the account itself (through IAM), and CloudWatch Logs for Switchboard's log groups only
    assert [s["Principal"] for s in policy["Statement"]] == [
        {"AWS": f"arn:aws:iam::{account}:root"}, {"AWS": f"arn:aws:iam::{account}:root"},
        {"Service": f"logs.{REGION}.amazonaws.com"}]
    assert set(policy["Statement"][2]["Condition"]["ArnLike"]) == {"kms:EncryptionContext:aws:logs:arn"}


@pytest.mark.parametrize("account", list(WORLD))
def test_provisioned_dead_letter_queue_and_slack_secret(world, account):
    outputs = world["reports"][account].outputs["switchboard-account"]
    sqs = _client(world, account, "sqs")
    url = sqs.get_queue_url(QueueName="switchboard-dead-letters")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["QueueArn"] == outputs["DeadLetterQueueArn"] == \
        f"arn:aws:sqs:{REGION}:{account}:switchboard-dead-letters"
    assert attrs["KmsMasterKeyId"] == outputs["KeyArn"]
    assert attrs["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    assert json.loads(attrs["Policy"])["Statement"][0]["Effect"] == "Deny"

    secrets = _client(world, account, "secretsmanager")
    if account != SHARED:  # only the Slack front door holds a Slack secret
        assert "SlackSecretArn" not in outputs
        assert [s["Name"] for s in secrets.list_secrets()["SecretList"] if s["Name"] == "switchboard/slack"] == []
        return
    secret = secrets.describe_secret(SecretId="switchboard/slack")
    assert secret["ARN"] == outputs["SlackSecretArn"]
    assert secret["KmsKeyId"] == outputs["KeyArn"]
    value = json.loads(secrets.get_secret_value(SecretId="switchboard/slack")["SecretString"])
    assert set(value) == {"signing_secret", "bot_token"}


def test_the_templates_placeholder_is_one_the_front_door_refuses():
    """infra/account.yaml creates the secret with a placeholder; the front door refuses it (503) until replaced."""
    from chalicelib.slackkit import slack

    template = load_template(ACCOUNT_TEMPLATE)
    created = json.loads(template["Resources"]["SlackSecret"]["Properties"]["SecretString"])
    assert set(created.values()) == {slack.PLACEHOLDER}
    with pytest.raises(slack.SlackSecretUnusable, match="signing_secret is still the placeholder REPLACE_ME"):
        slack.parse_credentials("switchboard/slack", created)


@pytest.mark.parametrize("account", [*WORLD, STAGE])
def test_bus_policy_admits_only_the_peers_forwarders_and_keeps_switchboard_events_to_switchboard(world, account):
    bus = _client(world, account, "events").describe_event_bus(Name="default")
    statements = {s["Sid"]: s for s in json.loads(bus["Policy"])["Statement"]}
    deny = statements.pop("switchboard-source-is-switchboard-only")  # every account, peers or not
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "events:PutEvents")
    assert deny["Condition"]["StringEquals"] == {"events:source": "switchboard"}
    assert deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{account}:role/switchboard-app-*", f"arn:aws:iam::*:role/switchboard-to-{account}"]
    if account not in WORLD:
        assert statements == {}  # PeerAccountIds empty: nobody else may put anything
        return
    (statement,) = statements.values()
    principals = statement["Principal"]["AWS"]
    assert sorted([principals] if isinstance(principals, str) else principals) == sorted(WORLD[account][1])
    assert statement["Effect"] == "Allow" and statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == f"arn:aws:events:{REGION}:{account}:event-bus/default"
    # only the forwarder role each peer's peer-link stack creates for this account
    assert statement["Condition"] == {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/switchboard-to-{account}"}}


@pytest.mark.parametrize("account", list(WORLD))
def test_each_account_has_an_ecc_signing_key_whose_public_half_its_peers_pin(world, account):
    from chalicelib.policy.loader import load

    kms = _client(world, account, "kms")
    meta = kms.describe_key(KeyId="alias/switchboard-signing")["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    der = kms.get_public_key(KeyId="alias/switchboard-signing")["PublicKey"]
    from chalicelib.peering.envelope import pem_from_der

    pem = pem_from_der(der)
    pinned = [p.public_key for name in ("prod", "stage", "shared-services")
              for p in load(ROOT / "chalicelib" / "policies" / f"{name}.yaml").peers.values() if p.id == account]
    assert pinned and all(key == pem for key in pinned)


@pytest.mark.parametrize("account", list(WORLD))
def test_peer_link_rules_target_the_peer_bus_through_their_role(world, account):
    events = _client(world, account, "events")
    iam = _client(world, account, "iam")
    rules = {r["Name"]: r for r in events.list_rules(NamePrefix="switchboard-to-")["Rules"]}
    assert set(rules) == {peer_link_stack_name(peer) for peer, _ in WORLD[account][2]}
    for peer, region in WORLD[account][2]:
        rule = rules[f"switchboard-to-{peer}"]
        assert json.loads(rule["EventPattern"]) == {"source": ["switchboard"], "detail": {"to_account": [peer]}}
        assert rule["State"] == "ENABLED"
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        peer_bus = f"arn:aws:events:{region}:{peer}:event-bus/default"
        assert target["Arn"] == peer_bus
        role = iam.get_role(RoleName=target["RoleArn"].rsplit("/", 1)[-1])["Role"]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "events.amazonaws.com"}
        assert trust["Condition"]["StringEquals"]["aws:SourceArn"] == rule["Arn"]
        (policy_name,) = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
        doc = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=policy_name)["PolicyDocument"]
        assert doc["Statement"] == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": peer_bus}]


def test_peer_link_carries_a_real_peer_event_to_the_peer_and_nothing_else(world):
    """Through moto's own rule matching and cross-account delivery: SHARED sends, PROD's bus receives."""
    from chalicelib.intake.events import PeerEvent
    from tests.events import peer

    sqs = _client(world, PROD, "sqs")
    inbox = sqs.create_queue(QueueName="test-infra-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    prod_events = _client(world, PROD, "events")
    prod_events.put_rule(Name="test-infra-inbox", EventPattern=json.dumps({"account": [{"exists": True}]}))
    prod_events.put_targets(Rule="test-infra-inbox", Targets=[{"Id": "inbox", "Arn": inbox_arn}])
    try:
        sent = []
        for to_account, source in ((PROD, "switchboard"), (STAGE, "switchboard"), (PROD, "not-switchboard")):
            event = peer("reply", account=SHARED, from_account="shared-services", to_account=to_account)
            PeerEvent.model_validate(event)
            sent.append({"Source": source, "DetailType": event["detail-type"],
                         "Detail": json.dumps(event["detail"]), "EventBusName": "default"})
        result = _client(world, SHARED, "events").put_events(Entries=sent)
        assert result["FailedEntryCount"] == 0
        received = [json.loads(m["Body"]) for m in
                    sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]]
        assert [(e["source"], e["detail"]) for e in received] == [("switchboard", json.loads(sent[0]["Detail"]))]
    finally:
        prod_events.remove_targets(Rule="test-infra-inbox", Ids=["inbox"])
        prod_events.delete_rule(Name="test-infra-inbox")
        sqs.delete_queue(QueueUrl=inbox)


def test_report_lists_every_gap_filled(world):
    gaps = world["reports"][SHARED].gaps
    by_kind = {(g.logical_id, g.kind): g.filled_by for g in gaps}
    for table in ("AuditTable", "LedgerTable", "StateTable"):
        assert by_kind[(f"{table}.TimeToLiveSpecification", "property")] == "dynamodb:UpdateTimeToLive"
        assert by_kind[(f"{table}.PointInTimeRecoverySpecification", "property")] == \
            "dynamodb:UpdateContinuousBackups"
    assert by_kind[("SlackSecret", "resource")] == "secretsmanager:CreateSecret"
    assert by_kind[("PeerPutEvents", "resource")] == "events:PutPermission (Policy)"
    assert by_kind[("DeadLetterQueuePolicy", "resource")] == "sqs:SetQueueAttributes (Policy)"
    assert {g.resource_type for g in gaps if g.kind == "resource"} == EMULATED_TYPES
    assert all(line.count(" -> ") == 1 for line in world["reports"][SHARED].lines())
    # no peers, no bus policy: nothing to fill for it
    assert "PeerPutEvents" not in {g.logical_id for g in world["reports"][STAGE].gaps}


def test_provisioning_again_keeps_what_is_there(world):
    session = world["sessions"][SHARED]
    secrets = _client(world, SHARED, "secretsmanager")
    secrets.put_secret_value(SecretId="switchboard/slack", SecretString='{"signing_secret": "s", "bot_token": "t"}')
    name, peers, links = WORLD[SHARED]
    again = provision_account(session, account_name=name, peer_account_ids=peers, peer_links=links,
                              slack_front_door=True)
    assert again.stacks == world["reports"][SHARED].stacks
    assert again.outputs == world["reports"][SHARED].outputs
    assert json.loads(secrets.get_secret_value(SecretId="switchboard/slack")["SecretString"])["bot_token"] == "t"
    statements = json.loads(_client(world, SHARED, "events").describe_event_bus(Name="default")["Policy"])[
        "Statement"]
    assert sorted(s["Sid"] for s in statements) == ["switchboard-peers", "switchboard-source-is-switchboard-only"]
    (statement,) = [s for s in statements if s["Sid"] == "switchboard-peers"]
    assert sorted(statement["Principal"]["AWS"]) == sorted(peers)
