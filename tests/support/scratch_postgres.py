"""A PostgreSQL server of a test's own, to stop and restart without touching the shared one."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.brokers import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.skip("no PostgreSQL server binaries installed")
    return found[-1]


def _as_postgres(*command: str) -> list[str]:
    # initdb and the server refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else list(command)


@dataclass
class ScratchPostgres:
    """An initdb'd cluster on a free port; `dsn` reaches it."""

    folder: str
    port: int

    @property
    def dsn(self) -> str:
        return f"postgresql://casegold@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        done = subprocess.run(
            _as_postgres(_bin("pg_ctl"), "-D", f"{self.folder}/data", *args),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"pg_ctl {args} failed:\n{done.stdout}\n{done.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._ctl("-o", options, "-l", f"{self.folder}/server.log", "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; `immediate` is a crash as far as clients can tell."""
        self._ctl("-m", mode, "-w", "stop")


@contextlib.contextmanager
def running_scratch_postgres(prefix: str = "casegold-pg-") -> Iterator[ScratchPostgres]:
    """A started, initdb'd cluster on a free port, removed afterwards."""
    folder = tempfile.mkdtemp(prefix=prefix)
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
        with contextlib.suppress(AssertionError):  # already stopped by a test or a fault
            server.stop("fast")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def scratch_postgres() -> Iterator[ScratchPostgres]:
    """A running scratch cluster, removed after the test."""
    with running_scratch_postgres() as server:
        yield server
