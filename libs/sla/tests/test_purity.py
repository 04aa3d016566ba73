"""The core is pure: no wall clock anywhere in its source, and compact states."""

import re
import tracemalloc
from pathlib import Path

from casegold_sla import PolicySet

from .conftest import at, event, fold, uuid_of

SOURCE = Path(__file__).resolve().parents[1] / "src" / "casegold_sla"
CLOCK_CALLS = re.compile(r"now\(|utcnow|time\.time|time\.monotonic|perf_counter|today\(")


def test_no_wall_clock_in_the_package() -> None:
    offenders = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(SOURCE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if CLOCK_CALLS.search(line)
    ]
    assert offenders == []


def test_an_open_case_stays_small(default_policy: PolicySet) -> None:
    opened = [
        event("case_opened", at(0, seconds=n), case_id=uuid_of(n), event_id=uuid_of(10**6 + n))
        for n in range(2_000)
    ]
    fold(default_policy, opened[0])  # warm the shared policy caches
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    states = [fold(default_policy, item) for item in opened]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    per_case = grown / len(states)
    # The case id belongs to the event (and the processor's table key), not to the state.
    print(f"{per_case:.0f} bytes per open case")
    assert per_case < 400, per_case
