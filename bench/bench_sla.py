"""Benchmark of the pure SLA core: `python bench/bench_sla.py` prints its figures.

Measures µs per evolve + decide over a typical case lifecycle, µs to compute the next due
instant on a business-hours and a 24x7 calendar, serialisation cost, and memory per open
case (tracemalloc over 100,000 cases, extrapolated to 1,000,000).
"""

import gc
import json
import platform
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from casegold_contracts.builders import make_event
from casegold_contracts.envelope import Event
from casegold_sla import (
    CaseState,
    PolicySet,
    Rejection,
    decide_us,
    dump_state,
    evolve,
    load_policy,
    load_policy_text,
)
from casegold_sla.instants import to_us

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2025, 6, 9, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
HOUR = timedelta(hours=1)


def best_of(runs: int, action: Callable[[], int]) -> float:
    """Best µs per operation over several runs (`action` returns its operation count)."""
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        began = time.perf_counter()
        operations = action()
        best = min(best, (time.perf_counter() - began) / operations * 1e6)
    return best


def lifecycle(case: int) -> list[Event]:
    """A typical case: opened, assigned, acknowledged, contacted, a promise kept, a note,
    a pause, a solution, resolved, closed — 11 events."""
    case_id = UUID(int=case)

    def at(hours: float) -> datetime:
        return START + hours * HOUR

    return [
        make_event("case_opened", case_id=case_id, at=at(0), priority="P3"),
        make_event("case_assigned", case_id=case_id, at=at(0.1), owner="agent-7"),
        make_event("case_acknowledged", case_id=case_id, at=at(0.5)),
        make_event("customer_contacted", case_id=case_id, at=at(2)),
        make_event("callback_promised", case_id=case_id, at=at(2.1), due_at=at(26)),
        make_event("promise_kept", case_id=case_id, at=at(25)),
        make_event("note_added", case_id=case_id, at=at(25.5)),
        make_event("customer_awaited", case_id=case_id, at=at(26)),
        make_event("case_resumed", case_id=case_id, at=at(40)),
        make_event("solution_agreed", case_id=case_id, at=at(41)),
        make_event("case_resolved", case_id=case_id, at=at(70)),
        make_event("case_closed", case_id=case_id, at=at(90)),
    ]


def bench_lifecycle(policies: PolicySet) -> float:
    """µs per event for evolve followed by decide at the event's time."""
    cases = [lifecycle(n) for n in range(200)]
    times = [[to_us(item.occurred_at) for item in events] for events in cases]

    def run() -> int:
        count = 0
        for events, instants in zip(cases, times, strict=True):
            state: CaseState | None = None
            for item, now in zip(events, instants, strict=True):
                result = evolve(state, item, policies)
                assert not isinstance(result, Rejection), result
                state = decide_us(result, now).state
                count += 1
        return count

    return best_of(5, run)


def bench_next_due(policies: PolicySet) -> tuple[float, float]:
    """µs per next-due computation: a fresh case's decide, and a raw 12 h business addition."""
    state = evolve(None, lifecycle(1)[0], policies)
    assert isinstance(state, CaseState)
    calendar = policies.default.calendar
    rng = random.Random(7)
    starts = [to_us(START) + rng.randrange(0, 86_400 * 365) * 1_000_000 for _ in range(20_000)]
    twelve_hours = 12 * 3_600_000_000

    def decisions() -> int:
        for now in starts:
            decide_us(state, state.anchor_at + (now % 3_600_000_000))
        return len(starts)

    def additions() -> int:
        for start in starts:
            calendar.add_us(start, twelve_hours)
        return len(starts)

    return best_of(5, decisions), best_of(5, additions)


def bench_serialise(policies: PolicySet) -> float:
    """µs to dump one open case to JSON bytes (the changelog write)."""
    states = []
    for n in range(2_000):
        state = evolve(None, lifecycle(n)[0], policies)
        assert isinstance(state, CaseState)
        states.append(state)

    def run() -> int:
        for state in states:
            json.dumps(dump_state(state), separators=(",", ":")).encode()
        return len(states)

    return best_of(5, run)


def bench_memory(policies: PolicySet, count: int = 100_000) -> tuple[float, float]:
    """Bytes per open, acknowledged case: the state alone, and with its case id UUID."""
    template = lifecycle(0)
    opened, acknowledged = template[0], template[2]
    warm = evolve(None, opened, policies)
    assert isinstance(warm, CaseState)
    # Events differ per case only by ids: copies of the template. They are built (and their
    # case id UUIDs allocated) before the measurement starts, and kept alive through it.
    openings = [
        opened.model_copy(update={"case_id": UUID(int=n), "event_id": UUID(int=(1 << 100) + n)})
        for n in range(count)
    ]
    acks = [
        acknowledged.model_copy(update={"event_id": UUID(int=(2 << 100) + n)}) for n in range(count)
    ]
    states: list[CaseState] = []
    states_list_size = sys.getsizeof([None] * count)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for opening, ack in zip(openings, acks, strict=True):
        state = evolve(None, opening, policies)
        assert isinstance(state, CaseState)
        state = evolve(state, ack, policies)
        assert isinstance(state, CaseState)
        states.append(state)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    per_state = (grown - states_list_size) / count
    case_id = UUID(int=(1 << 126) + 12345)
    uuid_bytes = sys.getsizeof(case_id) + sys.getsizeof(case_id.int)
    return per_state, per_state + uuid_bytes


def main() -> None:
    default = load_policy(ROOT / "deploy" / "policy" / "default.yaml")
    text = (ROOT / "deploy" / "policy" / "default.yaml").read_text(encoding="utf-8")
    office = load_policy_text(
        text.replace("    calendar: 24x7\n", "    calendar: shanghai_office\n", 1), "office.yaml"
    )
    print(f"SLA core benchmark — Python {platform.python_version()} on {platform.machine()}")
    for label, policies in (("24x7 calendar", default), ("business-hours calendar", office)):
        print(f"\n{label} (policy {policies.default.name}, P3):")
        print(f"  evolve + decide, typical lifecycle : {bench_lifecycle(policies):7.1f} µs/event")
        decision, addition = bench_next_due(policies)
        print(f"  decide on an open case (next due)  : {decision:7.1f} µs")
        print(f"  add 12 h of business time          : {addition:7.2f} µs")
    print(f"\n  dump_state + json (changelog write) : {bench_serialise(default):7.1f} µs/case")
    state_only, with_id = bench_memory(default)
    print("\nmemory per open case (tracemalloc over 100,000 acknowledged cases):")
    print(f"  state                               : {state_only:7.0f} bytes")
    print(f"  state + case id UUID                : {with_id:7.0f} bytes")
    print(f"  1,000,000 cases (state + id)        : {with_id * 1e6 / 2**20:7.0f} MiB")


if __name__ == "__main__":
    main()
