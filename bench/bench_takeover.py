"""Warm-takeover benchmark of the escalation worker: `python bench/bench_takeover.py [--cases N]`.

Two workers with standby replicas (`--standby 1`, the default; `--standby 0` for the cold
comparison) share 100,000 open cases and a due stream; kill -9 of one, then: seconds until the
other fires a step of a taken-over partition, and the changelog records it read to take them.
What each phase does: bench/takeover_run.py.

Like bench_escalation.py, the casegold packages are copied into the run's folder first and the
workers import that copy, so edits to the working tree during a run do not mix two versions.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.* when run as a script
from bench.bench_escalation import run_snapshotted  # imports nothing of casegold

if __name__ == "__main__":
    sys.exit(run_snapshotted("takeover", "bench.takeover_run"))
