"""JSON Schemas of every event type: render, write, and check against the committed files.

Usage: python -m casegold_contracts.schemas {write,check} [--dir DIR] [--allow-breaking]
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .compat import breaking_changes
from .registry import EVENT_TYPES

# libs/contracts/schemas, next to src/ in the repository checkout.
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def event_schema(event_type: str) -> dict[str, Any]:
    """Return the full envelope JSON Schema of one event type at its current version."""
    spec = EVENT_TYPES[event_type]
    schema = spec.model.model_json_schema()
    # The base envelope declares 1; the schema states the version this file describes.
    schema["properties"]["schema_version"]["default"] = spec.version
    return {"$schema": _DRAFT, **schema}


def schema_filename(event_type: str, version: int) -> str:
    """Return the committed file name of one version of an event type's schema."""
    return f"{event_type}.v{version}.json"


def render(schema: dict[str, Any]) -> str:
    """Render a schema the way it is committed: stable key order, two-space indent."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def current_schemas() -> dict[str, dict[str, Any]]:
    """Return the current schema of every event type, keyed by file name."""
    return {
        schema_filename(name, spec.version): event_schema(name)
        for name, spec in EVENT_TYPES.items()
    }


def _committed(directory: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.v*.json"))
    }


def _split(filename: str) -> tuple[str, int]:
    stem = filename.removesuffix(".json")
    event_type, _, version = stem.rpartition(".v")
    return event_type, int(version)


def incompatibilities(directory: Path = SCHEMA_DIR) -> list[str]:
    """List breaking changes between the committed schemas and the current models."""
    problems: list[str] = []
    current = current_schemas()
    for filename, old in _committed(directory).items():
        event_type, version = _split(filename)
        spec = EVENT_TYPES.get(event_type)
        if spec is None:
            problems.append(f"{event_type}: type has a committed schema but no longer exists")
        elif version > spec.version:
            problems.append(f"{event_type}: committed v{version} is newer than v{spec.version}")
        elif version == spec.version:
            problems.extend(
                f"{event_type}: {change}" for change in breaking_changes(old, current[filename])
            )
    return problems


def stale_files(directory: Path = SCHEMA_DIR) -> list[str]:
    """List current schema files that are missing or differ from what `write` would produce."""
    committed = _committed(directory)
    return [name for name, schema in current_schemas().items() if committed.get(name) != schema]


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    """Write the current schema of every event type; return the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, schema in current_schemas().items():
        path = directory / filename
        text = render(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(filename)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m casegold_contracts.schemas")
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="schema directory")
    parser.add_argument(
        "--allow-breaking",
        action="store_true",
        help="write even if a change breaks consumers (raise the version instead!)",
    )
    args = parser.parse_args(argv)
    problems = incompatibilities(args.dir)
    if args.command == "write":
        if problems and not args.allow_breaking:
            print("refusing to write breaking changes; raise SCHEMA_VERSION and add an upcaster:")
            print("\n".join(f"  {problem}" for problem in problems))
            return 1
        for filename in write(args.dir):
            print(f"wrote {args.dir / filename}")
        return 0
    stale = stale_files(args.dir)
    for problem in problems:
        print(f"breaking: {problem}")
    for filename in stale:
        print(f"stale: {filename} (run: python -m casegold_contracts.schemas write)")
    return 1 if problems or stale else 0


if __name__ == "__main__":
    sys.exit(main())
