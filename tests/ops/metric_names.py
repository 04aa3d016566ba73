"""The metric names deploy/ may use: those the code registers, and those SPEC §5 contracts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import yaml

from tests.ops.tools import DEPLOY, ROOT

# Contracted by SPEC §5 (follow-up, reporting) or chosen here for consumer lag, and not
# registered by any service yet: docs/decisions/0065 lists them for checking after a merge.
CONTRACTED: Final = frozenset(
    {
        "casegold_callbacks_due",
        "casegold_callback_oldest_due_age_seconds",
        "casegold_revisit_outcomes_total",
        "casegold_open_cases",
        "casegold_first_response_seconds",
        "casegold_resolution_seconds",
        "casegold_consumer_lag",
        "casegold_reporting_consumer_lag",
    }
)
# Written by Prometheus itself for every target.
BUILT_IN: Final = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
_HISTOGRAM_SUFFIXES: Final = ("_bucket", "_sum", "_count")
_REGISTERED = re.compile(r"""["'](casegold_[a-z_]+)["']""")


def registered() -> set[str]:
    """Every casegold_* name quoted in the services' and libraries' Python sources."""
    names: set[str] = set()
    for folder in ("services", "libs"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(_REGISTERED.findall(path.read_text(encoding="utf-8")))
    return names


def recorded() -> set[str]:
    """The series the recording rules write."""
    groups = yaml.safe_load((DEPLOY / "prometheus" / "recording.yml").read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"]}


def known() -> set[str]:
    """Every name a query may select, histogram series included."""
    base = registered() | CONTRACTED
    series = base | {name + suffix for name in base for suffix in _HISTOGRAM_SUFFIXES}
    return series | recorded() | BUILT_IN


# PromQL words that look like names but are not series.
_KEYWORDS: Final = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"bool", "offset", "inf", "nan"}
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()")


def selected(expr: str) -> set[str]:
    """The metric names an expression selects (by name, or by an exact __name__ matcher)."""
    names = set(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    for pattern in re.findall(r'__name__\s*=~\s*"([^"]+)"', expr):
        names.add("~" + pattern)
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _GROUPING.sub("", text)
    return {name for name in _NAME.findall(text) if name.lower() not in _KEYWORDS} | names


def unknown_in(expr: str, names: set[str]) -> set[str]:
    """Names in an expression that are not in names (a regex matcher must match one of them)."""
    missing = set()
    for name in selected(expr):
        if name.startswith("~"):
            if not any(re.fullmatch(name[1:], known_name) for known_name in names):
                missing.add(name)
        elif name not in names:
            missing.add(name)
    return missing


def rules_file(exprs: dict[str, str], path: Path) -> Path:
    """A rules file recording each expression, so that promtool parses every one."""
    rules = [{"record": f"casegold:check_{key}", "expr": expr} for key, expr in exprs.items()]
    path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
    return path
