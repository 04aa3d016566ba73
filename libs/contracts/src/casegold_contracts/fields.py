"""Constrained field types shared by the envelope and the payloads."""

import re
from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    StringConstraints,
    WithJsonSchema,
)

# Free text limits: generous for people, small enough that one event stays far below
# the broker's message size and the intake body limit (64 KiB).
SHORT_TEXT_MAX: Final = 200
SUMMARY_MAX: Final = 500
REASON_MAX: Final = 1_000
NOTE_MAX: Final = 5_000
DESCRIPTION_MAX: Final = 10_000
CATEGORY_MAX: Final = 64
URL_MAX: Final = 2_048

_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_PHONE_SHAPE = re.compile(r"\+?[0-9]{7,20}")


def normalise_phone(phone: str) -> str:
    """Drop spaces, dashes, dots and parentheses; raise ValueError unless 7–20 digits remain."""
    compact = _PHONE_SEPARATORS.sub("", phone)
    if not _PHONE_SHAPE.fullmatch(compact):
        raise ValueError("phone must be 7 to 20 digits with an optional leading +")
    return compact


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    """Render an aware datetime as RFC 3339 in UTC with a `Z` suffix."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Naive datetimes are refused: a time without an offset is ambiguous across services. Held in
# UTC once validated, so pydantic-core's own JSON form of the field is `rfc3339` of it, byte for
# byte (decision 0146), without a Python call per field.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]

# Input may carry separators; the wire (and so the schema) holds the normalised form.
Phone = Annotated[
    str,
    AfterValidator(normalise_phone),
    WithJsonSchema({"type": "string", "pattern": r"^\+?[0-9]{7,20}$"}),
]

ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SHORT_TEXT_MAX)
]
Category = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=CATEGORY_MAX)
]
Summary = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SUMMARY_MAX)
]
ReasonText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REASON_MAX)
]
NoteText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NOTE_MAX)
]
# An IVR call may carry no description, so empty is allowed here (not for the summary).
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX)]
Timezone = Annotated[
    str, StringConstraints(max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
]
Locale = Annotated[
    str, StringConstraints(max_length=35, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")
]
CustomerKey = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Url = Annotated[str, StringConstraints(max_length=URL_MAX, pattern=r"^https?://\S+$")]
