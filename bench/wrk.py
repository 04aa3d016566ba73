"""wrk (Debian's package, C and LuaJIT) as an open-loop generator for the HTTP benchmarks.

wrk costs about a third of vegeta's CPU per request here (95 µs against 240–290 µs), so the
server under test keeps more of the two cores. wrk itself is closed-loop; the script
`wrk_open_loop.lua` gives it a fixed schedule (request k due at start + k / rate) and reports
how late any request went out because no connection was free. wrk times a request from its
send, so a late send hides queueing: every latency is therefore taken as its measured value
plus the worst lateness of the run, an upper bound of the latency from the due time.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

SCRIPT: Final = Path(__file__).resolve().parent / "wrk_open_loop.lua"


@dataclass
class Outcome:
    """What wrk saw: answers by status class, errors, latencies, and how late sends went out."""

    sent: int
    answered: int
    status_errors: int  # answers with a status over 399
    timeouts: int
    socket_errors: int
    elapsed: float  # s, from the first due time to the last answer
    late_max: float  # s: the worst lateness of a send against its due time
    late_over_1ms: int
    late_over_10ms: int
    latencies: list[float] = field(default_factory=list)  # s, from the send, sorted


def ensure() -> Path:
    """The wrk binary, or a clear error saying how to get it."""
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (Debian's package)")
    return Path(found)


def connections_for(rate: int) -> int:
    """Enough keep-alive connections that one is free at each due time up to ~0.25 s latency."""
    return min(1024, max(64, rate // 4))


def attack(
    host: str,
    port: int,
    requests: list[bytes],
    rate: int,
    probe: str = "/readyz",
    timeout: float = 15.0,
) -> Outcome:
    """Send each pre-built HTTP/1.1 request once, in order, at `rate` per second.

    wrk sends each connection's first request before the script can delay it; that one is a
    GET of `probe`, sent before the schedule starts and left out of the figures.
    """
    binary = str(ensure())
    connections = connections_for(rate)
    with tempfile.TemporaryDirectory(prefix="casegold-wrk-") as scratch:
        requests_file, result_file = Path(scratch) / "requests", Path(scratch) / "result"
        requests_file.write_bytes(b"\0".join(requests))
        # Long enough for every send and a slow last answer; the script stops wrk as soon as
        # every request is answered.
        duration = math.ceil(len(requests) / rate + 0.5 + timeout)  # wrk takes whole seconds
        subprocess.run(
            [
                binary, "-t1", f"-c{connections}", f"-d{duration}s",
                f"--timeout={math.ceil(timeout)}s", "-s", str(SCRIPT), f"http://{host}:{port}",
                "--", str(requests_file), str(rate), probe, str(connections),
            ],
            env=dict(os.environ, CASEGOLD_WRK_RESULT=str(result_file)),
            check=True,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        return _outcome(result_file.read_text())


def _outcome(text: str) -> Outcome:
    lines = text.splitlines()
    head = lines[0].split()
    if head[0] != "summary":
        raise RuntimeError(f"unexpected wrk output: {lines[0]!r}")
    _, answered, status, timeouts, connect, read, write, sent = map(int, head[1:9])
    probes = int(head[12])
    outcome = Outcome(
        sent=sent,
        answered=answered - probes,
        status_errors=status,
        timeouts=timeouts,
        socket_errors=connect + read + write,
        elapsed=max(0.0, float(head[13])) / 1000,
        late_max=max(0.0, float(head[9])) / 1000,
        late_over_1ms=int(head[10]),
        late_over_10ms=int(head[11]),
    )
    for line in lines[1:]:
        value, times = line.split()
        outcome.latencies.extend([int(value) / 1e6] * int(times))
    # wrk keeps one histogram: the probes' latencies cannot be told apart from the requests'.
    # Leaving out the fastest answers instead can only make the quantiles worse, never better.
    outcome.latencies.sort()
    del outcome.latencies[:probes]
    return outcome
