"""Webhook signatures: `X-Casegold-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

NOTICE_ID_HEADER: Final = "X-Casegold-Notice-Id"
TIMESTAMP_HEADER: Final = "X-Casegold-Timestamp"
SIGNATURE_HEADER: Final = "X-Casegold-Signature"
# A receiver should refuse a signature older than this (replayed requests).
DEFAULT_TOLERANCE_SECONDS: Final = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for a body sent at `timestamp` (Unix seconds, as text)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, notice_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every Casegold header of one webhook request."""
    stamp = str(timestamp)
    return {
        "Content-Type": "application/json",
        NOTICE_ID_HEADER: notice_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret, stamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver checks: a fresh timestamp and a matching signature (constant time)."""
    stamp = headers.get(TIMESTAMP_HEADER, "")
    given = headers.get(SIGNATURE_HEADER, "")
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance:
        return False
    return hmac.compare_digest(given, signature(secret, stamp, body))
