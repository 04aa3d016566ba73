"""A compiled open-loop load generator for the HTTP benchmarks: vegeta, built from the Go proxy.

vegeta keeps the offered rate whatever the latency (it adds workers rather than waiting), so
queueing shows in the figures, and its CPU cost per request is a fraction of a Python
generator's: the server's two cores are not shared with the load. Each request is a target of
its own (a unique Idempotency-Key), read lazily from a JSON-lines file.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MODULE: Final = "github.com/tsenart/vegeta/v12@v12.12.0"
CACHE: Final = Path(__file__).resolve().parent / ".cache" / "bin"


@dataclass(frozen=True, slots=True)
class Target:
    """One request: where, which headers, which body."""

    url: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Result:
    """One response: when it was sent (s after the first), its status, latency and error."""

    sent: float
    status: int
    latency: float
    error: str


def ensure() -> Path:
    """The vegeta binary: on PATH, in bench/.cache/bin, or built there with `go install`."""
    found = shutil.which("vegeta") or (CACHE / "vegeta" if (CACHE / "vegeta").exists() else None)
    if found:
        return Path(found)
    if shutil.which("go") is None:
        raise RuntimeError("vegeta needs Go to build (Debian's golang-go), or vegeta on PATH")
    CACHE.mkdir(parents=True, exist_ok=True)
    environ = dict(os.environ, GOBIN=str(CACHE), GOFLAGS="-buildvcs=false")
    subprocess.run(["go", "install", MODULE], env=environ, check=True)
    return CACHE / "vegeta"


def attack(targets: Iterable[Target], rate: int, count: int, timeout: float = 15.0) -> list[Result]:
    """Offer `count` requests at `rate` per second, open loop; every result, in send order."""
    binary = str(ensure())
    with tempfile.TemporaryDirectory(prefix="casegold-vegeta-") as scratch:
        target_file, result_file = Path(scratch) / "targets.jsonl", Path(scratch) / "results.bin"
        with target_file.open("w") as out:
            for target in targets:
                out.write(json.dumps({
                    "method": target.method,
                    "url": target.url,
                    "header": {name: [value] for name, value in target.headers.items()},
                    "body": base64.b64encode(target.body).decode(),
                }) + "\n")  # fmt: skip
        duration_ms = max(1, round(count * 1000 / rate))
        subprocess.run(
            [
                binary, "attack", "-format=json", f"-targets={target_file}", "-lazy",
                f"-rate={rate}/s", f"-duration={duration_ms}ms", "-keepalive=true",
                "-workers=64", "-max-workers=2048", f"-timeout={timeout}s", "-max-body=0",
                f"-output={result_file}",
            ],
            check=True,
        )  # fmt: skip
        encoded = subprocess.run(
            [binary, "encode", "-to=csv", str(result_file)], check=True, capture_output=True
        ).stdout.decode()
    return _results(encoded)


def _results(encoded: str) -> list[Result]:
    rows = sorted(csv.reader(io.StringIO(encoded)), key=lambda row: int(row[0]))
    if not rows:
        return []
    first = int(rows[0][0])
    return [
        Result(
            sent=(int(row[0]) - first) / 1e9,
            status=int(row[1]),
            latency=int(row[2]) / 1e9,
            error=row[5],
        )
        for row in rows
    ]
