"""Phone numbers are masked in every log line; ids and timestamps are left alone."""

from __future__ import annotations

import logging

import pytest

from casegold_intake.masking import PhoneMaskFilter, mask_phones, mask_processor


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call +86 138-0013-8000 now", "call ***00 now"),
        ("phone=13800138000", "phone=***00"),
        ("(010) 6552 9988", "***88"),
    ],
)
def test_phone_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_phones(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "case 5ca532cd-a6eb-5366-a23f-930b1c7f6832",
        "at 2025-06-02T09:00:00.123456Z",
        "took 1234 ms",
        "offset 123456",
    ],
)
def test_ids_times_and_small_numbers_survive(text: str) -> None:
    assert mask_phones(text) == text


def test_structlog_values_and_stdlib_records_are_masked() -> None:
    event = mask_processor(None, "info", {"event": "x", "customer": {"phone": "13800138000"}})
    assert event["customer"] == {"phone": "***00"}
    record = logging.LogRecord("t", logging.INFO, "f", 1, "bad phone %s", ("13800138000",), None)
    assert PhoneMaskFilter().filter(record)
    assert record.getMessage() == "bad phone ***00"
