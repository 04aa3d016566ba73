"""The fault checker tells a second event from the same event published twice (decision 0101),
for requests and for revisit outcomes."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

from bench.fault_check import Outside, Record, check
from bench.fault_load import Case, Lease, Request


def opened_case(ref: str) -> tuple[Case, str]:
    case_id = str(uuid4())
    request = Request("open", "k", "http://intake", {}, {}, ref, first="ok", final="ok")
    request.reply = {"case_id": case_id}
    case = Case(ref, "handled", request)
    return case, case_id


def opened_record(offset: int, case_id: str, ref: str, event_id: str) -> Record:
    value = {
        "type": "case_opened",
        "case_id": case_id,
        "event_id": event_id,
        "payload": {"external_ref": ref},
    }
    return Record(0, offset, 1000.0 + offset, value)


def judge(case: Case, case_id: str, records: list[Record]) -> Any:
    load: Any = SimpleNamespace(cases=[case], leases=[])
    outside = Outside(records, [], [], {case_id: "open"}, Counter({case.ref: 1}), 0, {}, [])
    return check(load, outside)


def test_one_event_id_published_twice_is_counted_not_a_double() -> None:
    case, case_id = opened_case("rel-1")
    event_id = str(uuid4())
    verdict = judge(
        case,
        case_id,
        [
            opened_record(0, case_id, "rel-1", event_id),
            opened_record(1, case_id, "rel-1", event_id),
        ],
    )
    assert verdict.of("duplicated_request", "lost") == []
    assert verdict.figures["republished"] == 1


def test_two_event_ids_for_one_request_are_a_double_and_none_is_lost() -> None:
    case, case_id = opened_case("rel-2")
    records = [opened_record(i, case_id, "rel-2", str(uuid4())) for i in range(2)]
    verdict = judge(case, case_id, records)
    assert len(verdict.of("duplicated_request")) == 1
    assert judge(case, case_id, []).of("lost") != []


def outcome_record(offset: int, case_id: str, callback_id: str, event_id: str) -> Record:
    value = {
        "type": "revisit_outcome_recorded",
        "case_id": case_id,
        "event_id": event_id,
        "payload": {"callback_id": callback_id, "outcome": "satisfied"},
    }
    return Record(0, offset, 1000.0 + offset, value)


def judge_outcomes(event_ids: list[str]) -> Any:
    case, case_id = opened_case("rel-3")
    callback_id = str(uuid4())
    lease = Lease(callback_id, case_id, "revisit-0", "token", 1000.0, 1030.0)
    lease.outcome = Request("outcome", "token", "http://followup", {}, {}, case_id)
    lease.outcome.first = lease.outcome.final = "ok"
    lease.outcome.answered_at = 1001.0
    records = [opened_record(0, case_id, "rel-3", str(uuid4()))]
    records += [outcome_record(n, case_id, callback_id, e) for n, e in enumerate(event_ids, 1)]
    load: Any = SimpleNamespace(cases=[case], leases=[lease])
    outside = Outside(records, [], [], {case_id: "open"}, Counter({case.ref: 1}), 0, {}, [])
    return check(load, outside)


def test_one_outcome_published_twice_is_counted_not_a_second_outcome() -> None:
    event_id = str(uuid4())
    verdict = judge_outcomes([event_id, event_id])
    assert verdict.of("duplicated_outcome", "lost_outcome") == []
    assert verdict.figures["republished"] == 1


def test_two_outcome_events_for_one_callback_are_a_double() -> None:
    assert len(judge_outcomes([str(uuid4()), str(uuid4())]).of("duplicated_outcome")) == 1
    assert len(judge_outcomes([]).of("lost_outcome")) == 1
