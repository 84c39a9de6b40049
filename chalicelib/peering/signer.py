"""This account's signature: ``kms:Sign`` with its Switchboard signing key (never leaves KMS)."""

from __future__ import annotations

from chalicelib import aws
from chalicelib.peering.envelope import ALGORITHM, pem_from_der
from chalicelib.peering.exceptions import SendFailed
from chalicelib.settings import get_settings


def sign(message_digest: bytes) -> tuple[bytes, str]:
    """Sign a SHA-256 digest (as a RAW message: see envelope.py). Returns (signature, key ARN)."""
    key_id = get_settings().signing_key
    try:
        answer = aws.client("kms").sign(KeyId=key_id, Message=message_digest, MessageType="RAW",
                                        SigningAlgorithm=ALGORITHM)
    except Exception as exc:  # noqa: BLE001 - botocore's errors: one clear reason
        raise SendFailed(f"could not sign with {key_id}: {type(exc).__name__}: {exc}") from exc
    return answer["Signature"], answer["KeyId"]


def public_key_pem(key_id: str | None = None) -> str:
    """The PEM of this account's signing public key (what peers pin in their policy)."""
    answer = aws.client("kms").get_public_key(KeyId=key_id or get_settings().signing_key)
    return pem_from_der(answer["PublicKey"])
