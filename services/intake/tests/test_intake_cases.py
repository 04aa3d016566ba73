"""The pure builders: ids, fingerprints, events and due times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from casegold_contracts import CaseOpened, dump, parse
from casegold_intake.cases import fingerprint, ids_for, open_case
from casegold_intake.models import CaseRequest
from casegold_intake.sla_terms import SlaPolicy
from casegold_intake.testing import FIXED_NOW, case_body, small_policy
from casegold_platform.http import Principal

IVR = Principal("ivr-gw", "ivr")


def request(**overrides: object) -> CaseRequest:
    return CaseRequest.model_validate(case_body(**overrides))


def test_a_keyed_request_always_gets_the_same_ids() -> None:
    digest = fingerprint("case", request())
    assert ids_for(IVR, "k", digest) == ids_for(IVR, "k", digest)
    assert ids_for(IVR, "k", digest) != ids_for(Principal("other", "ivr"), "k", digest)
    assert ids_for(IVR, "k", digest) != ids_for(IVR, "k2", digest)
    assert ids_for(IVR, None, digest) != ids_for(IVR, None, digest)


def test_a_different_body_under_the_same_key_never_shares_an_event_id() -> None:
    one = ids_for(IVR, "k", fingerprint("case", request()))
    other = ids_for(IVR, "k", fingerprint("case", request(summary="Other")))
    assert one.event_id != other.event_id and one.case_id != other.case_id


def test_fingerprints_ignore_spelling_but_not_meaning() -> None:
    spaced = request(customer={"phone": "+86 138 0013 8000", "name": "Li Wei",
                               "timezone": "Asia/Shanghai"})  # fmt: skip
    compact = request(customer={"phone": "+8613800138000", "name": "Li Wei",
                                "timezone": "Asia/Shanghai"})  # fmt: skip
    assert fingerprint("case", spaced) == fingerprint("case", compact)
    assert fingerprint("case", spaced) != fingerprint("mention", spaced)
    local = request(occurred_at="2025-06-02T17:00:00+08:00")
    utc = request(occurred_at="2025-06-02T09:00:00Z")
    assert fingerprint("case", local) == fingerprint("case", utc)


def test_the_event_round_trips_through_the_contract_codec() -> None:
    event, reply = open_case(
        request(occurred_at="2025-06-01T20:00:00+08:00"),
        principal=IVR,
        ids=ids_for(IVR, "k", b"d"),
        now=FIXED_NOW,
        policy=small_policy(),
        salt="salt",
    )
    decoded = parse(dump(event))
    assert isinstance(decoded, CaseOpened) and decoded == event
    assert decoded.payload.complaint_occurred_at == datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert decoded.occurred_at == decoded.recorded_at == FIXED_NOW == reply.opened_at
    assert len(decoded.payload.customer_key) == 64


def test_due_times_come_from_the_core_clocks_of_the_opened_case() -> None:
    policy = SlaPolicy.from_env()  # the shipped default policy: 3.15 halves the targets

    def terms(now: datetime) -> dict[str, datetime]:
        _, reply = open_case(request(priority="P2"), principal=IVR, ids=ids_for(IVR, None, b""),
                             now=now, policy=policy, salt="salt")  # fmt: skip
        return reply.due

    normal = terms(FIXED_NOW)
    assert normal["first_response"] == FIXED_NOW + timedelta(hours=4)
    assert set(normal) == {"first_response", "solution_agreed", "resolution"}
    march = datetime(2025, 3, 15, 2, tzinfo=UTC)
    assert terms(march)["first_response"] == march + timedelta(hours=2)


def test_the_default_priority_is_the_policy_files_rule() -> None:
    policy = SlaPolicy.from_env()  # priority_rules: sensitive → P2, else default_priority P3
    for sensitive, priority in ((True, "P2"), (False, "P3")):
        chosen = policy.default_priority(
            category="product", channel="ivr", dealer_id=None, sensitive=sensitive
        )
        assert chosen == priority
