"""Hypothesis strategies for valid events, derived from the models' JSON Schemas (tests only)."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

from hypothesis import strategies as st

from .envelope import Event
from .registry import EVENT_TYPES

# Short strings keep examples fast; the length limits have their own tests.
_TEXT_CAP = 40
_ARRAY_CAP = 3

_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=_offsets
)
utc_datetimes = aware_datetimes.map(lambda value: value.astimezone(UTC))


def _string(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if schema.get("format") == "date-time":
        return aware_datetimes
    if schema.get("format") == "uuid":
        return st.uuids()
    low = schema.get("minLength", 0)
    high = min(schema.get("maxLength", _TEXT_CAP), max(low, _TEXT_CAP))
    if "pattern" in schema:
        # Anchors are dropped for fullmatch: hypothesis lets `$` match before a final newline.
        pattern = schema["pattern"].removeprefix("^").removesuffix("$")
        longest = schema.get("maxLength", 10_000)
        matching = st.from_regex(pattern, fullmatch=True)
        return matching.filter(lambda text: low <= len(text) <= longest)
    return st.text(min_size=low, max_size=high)


def from_schema(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Return a strategy for (mostly) valid values of a pydantic-generated JSON Schema."""
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return st.one_of([from_schema(branch, defs) for branch in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        low, high = schema.get("minimum", -(2**40)), schema.get("maximum", 2**40)
        return st.integers(min_value=low, max_value=high)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", _ARRAY_CAP), max(low, _ARRAY_CAP))
        items = from_schema(schema.get("items", {}), defs)
        return st.lists(items, min_size=low, max_size=high)
    if kind == "object":
        return _object(schema, defs)
    raise ValueError(f"no strategy for schema {schema!r}")


def _object(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {name: from_schema(sub, defs) for name, sub in properties.items() if name in required},
        optional={
            name: from_schema(sub, defs) for name, sub in properties.items() if name not in required
        },
    )


def events_of(event_type: str) -> st.SearchStrategy[Event]:
    """Return a strategy for valid events of one type (invalid draws are filtered out)."""
    model = EVENT_TYPES[event_type].model
    schema = model.model_json_schema()
    # The envelope's type and version are fixed per event class, not free values.
    schema["properties"]["type"] = {"const": event_type}
    schema["properties"]["schema_version"] = {"const": model.SCHEMA_VERSION}
    schema["required"] = [*schema["required"], "type", "schema_version"]
    raw = from_schema(schema, schema.get("$defs", {}))
    return raw.map(_validate(model)).filter(lambda event: event is not None).map(cast_event)


def _validate(model: type[Event]) -> Any:
    def validate(data: dict[str, Any]) -> Event | None:
        # Cross-field rules (step vs tier, score on satisfied) are not in the schema.
        try:
            return model.model_validate(data)
        except ValueError:
            return None

    return validate


def cast_event(event: Event | None) -> Event:
    """Narrow after filtering out None."""
    return cast(Event, event)


any_events: st.SearchStrategy[Event] = st.one_of([events_of(name) for name in EVENT_TYPES])
