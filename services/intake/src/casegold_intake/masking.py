"""Phone numbers never reach the logs: every log line is masked before it is rendered."""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any, Final

import structlog

from casegold_platform.logging import configure

# 7+ digits with the separators people type; not inside a word, so ids and ISO times survive.
_PHONE: Final = re.compile(r"(?<![\w-])[+(]?\d[\d \-().]{5,}\d(?![\w-])")


def _mask_match(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(char.isdigit() for char in text)
    return f"***{text[-2:]}" if digits >= 7 else text


def mask_phones(text: str) -> str:
    """The text with every phone-like number reduced to its last two digits."""
    return _PHONE.sub(_mask_match, text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phones(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def mask_processor(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor masking phone numbers in every value."""
    for key, value in event_dict.items():
        event_dict[key] = _masked(value)
    return event_dict


class PhoneMaskFilter(logging.Filter):
    """Masks phone numbers in stdlib log records (uvicorn, aiokafka, asyncpg)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str) -> None:
    """The platform's JSON logs, with phone masking in front of every renderer."""
    configure("intake", level)
    processors = structlog.get_config()["processors"]
    if mask_processor not in processors:
        structlog.configure(processors=[mask_processor, *processors])
    for handler in logging.getLogger().handlers:
        handler.addFilter(PhoneMaskFilter())
