"""The emulated accounts' signing keys: fixed, so the shipped policies can pin their public keys.

On AWS, `infra/account.yaml` creates each account's `alias/switchboard-signing` key (ECC_NIST_P256,
SIGN_VERIFY) and KMS generates its private half, which never leaves KMS; the platform team pins the public
half in every peer's policy (`switchboard keys public`). moto generates a new random key at every start and
cannot import asymmetric key material, so the example policies could pin nothing that stays true. The local
world therefore gives each emulated account's key a fixed private half, derived from the account id, inside
moto's own KMS backend (this process runs moto's server): the demo and the tests sign through `kms:Sign`
exactly as on AWS, and the shipped policies pin the matching public keys.

These are demo keys, known to anyone who reads this file: a real deployment never uses them (the accounts
they belong to, 111122223333 and friends, are not real), and `switchboard policy validate` cannot tell them
apart from real ones, so README's step "exchange public keys" replaces them.
"""

from __future__ import annotations

import hashlib
from typing import Any

ALIAS = "alias/switchboard-signing"
# the order of the P-256 group
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def demo_private_key(account_id: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    seed = int.from_bytes(hashlib.sha256(f"switchboard-local-world-demo-key:{account_id}".encode()).digest(), "big")
    return ec.derive_private_key(seed % (_N - 1) + 1, ec.SECP256R1())


def demo_public_pem(account_id: str) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return demo_private_key(account_id).public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def install(account_id: str, region: str, key_id: str, *, for_account: str | None = None) -> None:
    """Give moto's key ``key_id`` (in moto account ``account_id``) the demo private half of ``for_account``
    (default: the same account). Tests, which run every emulated account in moto's default account, use
    ``for_account`` to hold each account's key there."""
    from moto.kms.models import kms_backends

    key = kms_backends[account_id][region].describe_key(key_id)
    if key.key_spec != "ECC_NIST_P256":
        raise ValueError(f"{key_id} is {key.key_spec}, not an ECC_NIST_P256 signing key")
    key.private_key.private_key = demo_private_key(for_account or account_id)


def create(client: Any, account_id: str, region: str, *, alias: str = ALIAS, for_account: str | None = None) -> str:
    """Create a signing key the way infra/account.yaml does, under ``alias``, with the demo private half."""
    key_id = client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY",
                               Description="Switchboard peer envelopes")["KeyMetadata"]["KeyId"]
    client.create_alias(AliasName=alias, TargetKeyId=key_id)
    install(account_id, region, key_id, for_account=for_account)
    return key_id


if __name__ == "__main__":  # print the demo keys for the example policies
    for acct in ("111122223333", "222233334444", "333344445555"):
        print(acct)
        print(demo_public_pem(acct))
