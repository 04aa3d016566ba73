"""A broker and a PostgreSQL server of a run's own, to stop, kill and pause without touching the
shared ones (tests/support's ScratchBroker and ScratchPostgres, outside pytest's fixtures)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from tests.support.brokers import ScratchBroker, free_port
from tests.support.scratch_postgres import ScratchPostgres, running_scratch_postgres


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
    with running_scratch_postgres("casegold-rel-pg-") as server:
        yield server
