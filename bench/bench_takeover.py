"""Warm-takeover benchmark of the escalation worker: `python bench/bench_takeover.py [--cases N]`.

Two workers with standby replicas (`--standby 1`, the default; `--standby 0` for the cold
comparison) share 100,000 open cases and a due stream; kill -9 of one, then: seconds until the
other fires a step of a taken-over partition, and the changelog records it read to take them.
What each phase does: bench/takeover_run.py.

Like bench_escalation.py, the casegold packages are copied into the run's folder first and the
workers import that copy, so edits to the working tree during a run do not mix two versions.
"""

import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.* when run as a script
from bench.bench_escalation import ROOT, snapshot  # imports nothing of casegold


def main() -> int:
    name = f"takeover-{time.strftime('%Y%m%d-%H%M%S')}-{random.randrange(1 << 16):04x}"
    run_dir = ROOT / "var" / "bench" / name
    snapshot(run_dir / "src")
    try:
        from bench.takeover_run import main as run

        return run(run_dir)
    finally:
        if "--keep" not in sys.argv:
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
