"""Workload of the escalation benchmark: ids, event bytes, planned due instants, seeded records.

Events are built once with the contracts' builders and then filled in by string formatting, so
a million of them cost seconds, not minutes; a sample of each kind is parsed back with the
contracts' own `parse` before anything is sent. The case records seeded into a worker's table
changelog are computed by the worker's own `CaseProcessor` from those very `case_opened` bytes:
they are the records the worker would have stored had it processed the events itself.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

from pydantic_core import to_json

from casegold_contracts import CaseOpened, Event, dump, parse
from casegold_contracts.builders import make_case_opened, make_event
from casegold_escalation.processor import CaseProcessor, CaseUpdate, Topics
from casegold_escalation.records import CustomerCase
from casegold_sla import PolicyRegistry, PolicySet, from_us

# What an id is for (the second group of its hex digits), so every kind stays distinct.
SEEDED_CASE: Final = 1
SEEDED_OPENING: Final = 2
COMMAND: Final = 3
NEW_CASE: Final = 4
NEW_OPENING: Final = 5

# Placeholders the templates are cut at (each occurs exactly once in the dumped event).
_CASE = UUID("11111111-1111-4111-8111-111111111111")
_EVENT = UUID("22222222-2222-4222-8222-222222222222")
_AT = datetime(2001, 1, 1, 1, 1, 1, 111111, tzinfo=UTC)
_RECORDED = datetime(2002, 2, 2, 2, 2, 2, 222222, tzinfo=UTC)
_PHONE = "+8613911111111"
_KEY = "ab" * 32

# The commands of the backlog, in a valid order on an open case: none of them sends anything.
BACKLOG_COMMANDS: Final = ("case_assigned", "note_added", "case_acknowledged", "customer_contacted")


def bench_id(run: int, kind: int, index: int) -> str:
    """A UUID (version 4 layout) unique per run, kind and index, as text."""
    digits = f"{run:08x}{kind:04x}{index:020x}"
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-8{digits[17:20]}-{digits[20:]}"


def iso(us: int) -> str:
    """An instant in the contracts' wire format (UTC, microseconds, Z)."""
    return from_us(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _template(event: Event, fields: dict[str, str]) -> str:
    text = dump(event).decode("utf-8").replace("%", "%%")
    for placeholder, name in fields.items():
        if text.count(placeholder) != 1:
            raise AssertionError(f"template placeholder {placeholder!r} is not unique")
        text = text.replace(placeholder, f"%({name})s")
    return text


@dataclass(frozen=True)
class DuePlan:
    """Case n of a plan has its first ladder step due at first_due_us + n / rate seconds."""

    first_due_us: int
    rate: float
    offset_us: int  # from opening to the first step, the same for every case of the plan

    def due_us(self, n: int) -> int:
        return self.first_due_us + round(n * 1_000_000 / self.rate)

    def opened_us(self, n: int) -> int:
        return self.due_us(n) - self.offset_us

    def index_due_before(self, us: int) -> int:
        """How many cases of the plan are due before the instant (a bound, not clamped)."""
        return max(0, math.ceil((us - self.first_due_us) * self.rate / 1_000_000))


@dataclass(frozen=True, slots=True)
class SeededCase:
    """What a worker stores for one opened case: its case record and its customer record."""

    partition_key: bytes
    record: bytes
    next_check_us: int | None
    customer_key: bytes
    customer_record: bytes


class Workload:
    """Builds the benchmark's events and the records a worker would store for them."""

    def __init__(self, run: int, policies: PolicySet, customers_topic: str) -> None:
        self.run = run
        self.customers_topic = customers_topic
        self.processor = CaseProcessor(PolicyRegistry(policies), Topics(customers_topic))
        opened = make_case_opened(
            case_id=_CASE,
            event_id=_EVENT,
            at=_AT,
            recorded_at=_RECORDED,
            customer={"phone": _PHONE},
            customer_key=_KEY,
        )
        self._opened = _template(
            opened,
            {
                str(_CASE): "case",
                str(_EVENT): "event",
                iso_of(_AT): "at",
                iso_of(_RECORDED): "recorded",
                _PHONE: "phone",
                _KEY: "key",
            },
        )
        self._commands = {
            name: _template(
                make_event(name, case_id=_CASE, event_id=_EVENT, at=_AT, recorded_at=_RECORDED),
                {
                    str(_CASE): "case",
                    str(_EVENT): "event",
                    iso_of(_AT): "at",
                    iso_of(_RECORDED): "at",
                },
            )
            for name in (*BACKLOG_COMMANDS, "case_acknowledged")
        }
        self._check_templates()

    def case_id(self, kind: int, index: int) -> str:
        return bench_id(self.run, kind, index)

    def opened(self, kind: int, index: int, opened_us: int) -> tuple[bytes, bytes]:
        """Key and value of the case_opened of a case; every case has its own customer."""
        case = bench_id(self.run, kind, index)
        at = iso(opened_us)
        value = self._opened % {
            "case": case,
            "event": bench_id(self.run, kind + 1, index),
            "at": at,
            "recorded": at,
            "phone": f"+861{30 + kind % 60:02d}{index:08d}",
            "key": hashlib.sha256(f"{self.run}:{kind}:{index}".encode()).hexdigest(),
        }
        return case.encode("ascii"), value.encode("utf-8")

    def command(self, name: str, case: str, event_index: int, at_us: int) -> tuple[bytes, bytes]:
        """Key and value of a command event on an existing case."""
        value = self._commands[name] % {
            "case": case,
            "event": bench_id(self.run, COMMAND, event_index),
            "at": iso(at_us),
        }
        return case.encode("ascii"), value.encode("utf-8")

    def first_step_offset(self, at_us: int) -> int:
        """Microseconds from opening to the first ladder step, for the cases this run opens."""
        _, value = self.opened(0xFFFE, 0, at_us)
        outcome = self._outcome(value)
        if outcome.next_check_us is None:
            raise AssertionError("an opened case has no due step under this policy")
        return outcome.next_check_us - at_us

    def seed(self, kind: int, plan: DuePlan, start: int, stop: int) -> Iterator[SeededCase]:
        """The records the worker would store after applying the case_opened of each case."""
        for n in range(start, stop):
            _, value = self.opened(kind, n, plan.opened_us(n))
            outcome = self._outcome(value)
            if outcome.stored is None or outcome.next_check_us != plan.due_us(n):
                raise AssertionError(f"case {n}: first step not due where the plan puts it")
            customer = next(m for m in outcome.messages if m.topic == self.customers_topic)
            decoded = CustomerCase.decode(customer.value)
            yield SeededCase(
                str(decoded.case_id).encode("ascii"),
                outcome.stored,
                outcome.next_check_us,
                customer.key,
                # The customers agent's record of a first case: [[case id, opened µs]].
                to_json([(str(decoded.case_id), decoded.opened_us)]),
            )

    def _outcome(self, value: bytes) -> CaseUpdate:
        event = parse(value)
        if not isinstance(event, CaseOpened):
            raise AssertionError(f"template does not parse: {event}")
        return self.processor.on_event(None, event, event.occurred_at)

    def _check_templates(self) -> None:
        key, value = self.opened(NEW_CASE, 7, 1_800_000_000_123_456)
        event = parse(value)
        assert isinstance(event, CaseOpened), event
        assert str(event.case_id).encode() == key and event.occurred_at == from_us(
            1_800_000_000_123_456
        )
        for name in self._commands:
            _, value = self.command(name, key.decode(), 1, 1_800_000_000_000_000)
            parsed = parse(value)
            assert isinstance(parsed, Event) and parsed.type == name, parsed


def iso_of(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
