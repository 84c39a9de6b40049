"""The rotation section of the policy: what it accepts, what it refuses (with the YAML path and line), and what
applies to one secret (its entry, else the defaults; its kind from policy or tag)."""

from __future__ import annotations

import textwrap

import pytest

from chalicelib.policy.loader import PolicyError, parse
from chalicelib.rotation.policy import RotationSection, SecretKind, Tls

BASE = """\
version: 1
account: {name: prod, id: "333344445555", environment: prod}
peers:
  stage: {id: "222233334444", environment: stage, receive: [release-candidate]}
"""


def load(rotation: str):
    return parse(BASE + textwrap.dedent(rotation))


def problems(rotation: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load(rotation)
    return [str(p) for p in caught.value.problems]


def test_a_full_section_loads():
    policy = load("""\
        rotation:
          enabled: true
          channel: "#platform"
          approval: [prod, stage]
          pending_stuck_after: 2h
          defaults: {max_age_days: 60, kms_customer_key_required: true}
          secrets:
            web/db-password: {kind: postgres-alternating, max_age_days: 30, probe: "SELECT 1", tls: require}
            web/api-key: {kind: api-key, webhook_secret: web/api-key-consumer, channel: "#team-web"}
            ci/deployer-key: {kind: iam-access-key}
            legacy/thing: {rotation_required: false}
          groups:
            app-db: {secrets: [web/db-password, api/db-password], spacing: 30m}
        """)
    section = policy.rotation
    assert section.secrets["web/db-password"].tls is Tls.REQUIRE
    assert section.group_of("api/db-password")[0] == "app-db" and section.group_of("web/api-key") is None
    assert section.channel_for("web/api-key", policy) == "#team-web"
    assert section.channel_for("anything", policy) == "#platform"


def test_postgres_connections_verify_the_server_by_default_and_probes_may_be_a_list():
    entry = load("""\
        rotation:
          secrets:
            db: {kind: postgres-alternating, probe: ["SELECT 1", "SELECT 2"], probe_objects: [orders, app.items]}
            one: {kind: postgres-single, probe: "SELECT 1"}
        """).rotation.secrets
    assert entry["db"].tls is Tls.VERIFY_FULL and entry["db"].ca_file is None
    assert entry["db"].probes == ("SELECT 1", "SELECT 2") and entry["one"].probes == ("SELECT 1",)
    assert entry["db"].probe_objects == ("orders", "app.items")


def write(tmp_path, rotation: str):
    path = tmp_path / "policy.yaml"
    path.write_text(BASE + textwrap.dedent(rotation))
    return path


def test_validate_warns_about_single_user_and_unverified_tls_in_prod(tmp_path, capsys):
    from chalicelib.policy.loader import validate_file, warnings_of
    from localworld.cli import main

    path = write(tmp_path, """\
        rotation:
          secrets:
            api/db-password: {kind: postgres-single}
            web/db-password: {kind: postgres-alternating, tls: require}
            ok/db-password: {kind: postgres-alternating}
        """)
    assert validate_file(path) == []
    assert [str(w) for w in warnings_of(path)] == [
        "rotation.secrets.api/db-password: postgres-single in prod: the application cannot log in with AWSCURRENT "
        "between setSecret and finishSecret (one password per user); use postgres-alternating (line 7)",
        "rotation.secrets.web/db-password: tls: require in prod: the server's certificate is not verified (line 8)"]
    assert main(["policy", "validate", str(path)]) == 0  # a warning, not an error
    out, err = capsys.readouterr()
    assert f"{path}: ok" in out and "2 warning(s)" in err and "warning: rotation.secrets.api/db-password" in err


def test_no_warning_outside_the_environments_rotation_treats_as_production(tmp_path):
    from chalicelib.policy.loader import warnings_of

    stage = write(tmp_path, """\
        rotation:
          approval: [stage]
          secrets:
            api/db-password: {kind: postgres-single}
        """)
    assert warnings_of(stage) == []


def test_the_shipped_policies_have_no_warnings():
    from chalicelib.policy.loader import warnings_of
    from chalicelib.settings import PACKAGE_DIR

    for path in sorted((PACKAGE_DIR / "policies").glob("*.yaml")):
        assert warnings_of(path) == [], path


def test_the_default_section_is_off_and_valid():
    section = load("").rotation
    assert section.enabled is False and section.approval == ("prod",)
    assert section.kind_tag == "switchboard:rotation-kind"


@pytest.mark.parametrize(("rotation", "expected"), [
    ("rotation: {approval: [qa]}", "rotation.approval[0]: unknown environment 'qa' (line 5)"),
    ("rotation: {enabled: true}", "rotation: no channel for findings and rotation outcomes: set 'channel' "
                                  "(slack.audit_channel is unset) (line 5)"),
    ("""\
     rotation:
       secrets:
         db: {kind: postgres-single, webhook_secret: hook}
     """, "rotation.secrets.db: 'webhook_secret' is for api-key secrets, not postgres-single (line 7)"),
    ("""\
     rotation:
       secrets:
         db: {kind: postgres-single, admin_secret: root}
     """, "rotation.secrets.db: 'admin_secret' is for postgres-alternating (a single user changes its own "
          "password) (line 7)"),
    ("""\
     rotation:
       secrets:
         key: {kind: api-key, probe: "SELECT 1"}
     """, "rotation.secrets.key: 'probe' is for postgres secrets, not api-key (line 7)"),
    ("""\
     rotation:
       secrets:
         key: {kind: iam-access-key, length: 40}
     """, "rotation.secrets.key: an IAM access key has no 'length': IAM makes the key (line 7)"),
    ("""\
     rotation:
       secrets:
         db: {kind: postgres-alternating, admin_secret: db}
     """, "rotation.secrets.db: 'admin_secret' names the secret itself: name the secret of a role that manages "
          "roles (line 7)"),
    ("""\
     rotation:
       secrets:
         db: {kind: postgres-single, owner_role: app_owner}
     """, "rotation.secrets.db: 'owner_role' is for postgres-alternating (a single user changes its own "
          "password) (line 7)"),
    ("""\
     rotation:
       secrets:
         db: {kind: postgres-single, ca_file: certs/nowhere.pem}
     """, "rotation.secrets.db: ca_file certs/nowhere.pem is not a file in the package (line 7)"),
    ("""\
     rotation:
       secrets:
         db: {kind: postgres-single, tls: require, ca_file: rotation/kinds/certs/rds-global-bundle.pem}
     """, "rotation.secrets.db: 'ca_file' is only used with tls: verify-full, not require (line 7)"),
    ("""\
     rotation:
       secrets:
         key: {kind: api-key, tls: disable}
     """, "rotation.secrets.key: 'tls' is for postgres secrets, not api-key (line 7)"),
    ("""\
     rotation:
       groups:
         a: {secrets: [x, y]}
         b: {secrets: [y, z]}
     """, "rotation.groups.b: 'y' is already in group 'a' (line 8)"),
    ("""\
     rotation:
       groups:
         a: {secrets: [x, x]}
     """, "rotation.groups.a: a group lists a secret twice (line 7)"),
])
def test_cross_reference_problems(rotation, expected):
    assert expected in problems(rotation)


@pytest.mark.parametrize(("rotation", "fragment"), [
    ("rotation: {secrets: {x: {kind: ldap}}}", "rotation.secrets.x.kind"),
    ("rotation: {groups: {a: {secrets: [x]}}}", "rotation.groups.a.secrets"),
    ("rotation: {groups: {a: {secrets: [x, y], spacing: soon}}}", "rotation.groups.a.spacing"),
    ("rotation: {secrets: {x: {max_age_days: 0}}}", "rotation.secrets.x.max_age_days"),
    ("rotation: {secrets: {x: {kind: api-key, length: 8}}}", "rotation.secrets.x.length"),
    ("rotation: {secrets: {x: {tls: prefer}}}", "rotation.secrets.x.tls"),  # libpq's, but it may fall back
    ("rotation: {secrets: {x: {probe: ['']}}}", "rotation.secrets.x.probe"),
    ("rotation: {pending_stuck_after: 6}", "rotation.pending_stuck_after"),
    ("rotation: {secret: {}}", "rotation.secret"),  # a typo is an error
])
def test_schema_problems(rotation, fragment):
    assert any(p.startswith(fragment) for p in problems(rotation))


# ---- what applies to one secret ----

SECTION = RotationSection.model_validate({
    "defaults": {"max_age_days": 90, "rotation_required": False, "kms_customer_key_required": True},
    "secrets": {"web/db": {"kind": "postgres-single", "max_age_days": 30},
                "web/tagged": {"max_age_days": 10},
                "web/loose": {"rotation_required": False, "kms_customer_key_required": False}},
})
TAG = "switchboard:rotation-kind"


@pytest.mark.parametrize(("name", "tags", "kind", "problem", "listed", "required", "max_age", "kms"), [
    ("web/db", {}, SecretKind.POSTGRES_SINGLE, None, True, True, 30, True),
    ("web/db", {TAG: "postgres-single"}, SecretKind.POSTGRES_SINGLE, None, True, True, 30, True),
    ("web/db", {TAG: "api-key"}, None, "policy says postgres-single but tag switchboard:rotation-kind says api-key",
     True, True, 30, True),
    ("web/tagged", {TAG: "iam-access-key"}, SecretKind.IAM_ACCESS_KEY, None, True, True, 10, True),
    ("web/tagged", {}, None, None, True, True, 10, True),
    ("web/loose", {}, None, None, True, False, 90, False),
    ("misc/x", {TAG: "api-key"}, SecretKind.API_KEY, None, True, True, 90, True),
    ("misc/x", {TAG: "ldap"}, None, "tag switchboard:rotation-kind='ldap' is not a kind (api-key, postgres-single, "
     "postgres-alternating, iam-access-key)", True, True, 90, True),
    ("misc/x", {}, None, None, False, False, 90, True),
])
def test_effective(name, tags, kind, problem, listed, required, max_age, kms):
    found = SECTION.effective(name, tags)
    assert (found.kind, found.problem, found.listed, found.rotation_required, found.max_age_days,
            found.kms_customer_key_required) == (kind, problem, listed, required, max_age, kms)


def test_defaults_can_require_every_secret_to_rotate():
    section = RotationSection.model_validate({"defaults": {"rotation_required": True}})
    assert section.effective("anything", {}).rotation_required is True


# ---- the IAM statements rotation adds to the account's role ----

def test_permissions_follow_the_policy():
    from chalicelib.rotation import permissions

    assert permissions.statements(load(""), "prod") == []
    policy = load("""\
        rotation:
          enabled: true
          channel: "#platform"
          secrets:
            web/db-password: {kind: postgres-alternating, admin_secret: db/admin}
            web/api-key: {kind: api-key, webhook_secret: web/hook}
            ci/key: {kind: iam-access-key}
        """)
    found = {s["Sid"]: s for s in permissions.statements(policy, "prod")}
    assert set(found) == {"RotationList", "RotationRandom", "RotationMetadata", "RotationKeyMetadata",
                          "RotationValuesTagged", "RotationValuesListed", "RotationClearPendingTagged",
                          "RotationClearPendingListed", "RotationStartTagged", "RotationStartListed",
                          "RotationFunction", "RotationSecretKeys", "RotationSecretDecrypt", "RotationHelperSecrets",
                          "RotationIamAccessKeys", "RotationIamAccessKeysCheck"}
    prefix = "arn:aws:secretsmanager:eu-west-1:333344445555:secret"
    assert found["RotationValuesListed"]["Resource"] == [f"{prefix}:ci/key-??????", f"{prefix}:web/api-key-??????",
                                                         f"{prefix}:web/db-password-??????"]
    assert found["RotationHelperSecrets"] == {"Sid": "RotationHelperSecrets", "Effect": "Allow",
                                              "Action": ["secretsmanager:GetSecretValue"],
                                              "Resource": [f"{prefix}:db/admin-??????", f"{prefix}:web/hook-??????"]}
    # a tagged secret only with a kind as the tag's value, not merely the tag
    assert found["RotationValuesTagged"]["Condition"] == {"StringEquals": {
        "secretsmanager:ResourceTag/switchboard:rotation-kind": ["api-key", "iam-access-key", "postgres-alternating",
                                                                 "postgres-single"]}}
    assert found["RotationIamAccessKeys"]["Condition"] == {
        "StringEquals": {"iam:ResourceTag/switchboard:rotation": "enabled"}}
    assert found["RotationSecretKeys"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}
    assert found["RotationFunction"]["Resource"][0] == (
        "arn:aws:lambda:eu-west-1:333344445555:function:switchboard-prod-rotate_secret")
    for statement in found.values():
        assert statement["Effect"] == "Allow" and "*" not in statement["Action"]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:  # this account's resources only; "*" only where AWS offers no resource
            if resource == "*":
                assert statement["Sid"] in ("RotationList", "RotationRandom")
            else:
                assert resource.split(":")[4] == "333344445555", resource
    # each entry point gets its share: only the rotation function writes values or mints keys
    needs = {entry: {s if isinstance(s, str) else s["Sid"] for s in got}
             for entry, got in permissions.needs(policy, "prod").items()}
    writers = {e for e, sids in needs.items() if {"RotationValuesTagged", "RotationIamAccessKeys"} & sids}
    assert writers == {"rotate_secret"}
    assert {e for e, sids in needs.items() if "RotationStartTagged" in sids} == {"command", "approval-result"}
    assert needs["rotation_watch"] == {"RotationList", "RotationMetadata", "RotationKeyMetadata", "group:announce"}


def test_no_iam_permissions_without_an_iam_secret():
    from chalicelib.rotation import permissions

    policy = load('rotation: {enabled: true, channel: "#platform", secrets: {k: {kind: api-key}}}')
    assert "RotationIamAccessKeys" not in {s["Sid"] for s in permissions.statements(policy, "prod")}
    assert "RotationHelperSecrets" not in {s["Sid"] for s in permissions.statements(policy, "prod")}
