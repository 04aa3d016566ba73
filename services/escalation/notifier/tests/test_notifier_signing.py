"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", checked by the receiver."""

import hashlib
import hmac

from casegold_notifier.signing import (
    NOTICE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    signed_headers,
    verify,
)

SECRET = "0123456789abcdef-secret"
BODY = b'{"notice_id":"n-1","title":"Tier 1"}'


def test_the_signature_is_the_documented_hmac() -> None:
    expected = hmac.new(SECRET.encode(), b"1741000000." + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, "1741000000", BODY) == f"sha256={expected}"


def test_headers_carry_notice_id_timestamp_and_signature() -> None:
    headers = signed_headers(SECRET, "n-1", 1_741_000_000, BODY)
    assert headers[NOTICE_ID_HEADER] == "n-1"
    assert headers[TIMESTAMP_HEADER] == "1741000000"
    assert headers[SIGNATURE_HEADER] == signature(SECRET, "1741000000", BODY)
    assert headers["Content-Type"] == "application/json"


def test_a_receiver_accepts_only_fresh_untampered_requests() -> None:
    headers = signed_headers(SECRET, "n-1", 1_741_000_000, BODY)
    assert verify(SECRET, headers, BODY, now=1_741_000_010)
    assert not verify(SECRET, headers, BODY + b" ", now=1_741_000_010)
    assert not verify("another-secret-value", headers, BODY, now=1_741_000_010)
    assert not verify(SECRET, headers, BODY, now=1_741_000_000 + 301)
    assert not verify(SECRET, {**headers, TIMESTAMP_HEADER: "1741000001"}, BODY, 1_741_000_010)
    assert not verify(SECRET, {}, BODY, now=1_741_000_010)
