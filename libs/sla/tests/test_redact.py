"""Phones are masked in error texts; ids, instants and short numbers are left alone."""

from hypothesis import given
from hypothesis import strategies as st

from casegold_sla.redact import mask_phones


def test_phones_in_a_validation_error_are_masked_to_their_last_four_digits() -> None:
    text = (
        "customer.phone: invalid, input_value='+8613912345678'; also 139 1234 5678 or 010-8888-1234"
    )
    assert mask_phones(text) == (
        "customer.phone: invalid, input_value='+*********5678'; also *** **** 5678 or ***-****-1234"
    )


def test_ids_instants_and_short_numbers_stay() -> None:
    text = (
        "case 00000000-0000-4000-8000-00000000ca5e at 2025-03-03T09:00:06.400000+00:00, "
        "order 12315, 13.15 yuan, offset 123456"
    )
    assert mask_phones(text) == text


@given(st.text())
def test_masking_keeps_the_length_and_every_non_digit(text: str) -> None:
    masked = mask_phones(text)
    assert len(masked) == len(text)
    assert all(a == b or (a.isdigit() and b == "*") for a, b in zip(text, masked, strict=True))
