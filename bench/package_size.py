"""Deployment package size: every stage packaged as `make package` does, its zip measured against the goal.

Each stage is built with ``python -m infra.package STAGE`` in a process whose environment has no AWS
configuration at all (no region, profile, credentials or config file: the region is the policy's), then its
``build/STAGE/deployment.zip`` is measured: the whole zip, and what botocore's service models take in it.

Usage:
    python bench/package_size.py [STAGE ...] [--enforce]

Exits 0 whatever the sizes, unless ``--enforce`` is given: then 1 if a stage's zip is above the goal.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MB = 15.0
NO_AWS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
          "AWS_SHARED_CREDENTIALS_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
          "AWS_ENDPOINT_URL")


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from infra.package import BOTOCORE_DATA, services_used, stages

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("stages", nargs="*", metavar="STAGE", help="default: every stage")
    parser.add_argument("--enforce", action="store_true", help=f"exit 1 if a zip is above {GOAL_MB} MB")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k not in NO_AWS}
    missed = []
    print(f"botocore service models shipped ({len(services_used())}, derived from the code): "
          f"{', '.join(sorted(services_used()))}")
    for stage in args.stages or stages():
        subprocess.run([sys.executable, "-m", "infra.package", stage], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        path = ROOT / "build" / stage / "deployment.zip"
        size = path.stat().st_size / 1e6
        with zipfile.ZipFile(path) as zf:
            models = sum(i.compress_size for i in zf.infolist() if i.filename.startswith(BOTOCORE_DATA)) / 1e6
        ok = size <= GOAL_MB
        if not ok:
            missed.append(stage)
        print(f"{stage}: deployment.zip {size:.1f} MB (botocore models {models:.1f} MB), goal <= {GOAL_MB:.0f} MB "
              f"{'ok' if ok else 'MISSED'}; packaged with no AWS configuration in the environment")
    return 1 if args.enforce and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
