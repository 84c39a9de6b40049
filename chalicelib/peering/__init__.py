"""Authenticated envelopes between Switchboard instances.

Every event one Switchboard puts on a peer's bus is an envelope: sender account, recipient account, flow, a
unique id, an issue time and an expiry, and the payload, signed by the sender with the asymmetric KMS key of
its own account (``alias/switchboard-signing``, ECC_NIST_P256). The recipient verifies the signature locally,
against the sender's public key pinned in its own policy (``peers.<name>.public_key``), so no cross-account
call and no cross-account role is needed, and refuses an envelope that is unsigned, signed by another key,
misaddressed, expired, issued in the future or replayed.

- ``envelope.py``: pure: the canonical bytes, sealing (given a signer) and opening (given the pinned keys).
- ``signer.py``: the KMS adapter (``kms:Sign`` on this account's key).
- ``replay.py``: the replay ledger (one conditional put per envelope id in ``switchboard-state``).
- ``send.py``: seal and put on this account's default bus (the peer-link rule carries it over).
- ``verify.py``: what the intake calls for every peer event: check, then remember the id.
"""
