"""Recovery and due-index rebuild with many closed cases past their retention:
`python bench/bench_escalation_retention.py [--closed N] [--open M]` (default 1,000,000 closed
and 100,000 open cases).

One worker on a broker of the benchmark's own. The changelogs are loaded with `--open` open
cases and `--closed` cases closed 31 days ago (past the 30-day retention), as the worker would
have stored them. Then:

1. start on an empty disk: recovery of every record and the index rebuild (closed + open);
2. the purge: every expired case is deleted on its tick (seconds until all are forgotten);
3. restart with the disk kept: the index rebuild now reads the live cases only;
4. restart on an empty disk: recovery reads the open cases plus the tombstones the broker has
   not compacted yet.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_escalation import snapshot  # noqa: E402


def main() -> int:
    run_dir = (
        ROOT
        / "var"
        / "bench"
        / f"retention-{time.strftime('%H%M%S')}-{random.randrange(1 << 16):04x}"
    )
    snapshot(run_dir / "src")
    try:
        from bench.escalation_retention_run import run

        parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
        parser.add_argument("--closed", type=int, default=1_000_000)
        parser.add_argument("--open", type=int, default=100_000)
        args = parser.parse_args()
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        return asyncio.run(run(run_dir, args.closed, args.open))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        os.environ.pop("CASEGOLD_KAFKA_BOOTSTRAP", None)


if __name__ == "__main__":
    sys.exit(main())
