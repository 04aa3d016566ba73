"""wrk (Debian's package, C and LuaJIT) as an open-loop generator for the HTTP benchmarks.

wrk costs about a third of vegeta's CPU per request here (95 µs against 240–290 µs), so the
server under test keeps more of the two cores. wrk itself is closed-loop; the script
`wrk_open_loop.lua` gives it a fixed schedule (request k due at start + k / rate) and reports
how late each request went out (no connection free, or wrk itself off the CPU). wrk times a
request from its send and keeps one histogram, so a request's lateness cannot be paired with
its latency; `bounded_quantile` gives, from the two histograms, an upper bound of each quantile
of the latency counted from the due time, which is what the figures report.
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
    lateness: list[float] = field(default_factory=list)  # s, each send's, sorted


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

    A send the script has no due time for (a guard: wrk asks for one before every send) is a
    GET of `probe`, counted apart and left out of the figures.
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
        return read_outcome(result_file.read_text())


def bounded_quantile(latencies: list[float], lateness: list[float], q: float) -> float:
    """An upper bound of the q-quantile of lateness + latency, from the two sorted lists alone.

    The quantile is the (k+1)-th largest value, k = n - 1 - int(q * n). For any j ≤ k, at most
    j sends were later than the (j+1)-th largest lateness and at most k - j answers slower than
    the (k-j+1)-th largest latency, so at most k requests exceed the sum of the two: the
    quantile is no larger than it. The smallest such sum over j is the bound.
    """
    n = len(latencies)
    if n == 0:
        return float("nan")
    k = n - 1 - min(n - 1, int(q * n))

    def largest(values: list[float], rank: int) -> float:  # rank 0: the largest
        return values[-1 - rank] if rank < len(values) else 0.0

    return min(largest(lateness, j) + largest(latencies, k - j) for j in range(k + 1))


def read_outcome(text: str) -> Outcome:
    """The figures `wrk_open_loop.lua` wrote at the end of a run."""
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
        parts = line.split()
        if parts[0] == "late":  # tenths of a millisecond, rounded up
            outcome.lateness.extend([int(parts[1]) / 1e4] * int(parts[2]))
            continue
        outcome.latencies.extend([int(parts[0]) / 1e6] * int(parts[1]))
    outcome.lateness.sort()
    # wrk keeps one histogram: the probes' latencies cannot be told apart from the requests'.
    # Leaving out the fastest answers instead can only make the quantiles worse, never better.
    outcome.latencies.sort()
    del outcome.latencies[:probes]
    return outcome
