"""Reads a worker's log for what Faust did at a rebalance: when, and which changelog records
its table recovery read (the "Highwater" and "Reading Starts At" tables Faust logs at INFO).

Faust's own lines look like `[2026-12-01 19:53:16,108] [30722] [INFO] text` (local time); the
worker's structlog lines are JSON objects with an ISO `timestamp` in UTC. Faust's tables follow
their line, one `| topic | partition | value |` row per partition, `〃` repeating the topic.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

_FAUST = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\] \[(\d+)\] \[(\w+)\] (.*)$")
_SERVICE = re.compile(r"^\[\^-*[^\]]*\]:\s*")  # `[^---Recovery]: `, the service's name
_DITTO = "〃"

# The lines a rebalance leaves, in order (aiokafka's, then Faust's Recovery service).
REJOINING = "(Re-)joining group"
ASSIGNED = "Setting newly assigned partitions"
ACTIVE_HIGHWATERS = "Highwater for active changelog partitions"
ACTIVE_STARTS = "active offsets at start of reading"
RESTORING = "Restoring state from changelog topics"
RESTORED = "Done reading from changelog topics"
WORKER_READY = "Worker ready"
INDEX_REBUILT = "due index rebuilt"

Offsets = dict[tuple[str, int], int]


@dataclass
class Line:
    """One log record: wall-clock time, its text, and the rows of a table that followed it."""

    at: float
    text: str
    rows: Offsets = field(default_factory=dict)
    fields: dict[str, object] = field(default_factory=dict)


def read_log(path: Path) -> list[Line]:
    """Every timestamped record of the log, in order."""
    lines: list[Line] = []
    topic = ""
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _FAUST.match(raw)
        if match:
            stamp, millis, _, _, text = match.groups()
            at = time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000
            lines.append(Line(at, _SERVICE.sub("", text).strip()))
        elif raw.startswith("{"):
            try:
                record = json.loads(raw)
                stamp = str(record["timestamp"]).replace("Z", "+00:00")
                instant = datetime.fromisoformat(stamp).timestamp()
            except (ValueError, KeyError, TypeError):
                continue
            lines.append(Line(instant, str(record.get("event", "")), fields=record))
        elif raw.startswith("|") and lines:
            cells = [cell.strip() for cell in raw.strip("|").split("|")]
            if len(cells) != 3 or not cells[1].isdigit():
                continue  # a header, or a table of another shape
            topic = topic if cells[0] == _DITTO else cells[0]
            try:
                lines[-1].rows[(topic, int(cells[1]))] = int(cells[2])
            except ValueError:
                continue
    return lines


def first(lines: list[Line], text: str, since: float) -> Line | None:
    """The first record at or after `since` whose text starts with `text`."""
    return next((line for line in lines if line.at >= since and line.text.startswith(text)), None)


@dataclass(frozen=True)
class Recovery:
    """What one rebalance's table recovery read, per changelog partition."""

    at: float
    highwaters: Offsets  # the last offset of each active changelog partition
    starts: Offsets  # the last offset already in the local store (-1: none)

    def records_to_read(self, partitions: set[int]) -> int:
        """Changelog records the recovery read for the given partitions (every table)."""
        return sum(
            max(0, high - self.starts.get(tp, -1))
            for tp, high in self.highwaters.items()
            if tp[1] in partitions
        )

    def partitions(self) -> set[int]:
        return {partition for _, partition in self.highwaters}


def recoveries(lines: list[Line], since: float) -> list[Recovery]:
    """Every active-table recovery Faust logged at or after `since`, in order."""
    found: list[Recovery] = []
    highwaters: Line | None = None
    for line in lines:
        if line.at < since:
            continue
        if line.text.startswith(ACTIVE_HIGHWATERS):
            highwaters = line
        elif line.text.startswith(ACTIVE_STARTS) and highwaters is not None:
            found.append(Recovery(highwaters.at, dict(highwaters.rows), dict(line.rows)))
            highwaters = None
    return found
