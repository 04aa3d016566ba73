"""A broker and a PostgreSQL server of a run's own, to stop, kill and pause without touching the
shared ones (tests/support's ScratchBroker and ScratchPostgres, outside pytest's fixtures)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.brokers import ScratchBroker, free_port
from tests.support.scratch_postgres import ScratchPostgres, _as_postgres, _bin


@contextlib.contextmanager
def scratch_broker(folder: Path, heap: str = "384m") -> Iterator[ScratchBroker]:
    """A started broker on free ports (deploy/kafka/kafka.sh), its data under `folder`."""
    port = free_port()
    env = dict(
        os.environ,
        CASEGOLD_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}",
        CASEGOLD_KAFKA_CONTROLLER_PORT=str(free_port()),
        CASEGOLD_VAR_DIR=str(folder),
        CASEGOLD_KAFKA_HEAP=heap,
    )
    broker = ScratchBroker(f"127.0.0.1:{port}", env)
    broker.start()
    try:
        yield broker
    finally:
        with contextlib.suppress(AssertionError):  # already stopped by a fault
            broker.stop()


@contextlib.contextmanager
def scratch_postgres() -> Iterator[ScratchPostgres]:
    """A started, initdb'd cluster on a free port, removed afterwards."""
    folder = tempfile.mkdtemp(prefix="casegold-rel-pg-")
    os.chmod(folder, 0o755)
    if os.getuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    done = subprocess.run(
        _as_postgres(_bin("initdb"), "-D", f"{folder}/data", "-U", "casegold", "-A", "trust"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    server = ScratchPostgres(folder, free_port())
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(AssertionError):
            server.stop("fast")
        shutil.rmtree(folder, ignore_errors=True)
