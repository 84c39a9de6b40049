"""The envelope as plain data: canonical bytes, seal, open. Pure: no clock, no AWS (both are passed in).

What is signed is the canonical JSON (sorted keys, no spaces, UTF-8) of

    {"v": 1, "id", "sender" (account id), "from_account" (its name), "recipient" (account id), "flow",
     "issued_at", "expires_at", "payload"}

KMS is given the SHA-256 digest of those bytes as a RAW message with ``ECDSA_SHA_256`` (a payload may be
larger than KMS's 4 KiB message limit, and RAW behaves the same in KMS and in the local world). The signature
is therefore ECDSA-P256 over SHA-256(digest), which ``open_envelope`` checks with the pinned public key.

    detail = {"to_account": "<recipient id>", "from_account": "<sender name>", "flow": "...", "payload": {...},
              "envelope": {"v": 1, "id": "...", "sender": "<sender id>", "issued_at": "...Z",
                           "expires_at": "...Z", "alg": "ECDSA_SHA_256", "key": "<key arn>", "sig": "<b64>"}}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from chalicelib.peering.exceptions import Refused

VERSION = 1
ALGORITHM = "ECDSA_SHA_256"
# EventBridge retries delivery to a target for up to 24 hours; an envelope must outlive that.
LIFETIME = timedelta(hours=24)
# Clocks of two accounts' Lambdas disagree a little; more than this is refused.
SKEW = timedelta(minutes=5)
TIME = "%Y-%m-%dT%H:%M:%SZ"

# (digest) -> (signature, key id)
Signer = Callable[[bytes], tuple[bytes, str]]


def canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _signed_fields(*, envelope_id: str, sender: str, from_account: str, recipient: str, flow: str,
                   issued_at: str, expires_at: str, payload: Any) -> dict[str, Any]:
    return {"v": VERSION, "id": envelope_id, "sender": sender, "from_account": from_account, "recipient": recipient,
            "flow": flow, "issued_at": issued_at, "expires_at": expires_at, "payload": payload}


def digest(fields: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical(fields)).digest()


def seal(*, sender: str, from_account: str, recipient: str, flow: str, payload: dict[str, Any], now: datetime,
         sign: Signer, envelope_id: str | None = None, lifetime: timedelta = LIFETIME) -> dict[str, Any]:
    """The event ``detail`` for a peer: the payload and its signed envelope."""
    issued, expires = now.astimezone(UTC), now.astimezone(UTC) + lifetime
    envelope_id = envelope_id or uuid.uuid4().hex
    fields = _signed_fields(envelope_id=envelope_id, sender=sender, from_account=from_account, recipient=recipient,
                            flow=flow, issued_at=issued.strftime(TIME), expires_at=expires.strftime(TIME),
                            payload=payload)
    signature, key = sign(digest(fields))
    return {"to_account": recipient, "from_account": from_account, "flow": flow, "payload": payload,
            "envelope": {"v": VERSION, "id": envelope_id, "sender": sender, "issued_at": fields["issued_at"],
                         "expires_at": fields["expires_at"], "alg": ALGORITHM, "key": key,
                         "sig": base64.b64encode(signature).decode()}}


@dataclass(frozen=True)
class Opened:
    """What a verified envelope proves: who sent it, to whom, which flow, when, until when."""

    id: str
    sender: str
    from_account: str
    recipient: str
    flow: str
    issued_at: datetime
    expires_at: datetime


def open_envelope(detail: Mapping[str, Any], *, event_account: str, own_id: str, public_key_pem: str | None,
                  now: datetime) -> Opened:
    """Check a peer event's envelope; raise Refused with the reason, or return what it proves.

    ``event_account`` is the account EventBridge says put the event (AWS stamps it; it must be the signer's);
    ``public_key_pem`` is the sender's key pinned in this account's policy (None: nothing pinned)."""
    env = detail.get("envelope")
    if not isinstance(env, Mapping):
        raise Refused("unsigned: the event carries no envelope")
    if env.get("v") != VERSION:
        raise Refused(f"unknown envelope version {env.get('v')!r}")
    if env.get("alg") != ALGORITHM:
        raise Refused(f"unsupported signature algorithm {env.get('alg')!r}")
    for key in ("id", "sender", "issued_at", "expires_at", "sig"):
        if not isinstance(env.get(key), str) or not env.get(key):
            raise Refused(f"malformed envelope: '{key}' is missing")
    sender, recipient = env["sender"], detail.get("to_account")
    if recipient != own_id:
        raise Refused(f"misaddressed: the envelope is for account {recipient}, not {own_id}")
    if sender != event_account:
        raise Refused(f"the envelope names sender {sender} but account {event_account} put the event")
    if public_key_pem is None:
        raise Refused(f"no public key is pinned in this policy for account {sender}")
    try:
        issued = datetime.strptime(env["issued_at"], TIME).replace(tzinfo=UTC)
        expires = datetime.strptime(env["expires_at"], TIME).replace(tzinfo=UTC)
        signature = base64.b64decode(env["sig"], validate=True)
    except (ValueError, binascii.Error):
        raise Refused("malformed envelope: a time or the signature does not parse") from None
    fields = _signed_fields(envelope_id=env["id"], sender=sender, from_account=str(detail.get("from_account")),
                            recipient=str(recipient), flow=str(detail.get("flow")), issued_at=env["issued_at"],
                            expires_at=env["expires_at"], payload=detail.get("payload"))
    if not verify_signature(public_key_pem, signature, digest(fields)):
        raise Refused(f"bad signature: not signed by the key pinned for account {sender}")
    # Times are checked only once the signature holds: they are the sender's own claims.
    if issued > now + SKEW:
        raise Refused(f"issued in the future ({env['issued_at']})")
    if expires < now - SKEW:
        raise Refused(f"expired at {env['expires_at']}")
    if expires - issued > LIFETIME + SKEW:
        raise Refused(f"lives longer than {LIFETIME} ({env['issued_at']} to {env['expires_at']})")
    return Opened(id=env["id"], sender=sender, from_account=str(detail.get("from_account")),
                  recipient=str(recipient), flow=str(detail.get("flow")), issued_at=issued, expires_at=expires)


def verify_signature(public_key_pem: str, signature: bytes, message_digest: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = load_public_key(public_key_pem)
    try:
        key.verify(signature, message_digest, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@lru_cache(maxsize=64)
def load_public_key(pem: str) -> Any:
    """Parse a pinned key once per container (keyed by its text: no clock involved). ECC P-256 only."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise Refused(f"the pinned public key does not parse: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise Refused("the pinned public key is not an ECC NIST P-256 key")
    return key


def pem_from_der(der: bytes) -> str:
    """A public key as KMS's GetPublicKey returns it (DER SubjectPublicKeyInfo), as policy pins it (PEM)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

    return load_der_public_key(der).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def check_public_key(pem: str) -> str | None:
    """For policy validation: None when ``pem`` is a usable pinned key, else what is wrong."""
    try:
        load_public_key(pem)
    except Refused as exc:
        return exc.reason
    return None
