"""CPU per unit of the same work, done back to back or with sleeps between (this VM's cold start).

A unit is 20 JSON round trips of a small document, pure Python and C, no I/O. Done back to
back, it costs what the code costs; with a sleep between units the process wakes cold each
time, and on this VM the same unit then costs 1.6–2.4 times the CPU. A server that idles
between requests pays that on every request: its CPU per request falls as its load rises.

    python3 bench/cold_work.py [--units 800]
"""

from __future__ import annotations

import argparse
import json
import time

DOCUMENT = {"a": list(range(50)), "b": "x" * 200, "c": {"d": 1.5, "e": [1, 2, 3]}}
GAPS = (0.0, 0.0005, 0.002, 0.01, 0.0, 0.01)  # seconds; back to back twice, to see drift


def unit() -> None:
    """The fixed piece of work."""
    for _ in range(20):
        json.loads(json.dumps(DOCUMENT))


def cpu_per_unit(gap: float, units: int) -> float:
    """CPU µs per unit, with `gap` seconds of sleep after each (0: back to back)."""
    started = time.process_time()
    for _ in range(units):
        unit()
        if gap:
            time.sleep(gap)
    return (time.process_time() - started) / units * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=800, help="units per gap")
    args = parser.parse_args()
    for gap in GAPS:
        units = args.units if gap < 0.005 else max(1, args.units * 3 // 8)
        print(f"gap {gap * 1000:5.1f} ms: {cpu_per_unit(gap, units):7.1f} µs CPU per unit")


if __name__ == "__main__":
    main()
