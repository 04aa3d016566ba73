"""Backward-compatibility check between two JSON Schemas of one event type."""

from typing import Any

Schema = dict[str, Any]

# Keywords whose value may only grow (upper bounds) or only shrink (lower bounds).
_UPPER_BOUNDS = ("maxLength", "maxItems", "maximum", "exclusiveMaximum")
_LOWER_BOUNDS = ("minLength", "minItems", "minimum", "exclusiveMinimum")
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """List the changes from `old` to `new` that could break a consumer; empty when compatible."""
    problems: list[str] = []
    _Comparison(old.get("$defs", {}), new.get("$defs", {}), problems).compare(old, new, "")
    return problems


class _Comparison:
    """One walk over an old and a new schema, collecting breaking changes."""

    def __init__(self, old_defs: Schema, new_defs: Schema, problems: list[str]) -> None:
        self.old_defs, self.new_defs, self.problems = old_defs, new_defs, problems
        self.seen: set[tuple[int, int]] = set()

    def report(self, path: str, change: str) -> None:
        self.problems.append(f"{path or '(root)'}: {change}")

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        old, new = _resolve(old, self.old_defs), _resolve(new, self.new_defs)
        # Recursive models would otherwise loop for ever.
        if (id(old), id(new)) in self.seen:
            return
        self.seen.add((id(old), id(new)))
        old_types, new_types = self.types(old, self.old_defs), self.types(new, self.new_defs)
        if old_types != new_types:
            self.report(path, f"type changed from {_names(old_types)} to {_names(new_types)}")
            return
        if "anyOf" in old or "anyOf" in new:
            self.compare_alternatives(old, new, path)
            return
        self.compare_values(old, new, path)
        self.compare_bounds(old, new, path)
        self.compare_properties(old, new, path)
        if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
            self.compare(old["items"], new["items"], f"{path}[]")

    def types(self, schema: Schema, defs: Schema) -> frozenset[str]:
        schema = _resolve(schema, defs)
        if "anyOf" in schema:
            return frozenset().union(*(self.types(branch, defs) for branch in schema["anyOf"]))
        if "type" in schema:
            kind = schema["type"]
            return frozenset(kind if isinstance(kind, list) else [kind])
        values = _values(schema)
        if values is not None:
            return frozenset(_JSON_TYPES.get(type(value), "object") for value in values)
        if "properties" in schema:
            return frozenset(["object"])
        return frozenset()

    def compare_alternatives(self, old: Schema, new: Schema, path: str) -> None:
        new_branches = new.get("anyOf", [new])
        for branch in old.get("anyOf", [old]):
            kinds = self.types(branch, self.old_defs)
            match = next(
                (other for other in new_branches if self.types(other, self.new_defs) == kinds),
                None,
            )
            if match is None:
                self.report(path, f"alternative {_names(kinds)} removed or reshaped")
            else:
                self.compare(branch, match, path)

    def compare_values(self, old: Schema, new: Schema, path: str) -> None:
        old_values, new_values = _values(old), _values(new)
        if new_values is None:
            return
        if old_values is None:
            self.report(path, f"now restricted to {sorted(map(str, new_values))}")
            return
        removed = old_values - new_values
        if removed:
            self.report(path, f"enum value(s) removed: {sorted(map(str, removed))}")

    def compare_bounds(self, old: Schema, new: Schema, path: str) -> None:
        for key in _UPPER_BOUNDS:
            if key in new and (key not in old or new[key] < old[key]):
                self.report(path, f"{key} tightened from {old.get(key)} to {new[key]}")
        for key in _LOWER_BOUNDS:
            if key in new and (key not in old or new[key] > old[key]):
                self.report(path, f"{key} tightened from {old.get(key)} to {new[key]}")
        if "pattern" in new and new.get("pattern") != old.get("pattern"):
            self.report(path, f"pattern changed from {old.get('pattern')} to {new['pattern']}")

    def compare_properties(self, old: Schema, new: Schema, path: str) -> None:
        old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        prefix = f"{path}." if path else ""
        for name, schema in old_properties.items():
            if name not in new_properties:
                self.report(f"{prefix}{name}", "property removed")
            else:
                self.compare(schema, new_properties[name], f"{prefix}{name}")
        for name in sorted(new_required - old_required):
            change = "optional property became required" if name in old_properties else None
            self.report(f"{prefix}{name}", change or "new required property")


def _resolve(schema: Schema, defs: Schema) -> Schema:
    while "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def _values(schema: Schema) -> frozenset[Any] | None:
    if "const" in schema:
        return frozenset([schema["const"]])
    if "enum" in schema:
        return frozenset(schema["enum"])
    return None


def _names(kinds: frozenset[str]) -> str:
    return "|".join(sorted(kinds)) or "any"
