"""A closed case is kept for its retention, then forgotten on a tick (fixed clock)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

from pydantic_core import to_json

from casegold_contracts.builders import DEFAULT_TIME, make_case_opened, make_event
from casegold_escalation.processor import CaseProcessor, Topics, forget_customer_case
from casegold_escalation.records import CustomerCase, next_check_of
from casegold_sla import PolicyRegistry, load_policy, to_us
from tests.support import repo_root

T0 = DEFAULT_TIME
RETENTION = timedelta(days=30)


def processor() -> CaseProcessor:
    policy = load_policy(Path(repo_root(), "deploy", "policy", "fast.yaml"))
    return CaseProcessor(PolicyRegistry(policy), Topics("test.customers"), RETENTION)


def closed_case(p: CaseProcessor) -> tuple[bytes, CustomerCase]:
    case_id = uuid4()
    opening = make_case_opened(case_id=case_id, at=T0, priority="P1")
    record = p.on_event(None, opening, T0).stored
    for offset, (kind, seconds) in enumerate(
        [("case_acknowledged", 1), ("case_resolved", 2), ("case_closed", 3)], start=1
    ):
        at = T0 + timedelta(seconds=seconds)
        record = p.on_event(record, make_event(kind, case_id=case_id, at=at), at, offset).stored
    assert record is not None
    customer = CustomerCase(opening.payload.customer_key, case_id, to_us(T0))
    return record, customer


def test_a_closed_case_is_kept_until_its_retention_then_forgotten_with_its_customer() -> None:
    p = processor()
    record, customer = closed_case(p)
    closed_at = T0 + timedelta(seconds=3)
    # The due index looks at the case again exactly when its retention ends.
    assert next_check_of(record) == to_us(closed_at + RETENTION)
    early = p.on_tick(record, closed_at + RETENTION - timedelta(microseconds=1))
    assert not early.forgotten and early.next_check_us == to_us(closed_at + RETENTION)
    late = p.on_tick(record, closed_at + RETENTION)
    assert late.forgotten and late.stored is None and late.next_check_us is None
    [message] = late.messages
    assert message.topic == "test.customers" and message.key == customer.customer_key.encode()
    gone = CustomerCase.decode(message.value)
    assert gone.forget and gone.case_id == customer.case_id


def test_a_reopen_within_the_retention_keeps_the_case_and_the_next_close_starts_it_again() -> None:
    p = processor()
    record, customer = closed_case(p)
    case_id = customer.case_id
    reopen_at = T0 + timedelta(days=29)
    reopened = p.on_event(
        record, make_event("case_reopened", case_id=case_id, at=reopen_at), reopen_at, 10
    )
    assert reopened.stored is not None and not reopened.forgotten
    after_old_retention = T0 + timedelta(seconds=3) + RETENTION
    assert not p.on_tick(reopened.stored, after_old_retention).forgotten


def test_events_past_the_retention_are_refused_once_the_case_is_forgotten() -> None:
    p = processor()
    record, customer = closed_case(p)
    later = T0 + timedelta(days=40)
    assert p.on_tick(record, later).forgotten
    refused = p.on_event(
        None, make_event("case_reopened", case_id=customer.case_id, at=later), later
    )
    assert refused.rejection is not None and refused.stored is None


def test_forgetting_drops_the_case_from_its_customer_and_deletes_an_empty_record() -> None:
    kept, gone = str(uuid4()), CustomerCase("k", uuid4(), 0, forget=True)
    both = to_json([[kept, 1], [str(gone.case_id), 2]])
    assert forget_customer_case(both, gone) == (to_json([[kept, 1]]), False)
    assert forget_customer_case(to_json([[str(gone.case_id), 2]]), gone) == (None, True)
    assert forget_customer_case(to_json([[kept, 1]]), gone) == (None, False), "a replay"
    assert forget_customer_case(None, gone) == (None, False)
