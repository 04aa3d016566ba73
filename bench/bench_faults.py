"""The long fault run: `python bench/bench_faults.py [--rate CASES_PER_S] [--faults N]`.

All five services on a scratch broker and a scratch PostgreSQL of the run's own (never the shared
ones), background load of about four requests per case, and the fault driver cycling through
every fault it knows (kill -9, SIGTERM, SIGSTOP+SIGCONT of the broker, the worker, the notifier,
follow-up and reporting; PostgreSQL stopped and started; poison) until the last one recovered.
Then the offline checker judges; the figures are printed for BENCHMARKS.md. Exit 1 when any
guarantee failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.* and tests.support.*

from bench.fault_driver import ALL_FAULTS  # noqa: E402
from bench.fault_run import Options, run  # noqa: E402
from bench.fault_servers import scratch_broker, scratch_postgres  # noqa: E402
from bench.fault_stack import Stack  # noqa: E402
from casegold_platform.kafka import ensure_topics  # noqa: E402
from casegold_platform.settings import KafkaSettings  # noqa: E402
from casegold_platform.topics import platform_topics  # noqa: E402
from tests.support.escalation import FAST_POLICY  # noqa: E402
from tests.support.receivers import WEBHOOK_SECRET, Receiver  # noqa: E402


async def main(rate: float, faults: int, interval: float, settle: float) -> int:
    folder = Path(tempfile.mkdtemp(prefix="casegold-bench-faults-"))
    schedule = [ALL_FAULTS[n % len(ALL_FAULTS)] for n in range(faults)]
    with scratch_broker(folder / "broker", heap="768m") as broker, scratch_postgres() as pg:
        kafka = KafkaSettings(bootstrap=broker.bootstrap, partitions=3)
        await ensure_topics(kafka.bootstrap, platform_topics(kafka))
        receiver = await Receiver(secret=WEBHOOK_SECRET).start()
        stack = Stack(
            bootstrap=broker.bootstrap,
            dsn=pg.dsn,
            policy_file=FAST_POLICY,
            folder=folder / "stack",
            receiver_url=receiver.url("/hooks"),
            secret=WEBHOOK_SECRET,
            run_id=uuid.uuid4().hex[:8],
            overrides={"intake": {"CASEGOLD_INTAKE_WORKERS": "2"}},
        )
        try:
            await stack.start()
            options = Options(
                rate=rate,
                duration=0,
                schedule=schedule,
                interval=interval,
                settle_timeout=settle,
            )
            outcome = await run(stack, broker, pg, receiver, options)
        finally:
            await stack.stop()
            await receiver.stop()
    print(
        f"fault run: python bench/bench_faults.py --rate {rate} --faults {faults} --settle {settle}"
    )
    for line in outcome.lines():
        print("  " + line)
    for problem in [*outcome.verdict.problems[:30], *outcome.verdict.pending[:10]]:
        print("  problem: " + problem)
    print(f"  logs: {folder}")
    return 1 if outcome.verdict.problems or outcome.verdict.pending else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=60.0, help="cases opened per second")
    parser.add_argument("--faults", type=int, default=21, help="faults, cycling over the kinds")
    parser.add_argument("--interval", type=float, default=12.0, help="seconds between faults")
    parser.add_argument(
        "--settle",
        type=float,
        default=900.0,
        help="seconds the checker waits for notices and projections still on their way",
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.rate, args.faults, args.interval, args.settle)))
