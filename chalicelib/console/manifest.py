"""The console, declared (see chalicelib/manifest.py): the front door's read model of every account's feed."""

from __future__ import annotations

from chalicelib.manifest import Manifest
from chalicelib.policy.schema import Flow

MANIFEST = Manifest(
    name="console",
    summary="a read-only web view of the whole estate, fed by every account (small versioned records)",
    flows=(Flow.FEED,),
    handlers="chalicelib.console.handlers",
    permissions="chalicelib.console.permissions",
)
