"""The offline checker: what the load was told, held against what the topics, the delivery log,
the receiver, the projection and the callback queue show from the outside.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.fault_load import Load
from casegold_contracts import CASE_EVENTS, ESCALATIONS
from tests.support.receivers import Received

# Which case events meet a milestone (SPEC §3); a step is false when one came before its due.
MEETS = {
    "first_response": {"case_acknowledged", "customer_contacted"},
    "solution_agreed": {"solution_agreed", "case_resolved"},
    "resolution": {"case_resolved"},
    "revisit": {"revisit_outcome_recorded"},
}
LATE_SECONDS = 5.0


def first_response_ladder(opened: float, due: float) -> dict[str, float]:
    """The standard ladder's due instants (warning 75 %, breach, +25 % min 2 s, +100 %)."""
    target = due - opened
    return {
        "warning": opened + 0.75 * target,
        "tier_1": due,
        "tier_2": due + max(0.25 * target, 2.0),
        "tier_3": due + target,
    }


def _instant(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Record:
    """A decoded record of a topic (None fields for poison)."""

    partition: int
    offset: int
    timestamp: float
    value: dict[str, Any]


async def read_topic(bootstrap: str, topic: str, attempts: int = 3) -> list[Record]:
    """Every record of `topic`, from the start to the end it had when called. A read that finds
    nothing is tried again (twice runs found a topic empty that the services had just read)."""
    for attempt in range(attempts):
        found = await _read_once(bootstrap, topic)
        if found or attempt == attempts - 1:
            return found
        await asyncio.sleep(2.0)
    return []


async def _read_once(bootstrap: str, topic: str) -> list[Record]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            parts = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        await consumer.seek_to_beginning(*parts)
        found: list[Record] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                for m in messages:
                    try:
                        value = json.loads(m.value or b"")
                    except ValueError:
                        continue
                    if isinstance(value, dict) and "case_id" in value:
                        found.append(Record(tp.partition, m.offset, m.timestamp / 1000, value))
        return found
    finally:
        await consumer.stop()


async def group_lag(bootstrap: str, groups: dict[str, str]) -> dict[str, int]:
    """Records not yet committed by each consumer group, summed over its topic's partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        lag: dict[str, int] = {}
        for group, topic in groups.items():
            committed = await admin.list_consumer_group_offsets(group)
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            ends = await consumer.end_offsets(parts)
            lag[group] = sum(
                end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items()
            )
        return lag
    finally:
        await consumer.stop()
        await admin.close()


@dataclass
class Verdict:
    """The checker's figures and every problem it found (empty: all guarantees held)."""

    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # not yet there (may still come)
    suspects: set[str] = field(default_factory=set)  # case ids a problem names

    def of(self, *kinds: str) -> list[str]:
        """The problems of these kinds."""
        return [p for p in self.problems if p.split(":", 1)[0] in kinds]

    def add(self, kind: str, text: str) -> None:
        self.figures[kind] = self.figures.get(kind, 0) + 1
        if len(self.problems) < 200:
            self.problems.append(f"{kind}: {text}")


@dataclass
class Outside:
    """Everything the checker reads from the outside, once."""

    events: list[Record]
    escalations: list[Record]
    deliveries: list[dict[str, Any]]
    projected: dict[str, str]  # case id -> status
    projected_refs: Counter[str]
    offsets_behind: int
    lag: dict[str, int]
    received: list[Received]


async def gather(
    bootstrap: str, dsn: str, groups: dict[str, str], received: list[Received]
) -> Outside:
    events = await read_topic(bootstrap, CASE_EVENTS)
    escalations = await read_topic(bootstrap, ESCALATIONS)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        deliveries = [
            dict(r)
            for r in await connection.fetch(
                "SELECT escalation_id, recipient, status, notice_id, case_id "
                "FROM notification_deliveries WHERE kind = 'notice'"
            )
        ]
        rows = await connection.fetch("SELECT case_id, status, external_ref FROM reporting_cases")
        stored = await connection.fetch(
            "SELECT topic, partition, next_offset FROM reporting_offsets"
        )
    finally:
        await connection.close()
    ends: dict[tuple[str, int], int] = defaultdict(int)
    for topic, records in ((CASE_EVENTS, events), (ESCALATIONS, escalations)):
        for r in records:
            ends[(topic, r.partition)] = max(ends[(topic, r.partition)], r.offset + 1)
    positions = {(r["topic"], r["partition"]): r["next_offset"] for r in stored}
    behind = sum(max(0, end - positions.get(key, 0)) for key, end in ends.items())
    return Outside(
        events,
        escalations,
        deliveries,
        {str(r["case_id"]): r["status"] for r in rows},
        Counter(r["external_ref"] for r in rows if r["external_ref"]),
        behind,
        await group_lag(bootstrap, groups),
        list(received),
    )


def check(load: Load, outside: Outside) -> Verdict:
    """Every guarantee of the fault harness, from what `load` was told and what `outside` holds."""
    verdict = Verdict()
    mine = {c.case_id: c for c in load.cases if c.case_id}
    by_case: dict[str, list[Record]] = defaultdict(list)
    for record in outside.events:
        by_case[str(record.value["case_id"])].append(record)
    opened_refs = Counter(
        r.value["payload"].get("external_ref")
        for r in outside.events
        if r.value.get("type") == "case_opened"
    )
    opened_ids: dict[Any, set[str]] = defaultdict(set)
    for r in outside.events:
        if r.value.get("type") == "case_opened":
            opened_ids[r.value["payload"].get("external_ref")].add(str(r.value.get("event_id")))
    event_ids = Counter(str(r.value.get("event_id")) for r in outside.events)
    _requests(load, verdict, mine, by_case, opened_refs, opened_ids, event_ids, outside)
    _steps(load, verdict, mine, by_case, outside)
    _callbacks(load, verdict, by_case, outside)
    for group, behind in outside.lag.items():
        if behind:
            verdict.add("stuck", f"group {group} {behind} records behind")
            verdict.pending.append(f"group {group} {behind} records behind")
    if outside.offsets_behind:
        verdict.add("stuck", f"reporting projector {outside.offsets_behind} records behind")
        verdict.pending.append(f"reporting projector {outside.offsets_behind} records behind")
    count = verdict.figures.get
    verdict.figures["lost"] = count("lost", 0) + count("missed_step", 0) + count("lost_outcome", 0)
    verdict.figures["duplicated"] = sum(
        value for name, value in verdict.figures.items() if name.startswith("duplicated_")
    )
    verdict.figures["false_escalations"] = count("false_escalation", 0)
    return verdict


def _requests(
    load: Load,
    verdict: Verdict,
    mine: dict[str, Any],
    by_case: dict[str, list[Record]],
    opened_refs: Counter[Any],
    opened_ids: dict[Any, set[str]],
    event_ids: Counter[str],
    outside: Outside,
) -> None:
    for case in load.cases:
        request = case.opened
        if request.first in ("indeterminate", "failed") and request.final != "ok":
            verdict.add(
                "unresolved", f"open {case.ref}: first {request.first}, final {request.final}"
            )
        if request.final != "ok":
            if opened_refs[case.ref]:
                verdict.figures["written_without_2xx"] = (
                    verdict.figures.get("written_without_2xx", 0) + 1
                )
            continue
        ids = opened_ids[case.ref]
        if not ids:
            verdict.pending.append(f"case {case.ref} not on {CASE_EVENTS}")
            verdict.add("lost", f"2xx case {case.ref} ({case.case_id}) not on {CASE_EVENTS}")
        elif len(ids) > 1:
            verdict.add(
                "duplicated_request",
                f"case {case.ref} opened under {len(ids)} event ids on {CASE_EVENTS}",
            )
        _republished(verdict, opened_refs[case.ref] - len(ids))
        if case.case_id not in outside.projected:
            verdict.add("lost", f"2xx case {case.ref} ({case.case_id}) not in the projection")
        elif outside.projected_refs[case.ref] > 1:
            verdict.add(
                "duplicated_request",
                f"case {case.ref} in the projection {outside.projected_refs[case.ref]} times",
            )
        for command in case.commands:
            if command.final != "ok":
                if command.first in ("indeterminate", "failed"):
                    verdict.add("unresolved", f"{command.kind} of {case.ref}: {command.final}")
                continue
            seen = event_ids[str(command.reply.get("event_id"))]
            if seen == 0:
                verdict.add("lost", f"2xx {command.kind} of {case.ref} not on {CASE_EVENTS}")
            _republished(verdict, seen - 1)


def _republished(verdict: Verdict, extra: int) -> None:
    """Records of one event id beyond its first (decision 0101): a publish whose outcome was
    unknown, sent again by the retry. Counted, not a double: one event id is one request, and
    the projection, the worker and the notices are each checked to have acted once."""
    if extra > 0:
        verdict.figures["republished"] = verdict.figures.get("republished", 0) + extra


def _met_at(records: list[Record], milestone: str, cycle: int) -> float | None:
    """When the broker accepted the first event that meets the milestone (one the worker refused
    does not count)."""
    meeting = MEETS.get(milestone, set())
    refused = {
        str(r.value["payload"].get("rejected_event_id"))
        for r in records
        if r.value.get("type") == "command_rejected"
    }
    # Accepted = the broker's timestamp of the record (what the worker's hold compares, 0033);
    # recorded_at is when intake first tried, which may be long before a retry got through.
    times = [
        r.timestamp
        for r in records
        if r.value.get("type") in meeting and str(r.value.get("event_id")) not in refused
    ]
    return min(times) if times and cycle == 1 else None


def _steps(
    load: Load,
    verdict: Verdict,
    mine: dict[str, Any],
    by_case: dict[str, list[Record]],
    outside: Outside,
) -> None:
    fired: dict[tuple[str, str, int, str, int], set[str]] = defaultdict(set)
    raised: dict[str, dict[str, Any]] = {}
    for record in outside.escalations:
        payload = record.value.get("payload", {})
        case_id = str(record.value["case_id"])
        if case_id not in mine:
            continue
        step_key = (
            case_id,
            payload["milestone"],
            payload["cycle"],
            payload["step"],
            payload.get("repeat", 0),
        )
        fired[step_key].add(str(payload["escalation_id"]))
        raised[str(payload["escalation_id"])] = {**payload, "case_id": case_id}
    lateness: list[float] = []
    for step_key, ids in fired.items():
        if len(ids) > 1:
            verdict.add("duplicated_step", f"step {step_key} fired under {len(ids)} escalation ids")
    for step in raised.values():
        due, at = _instant(step["due_at"]), _instant(step["fired_at"])
        lateness.append(at - due)
        met = _met_at(by_case[step["case_id"]], step["milestone"], step["cycle"])
        if met is not None and met < due:
            verdict.suspects.add(step["case_id"])
            margin = round(due - met, 2)
            verdict.figures["false_margin_max_s"] = max(
                margin, verdict.figures.get("false_margin_max_s", 0.0)
            )
            verdict.add(
                "false_escalation",
                f"{step['milestone']} {step['step']} of {step['case_id']} due {step['due_at']} "
                f"fired although met {due - met:.2f} s before due",
            )
    verdict.figures["steps_fired"] = len(raised)
    verdict.figures["late"] = sum(value > LATE_SECONDS for value in lateness)
    verdict.figures["fire_lag_max_s"] = round(max(lateness, default=0.0), 2)
    _expected(verdict, mine, by_case, fired)
    _delivered(verdict, raised, outside)


def _expected(
    verdict: Verdict,
    mine: dict[str, Any],
    by_case: dict[str, list[Record]],
    fired: dict[tuple[str, str, int, str, int], set[str]],
) -> None:
    for case_id, case in mine.items():
        if case.script != "neglected":
            continue
        opened = _instant(case.opened.reply["opened_at"])
        due = _instant(case.opened.reply["due"]["first_response"])
        met = _met_at(by_case[case_id], "first_response", 1)
        for step, when in first_response_ladder(opened, due).items():
            if (met is None or met >= when + 0.5) and not fired.get(
                (case_id, "first_response", 1, step, 0)
            ):
                verdict.pending.append(f"{step} of {case_id}")
                verdict.add(
                    "missed_step", f"first_response {step} of {case_id} due {when:.1f} never fired"
                )


def _delivered(verdict: Verdict, raised: dict[str, dict[str, Any]], outside: Outside) -> None:
    log: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in outside.deliveries:
        log[(str(row["escalation_id"]), row["recipient"])].append(row)
    heard: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for item in outside.received:
        body = item.json()
        key = (str(body["escalation"]["escalation_id"]), str(body["recipient"]))
        heard[key][str(body["notice_id"])] += 1
    resent = 0
    for escalation_id, step in raised.items():
        audiences = step["audience"] if isinstance(step["audience"], list) else [step["audience"]]
        for audience in audiences:
            key = (escalation_id, audience)
            rows = log.get(key, [])
            if len(rows) != 1 or rows[0]["status"] != "delivered":
                verdict.pending.append(f"delivery {key}")
                verdict.add("undelivered", f"{key}: delivery log {[r['status'] for r in rows]}")
            notices = heard.get(key, Counter())
            if len(notices) > 1:
                verdict.add(
                    "duplicated_notice", f"{key} reached the receiver as {len(notices)} notices"
                )
            elif not notices:
                verdict.add("undelivered", f"{key} never reached the receiver")
            resent += sum(notices.values()) - len(notices)
    verdict.figures["notices_resent_same_id"] = resent


def _callbacks(
    load: Load, verdict: Verdict, by_case: dict[str, list[Record]], outside: Outside
) -> None:
    by_callback: dict[str, list[Any]] = defaultdict(list)
    for lease in load.leases:
        by_callback[lease.callback_id].append(lease)
    for callback_id, leases in by_callback.items():
        leases.sort(key=lambda lease: lease.leased_at)
        for earlier, later in pairwise(leases):
            answered = (
                earlier.outcome.answered_at
                if earlier.outcome and earlier.outcome.final == "ok"
                else None
            )
            held_until = min(earlier.expires_at, answered or earlier.expires_at)
            if later.leased_at < held_until - 0.5:
                verdict.add("double_lease", f"callback {callback_id} leased twice at once")
    # Event ids per callback: one id on two records is a publish sent again (decision 0101),
    # counted as republished; two ids are two outcomes.
    records_of: Counter[str] = Counter()
    ids_of: dict[str, set[str]] = defaultdict(set)
    for records in by_case.values():
        for r in records:
            if r.value.get("type") == "revisit_outcome_recorded":
                callback = str(r.value["payload"].get("callback_id"))
                records_of[callback] += 1
                ids_of[callback].add(str(r.value.get("event_id")))
    recorded = Counter({callback: len(ids) for callback, ids in ids_of.items()})
    for callback, ids in ids_of.items():
        _republished(verdict, records_of[callback] - len(ids))
    outcomes = 0
    for callback_id, leases in by_callback.items():
        answered = [lease for lease in leases if lease.outcome and lease.outcome.final == "ok"]
        outcomes += len(answered)
        if recorded[callback_id] > 1:
            verdict.add(
                "duplicated_outcome", f"callback {callback_id}: {recorded[callback_id]} outcomes"
            )
        elif answered and not recorded[callback_id]:
            verdict.add(
                "lost_outcome", f"callback {callback_id}: outcome answered 200, no case event"
            )
        unsure = [
            lease
            for lease in leases
            if lease.outcome
            and lease.outcome.first == "indeterminate"
            and lease.outcome.final != "ok"
        ]
        if unsure and not answered and not recorded[callback_id]:
            verdict.add("unresolved", f"callback {callback_id}: outcome never confirmed")
    verdict.figures["leases"] = len(load.leases)
    verdict.figures["revisits_answered"] = outcomes


def evidence(outside: Outside, case_ids: set[str]) -> dict[str, Any]:
    """Every record of these cases on both topics, with partition, offset and append time."""
    found: dict[str, Any] = {}
    for case_id in sorted(case_ids):
        found[case_id] = [
            {
                "topic": topic,
                "partition": r.partition,
                "offset": r.offset,
                "ts": r.timestamp,
                "type": r.value.get("type"),
                "recorded_at": r.value.get("recorded_at"),
                "payload": r.value.get("payload"),
            }
            for topic, records in (("events", outside.events), ("escalations", outside.escalations))
            for r in records
            if str(r.value.get("case_id")) == case_id
        ]
    return found
