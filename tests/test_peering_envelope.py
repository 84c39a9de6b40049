"""The envelope between Switchboards, as plain data: what it proves and every way it is refused (table tests)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.peering import envelope
from chalicelib.peering.exceptions import Refused
from localworld.keys import demo_private_key, demo_public_pem

STAGE, PROD, SHARED = "222233334444", "333344445555", "111122223333"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def signer(account: str):
    key = demo_private_key(account)
    return lambda digest: (key.sign(digest, ec.ECDSA(hashes.SHA256())), f"key-of-{account}")


def sealed(sender: str = STAGE, signed_by: str | None = None, **overrides) -> dict:
    fields = {"sender": sender, "from_account": "stage", "recipient": PROD, "flow": "release-candidate",
              "payload": {"app": "web", "revision": "9f2c1e7"}, "now": NOW} | overrides
    return envelope.seal(**fields, sign=signer(signed_by or sender))


def opened(detail: dict, *, event_account: str = STAGE, own_id: str = PROD, pinned: str | None = STAGE,
           now: datetime = NOW) -> envelope.Opened:
    return envelope.open_envelope(detail, event_account=event_account, own_id=own_id,
                                  public_key_pem=demo_public_pem(pinned) if pinned else None, now=now)


def test_a_sealed_detail_opens_and_proves_sender_recipient_flow_and_times():
    detail = sealed()
    assert detail["payload"] == {"app": "web", "revision": "9f2c1e7"} and detail["to_account"] == PROD
    got = opened(detail)
    assert (got.sender, got.from_account, got.recipient, got.flow) == (STAGE, "stage", PROD, "release-candidate")
    assert got.issued_at == NOW and got.expires_at == NOW + envelope.LIFETIME
    assert len(got.id) == 32 and got.id == detail["envelope"]["id"]


def tamper(path: str, value):
    def apply(detail: dict) -> dict:
        node = detail
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
        return detail
    return apply


@pytest.mark.parametrize(("change", "kwargs", "reason"), [
    (lambda d: {k: v for k, v in d.items() if k != "envelope"}, {}, "unsigned: the event carries no envelope"),
    (tamper("envelope.v", 2), {}, "unknown envelope version 2"),
    (tamper("envelope.alg", "RSASSA_PSS_SHA_256"), {}, "unsupported signature algorithm"),
    (tamper("envelope.id", ""), {}, "malformed envelope: 'id' is missing"),
    (tamper("envelope.sig", "not base64!"), {}, "malformed envelope: a time or the signature does not parse"),
    (tamper("to_account", STAGE), {}, "misaddressed: the envelope is for account 222233334444"),
    (None, {"own_id": STAGE}, "misaddressed: the envelope is for account 333344445555, not 222233334444"),
    (None, {"event_account": SHARED}, "names sender 222233334444 but account 111122223333 put the event"),
    (None, {"pinned": None}, "no public key is pinned in this policy for account 222233334444"),
    (None, {"pinned": SHARED}, "bad signature: not signed by the key pinned for account 222233334444"),
    (tamper("payload.revision", "badc0de"), {}, "bad signature"),  # the payload is what was signed
    (tamper("flow", "command"), {}, "bad signature"),
    (tamper("from_account", "shared-services"), {}, "bad signature"),
    (tamper("envelope.expires_at", "2027-12-06T12:00:00Z"), {}, "bad signature"),  # times are signed too
    (None, {"now": NOW + envelope.LIFETIME + envelope.SKEW + timedelta(seconds=1)}, "expired at"),
    (None, {"now": NOW - envelope.SKEW - timedelta(seconds=1)}, "issued in the future"),
])
def test_every_way_an_envelope_is_refused(change, kwargs, reason):
    detail = sealed()
    if change is not None:
        detail = change(detail)
    with pytest.raises(Refused) as refused:
        opened(detail, **kwargs)
    assert reason in refused.value.reason


def test_a_key_pinned_for_another_sender_refuses_a_forgery_signed_with_the_forgers_own_key():
    forged = sealed(signed_by=SHARED)  # a principal with shared-services' key claims to be stage
    with pytest.raises(Refused, match="bad signature"):
        opened(forged)


def test_an_envelope_living_longer_than_the_lifetime_is_refused_even_when_signed():
    detail = sealed(lifetime=envelope.LIFETIME * 2)
    with pytest.raises(Refused, match="lives longer than"):
        opened(detail)


def test_clock_skew_within_bounds_is_accepted_both_ways():
    assert opened(sealed(), now=NOW - envelope.SKEW + timedelta(seconds=1)).sender == STAGE
    assert opened(sealed(), now=NOW + envelope.LIFETIME + envelope.SKEW - timedelta(seconds=1)).sender == STAGE


def test_canonical_bytes_ignore_key_order_and_keep_unicode():
    expected = '{"a":"é","b":1}'.encode()
    assert envelope.canonical({"b": 1, "a": "é"}) == envelope.canonical({"a": "é", "b": 1}) == expected


def test_a_pinned_key_must_be_an_ecc_p256_public_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    assert envelope.check_public_key(demo_public_pem(STAGE)) is None
    assert envelope.check_public_key(rsa_pem) == "the pinned public key is not an ECC NIST P-256 key"
    broken = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(b"x" * 60).decode() + "\n-----END PUBLIC KEY-----\n"
    assert envelope.check_public_key(broken).startswith("the pinned public key does not parse")


def test_kms_signs_what_the_pinned_key_verifies(aws, monkeypatch):
    """The adapter signs through kms:Sign (here moto's, holding the demo key the shipped policies pin)."""
    from chalicelib.peering import signer as kms_signer

    monkeypatch.setenv("SWITCHBOARD_SIGNING_KEY", "alias/switchboard-signing-stage")
    from chalicelib import settings

    settings.get_settings.cache_clear()
    detail = envelope.seal(sender=STAGE, from_account="stage", recipient=PROD, flow="release-candidate",
                           payload={"app": "web"}, now=NOW, sign=kms_signer.sign)
    assert detail["envelope"]["key"].startswith("arn:aws:kms:")
    assert opened(detail).sender == STAGE
    assert kms_signer.public_key_pem() == demo_public_pem(STAGE)


def test_a_policy_with_a_key_that_does_not_parse_fails_validation(tmp_path):
    from pathlib import Path

    from chalicelib.policy.loader import validate_file

    source = Path(__file__).resolve().parent.parent / "chalicelib" / "policies" / "prod.yaml"
    # one character of stage's key changed: no longer a point on the curve
    bad = source.read_text().replace("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqaU2ozW2EYZkk79gpldtogCvOrsP",
                                     "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqaU2ozW2EYZkk79gpldtogCvOrsQ")
    path = tmp_path / "prod.yaml"
    path.write_text(bad)
    problems = validate_file(str(path))
    wanted = "peers.stage: public_key: the pinned public key does not parse"
    assert any(str(p).startswith(wanted) for p in problems)


def test_switchboard_keys_public_prints_what_peers_pin(aws, capsys):
    """`switchboard keys public` with the account's credentials prints its signing key as a policy pins it."""
    import boto3

    from localworld import cli, keys

    keys.create(boto3.client("kms"), "123456789012", "eu-west-1", for_account=PROD)  # alias/switchboard-signing
    assert cli.main(["keys", "public", "--name", "prod"]) == 0
    out = capsys.readouterr().out
    assert "paste under `peers.prod`" in out and "public_key: |" in out
    pinned = "".join(line.strip() + "\n" for line in out.split("public_key: |\n", 1)[1].splitlines())
    assert pinned == demo_public_pem(PROD)


def test_switchboard_keys_public_refuses_a_key_that_does_not_sign(aws, capsys):
    import boto3

    from localworld import cli

    kms = boto3.client("kms")
    kms.create_alias(AliasName="alias/not-signing", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    assert cli.main(["keys", "public", "--key-id", "alias/not-signing"]) == 2
    assert "not an ECC_NIST_P256 signing key" in capsys.readouterr().err
