"""`deploy/postgres/reset.sh` (run by `make clean`) leaves no key row behind.

Runs on a scratch PostgreSQL server of its own (initdb in a temporary directory): the shared
database other tests use is never reset.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from glob import glob
from pathlib import Path

import asyncpg
import pytest

from casegold_platform.postgres import migrate_installed
from tests.support import repo_root
from tests.support.brokers import free_port

pytestmark = pytest.mark.integration

RESET = os.path.join(repo_root(), "deploy", "postgres", "reset.sh")
BIN = sorted(glob("/usr/lib/postgresql/*/bin"))


def as_postgres(*command: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True)


@pytest.fixture
def scratch_dsn() -> Iterator[str]:
    """A DSN of a fresh server whose `casegold` role owns the `casegold` database."""
    if not BIN or os.getuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs Debian's PostgreSQL binaries and root to run a scratch server")
    # Not pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    tmp_path = Path(tempfile.mkdtemp(prefix="casegold-reset-"))
    shutil.chown(tmp_path, "postgres")
    data, port = tmp_path / "data", free_port()
    as_postgres(f"{BIN[-1]}/initdb", "-D", str(data), "--auth=trust", "-U", "postgres")
    options = f"-p {port} -k {tmp_path} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = str(tmp_path / "server.log")  # the server must not hold our pipes open
    as_postgres(f"{BIN[-1]}/pg_ctl", "-D", str(data), "-o", options, "-l", log, "-w", "start")
    try:
        for sql in ("CREATE ROLE casegold LOGIN", "CREATE DATABASE casegold OWNER casegold"):
            as_postgres(f"{BIN[-1]}/psql", "-h", str(tmp_path), "-p", str(port), "-c", sql)
        yield f"postgresql://casegold:casegold@127.0.0.1:{port}/casegold"
    finally:
        as_postgres(f"{BIN[-1]}/pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(tmp_path)


async def test_reset_drops_every_key_row_and_the_migrations_apply_again(scratch_dsn: str) -> None:
    assert (await migrate_installed(scratch_dsn))["intake"] == [1, 2, 3]
    connection = await asyncpg.connect(scratch_dsn)
    try:
        await connection.execute(
            """INSERT INTO idempotency_keys (client_id, key, body_sha256, case_id, event_id)
               VALUES ('c', 'k', 'd', gen_random_uuid(), gen_random_uuid())"""
        )
        await connection.execute("CREATE SCHEMA projections; CREATE TABLE projections.t (x int)")
    finally:
        await connection.close()

    env = {**os.environ, "CASEGOLD_PG_DSN": scratch_dsn}
    done = await asyncio.to_thread(subprocess.run, [RESET], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    connection = await asyncpg.connect(scratch_dsn)
    try:
        tables = await connection.fetch(
            """SELECT schemaname, tablename FROM pg_tables
               WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"""
        )
        schemas = await connection.fetch("SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)",
                                          ["public", "projections"])  # fmt: skip
    finally:
        await connection.close()
    assert tables == [] and [row["nspname"] for row in schemas] == ["public"]
    assert (await migrate_installed(scratch_dsn))["intake"] == [1, 2, 3]
