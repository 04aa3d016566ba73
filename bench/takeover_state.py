"""What a worker's table stores hold, read from outside while it runs: the changelog offset
Faust persisted in each partition's RocksDB (the key `__faust\\0offset__`, written with every
batch of changelog records a standby or a recovery applies).

A standby applies the changelog records it reads in batches of `STANDBY_BUFFER` per table
(Faust's `standby_buffer_size`, by default the table's recovery buffer, 1000); the records of a
batch not yet full sit in memory until the next batch or a rebalance flushes them (a partition
of fewer records than a batch may have no store at all yet). So a standby that has read its
partitions to the end shows, per table, a persisted lag below one batch, a store missing
counting as its whole partition; a lag of a batch or more means it has not read that far yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import rocksdict

OFFSET_KEY = b"__faust\x00offset__"
STANDBY_BUFFER = 1000


def persisted_offset(db_path: Path) -> int | None:
    """The changelog offset a partition's store has applied up to, or None (no store yet)."""
    if not db_path.is_dir():
        return None
    # Read-only: takes no lock, so the worker keeps writing; it sees what its log holds now.
    db = rocksdict.Rdict(
        str(db_path),
        options=rocksdict.Options(raw_mode=True),
        access_type=rocksdict.AccessType.read_only(),
    )
    try:
        value = db.get(OFFSET_KEY)
    finally:
        db.close()
    return int(value) if value is not None else None


def store_path(worker_dir: Path, table: str, partition: int) -> Path | None:
    """Where Faust keeps one partition of a table under a worker's data folder."""
    return next(worker_dir.glob(f"**/tables/{table}-{partition}.db"), None)


@dataclass(frozen=True)
class TableLag:
    """Changelog records a worker's store of some partitions of one table has not applied."""

    table: str
    lag: int
    unknown: tuple[int, ...]  # partitions with records but no store or offset yet

    @property
    def warm(self) -> bool:
        """At most what one unapplied standby batch can hold is missing from the store."""
        return self.lag < STANDBY_BUFFER


def table_lag(
    worker_dir: Path, table: str, partitions: Iterable[int], ends: dict[int, int]
) -> TableLag:
    """The lag of the worker's store of `partitions` behind the changelog end offsets `ends`."""
    lag = 0
    unknown: list[int] = []
    for partition in sorted(partitions):
        end = ends.get(partition, 0)
        if end == 0:
            continue
        path = store_path(worker_dir, table, partition)
        try:
            offset = persisted_offset(path) if path is not None else None
        except Exception:  # rocksdict raises a bare Exception while the worker rotates its log
            offset = None
        if offset is None:
            unknown.append(partition)
            lag += end
        else:
            lag += max(0, end - 1 - offset)
    return TableLag(table, lag, tuple(unknown))
