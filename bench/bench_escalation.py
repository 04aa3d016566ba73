"""Benchmark of the escalation worker: `python bench/bench_escalation.py [--cases N]`.

Loads 1,000,000 open cases into one worker, then measures events/s per worker (against a bare
aiokafka consumer), fire lag with 100 steps/s coming due and 200 events/s flowing, and a kill -9
and restart (back to firing, RSS). What each phase does: bench/escalation_run.py.

The casegold packages are copied into the run's folder before anything is imported, and the
worker processes import that copy (PYTHONPATH): a run of a quarter of an hour then measures one
version of the worker even while the working tree is being edited.
"""

import importlib
import os
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "casegold_contracts": "libs/contracts/src",
    "casegold_sla": "libs/sla/src",
    "casegold_platform": "libs/platform/src",
    "casegold_escalation": "services/escalation/src",
}


def snapshot(target: Path) -> None:
    """Copy the packages the worker runs to target and put target first on every import path."""
    for name, source in PACKAGES.items():
        shutil.copytree(
            ROOT / source / name, target / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(target), *([previous] if previous else [])])
    sys.path.insert(0, str(target))
    sys.path.insert(1, str(ROOT))  # bench.* and tests.support.*


def run_snapshotted(prefix: str, module: str) -> int:
    """Copy the packages into a fresh run folder, then run `module`'s main(run_dir) on them."""
    name = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{random.randrange(1 << 16):04x}"
    run_dir = ROOT / "var" / "bench" / name
    snapshot(run_dir / "src")
    try:
        run = importlib.import_module(module).main
        return int(run(run_dir))
    finally:
        if "--keep" not in sys.argv:
            shutil.rmtree(run_dir, ignore_errors=True)


def main() -> int:
    return run_snapshotted("escalation", "bench.escalation_run")


if __name__ == "__main__":
    sys.exit(main())
