"""Masking of phone numbers in texts that go to logs and stored error columns."""

from __future__ import annotations

import re

# 7 to 15 digits, optionally after "+", in groups split by single spaces or dashes, standing
# alone: not part of a UUID, a timestamp or a longer number.
_PHONE = re.compile(r"(?<![\w-])\+?\d(?:[ -]?\d){6,14}(?![\w-])")


def mask_phones(text: str) -> str:
    """The text with every phone-like number's digits starred but the last four."""
    return _PHONE.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    number = match.group(0)
    digits = sum(ch.isdigit() for ch in number)
    seen = 0
    masked = []
    for ch in number:
        if ch.isdigit():
            seen += 1
            masked.append(ch if seen > digits - 4 else "*")
        else:
            masked.append(ch)
    return "".join(masked)
