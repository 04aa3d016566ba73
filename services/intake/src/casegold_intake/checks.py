"""Checks of a request beyond its shape (pure), and 422 problems that never echo a value.

A submitted value may be a phone number typed into the wrong field: no 422 message carries
one back, and none goes to the logs (decision 0026).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Final

from pydantic import BaseModel

Loc = tuple[str | int, ...]
Problem = dict[str, Any]

# Tab and newline are text; any other control character (NUL above all: PostgreSQL's jsonb
# refuses it downstream) is refused at the door, naming the field.
# Unicode's Cc category is exactly C0 and C1 (U+0000-001F, U+007F-009F); tab and newline
# are allowed. One regex search in C instead of a category lookup per character.
_FORBIDDEN_CONTROL: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Where such a character can come from in a body that parsed as JSON: the parser refuses a raw
# C0 character inside a string, so only an escape (\u00XX, \b, \f, \r), a raw DEL or a raw
# C1 character (UTF-8 C2 80-9F) can make one. A body without any of these holds none, and
# the walk over every text field is skipped; a false alarm (\u00e9) only costs that walk.
_MAYBE_CONTROL: Final = re.compile(rb"\\u00[0-9a-fA-F]{2}|\\[bfr]|\x7f|\xc2[\x80-\x9f]")
_ECHO_MIN: Final = 3


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def problem(loc: Loc, msg: str, kind: str) -> Problem:
    """One 422 entry."""
    return {"loc": list(loc), "msg": msg, "type": kind}


def field_problem(error: Mapping[str, Any], prefix: Loc = ()) -> Problem:
    """A pydantic error as a 422 entry, its message replaced when it would echo the input."""
    loc = (*prefix, *error["loc"])
    kind = str(error["type"])
    if kind == "union_tag_invalid" and "ctx" in error:
        expected = error["ctx"].get("expected_tags", "")
        return problem(loc, f"unknown command; expected one of: {expected}", kind)
    msg = str(error["msg"])
    if any(value in msg for value in _strings(error.get("input"))):
        msg = f"invalid value ({kind})"
    return problem(loc, msg, kind)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif value is not None and not isinstance(value, bool):
        text = str(value)
        if len(text) >= _ECHO_MIN:
            yield text


def forbidden_control(text: str) -> bool:
    """Whether the text holds a control character (Unicode Cc) other than tab or newline."""
    return _FORBIDDEN_CONTROL.search(text) is not None


def may_hold_control(raw: bytes) -> bool:
    """False only when a JSON body that parsed cannot hold a forbidden control character."""
    return _MAYBE_CONTROL.search(raw) is not None


def control_characters(body: BaseModel, prefix: Loc = ("body",)) -> list[Problem]:
    """Every text field holding a control character other than tab or newline."""
    return [
        problem(loc, "control characters other than tab and newline are not allowed", "string")
        for loc, text in _texts(body.model_dump(mode="python"), prefix)
        if forbidden_control(text)
    ]


def _texts(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, Mapping):
        for name, item in value.items():
            yield from _texts(item, (*loc, str(name)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _texts(item, (*loc, index))


def unknown_timezone(timezone: str | None, loc: Loc) -> list[Problem]:
    """A problem when the zone is not in the IANA database of this host."""
    if timezone is None or timezone in _zones():
        return []
    return [problem(loc, "not an IANA time zone (e.g. Asia/Shanghai)", "timezone")]


def past_due(due_at: datetime, now: datetime, skew: timedelta, loc: Loc) -> list[Problem]:
    """A problem when a promise falls due before now, beyond the clock-skew allowance."""
    if due_at >= now - skew:
        return []
    return [problem(loc, "a promised callback cannot be due in the past", "datetime_past")]


def all_problems(groups: Sequence[list[Problem]]) -> list[Problem]:
    """The problems of every check, in order."""
    return [item for group in groups for item in group]
