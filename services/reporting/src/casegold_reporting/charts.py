"""The weekly report's charts: SVG rendered on the server by pygal (no script, no CDN)."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any, Final

import pygal  # type: ignore[import-untyped]  # pygal ships no type information
from pygal.style import Style  # type: ignore[import-untyped]

from casegold_reporting.report_models import Weekly

# pygal appends a legacy import hook for its map plugins (unused here) that has no
# `find_spec`; tools walking sys.meta_path (pytest's collector) fail on it. Drop it.
sys.meta_path[:] = [
    finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"
]

_STYLE: Final = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1d2430",
    foreground_strong="#1d2430",
    foreground_subtle="#5b6575",
    font_family="system-ui, sans-serif",
    colors=("#3a7bd5", "#c0392b", "#2f8f4e", "#c98a00", "#6c4ab6", "#16a3a3", "#7f8c8d"),
    value_font_size=11,
    label_font_size=11,
    major_label_font_size=11,
    title_font_size=14,
)
TOP: Final = 12


def _chart(kind: type[Any], title: str, labels: Sequence[str], **options: Any) -> Any:
    chart = kind(
        style=_STYLE, js=[], disable_xml_declaration=True, width=880, height=320,
        print_values=True, print_zeroes=False, legend_at_bottom=True, truncate_label=-1,
        x_label_rotation=0, **options,
    )  # fmt: skip
    chart.title = title
    chart.x_labels = list(labels)
    return chart


# pygal always embeds its tooltip configuration as a script, and a comment with the date:
# the page needs neither (no script runs; the same data gives the same page).
_SCRIPTS: Final = re.compile(r"<script[^>]*>.*?</script>|<!--.*?-->", re.DOTALL)


def _svg(chart: Any) -> str:
    return _SCRIPTS.sub("", str(chart.render(is_unicode=True)))


def volume(report: Weekly) -> str:
    """Cases opened per day, stacked by category."""
    days = sorted({v.day for v in report.volume})
    categories = sorted({v.category for v in report.volume})
    chart = _chart(pygal.StackedBar, "Cases opened per day, by category",
                   [f"{d:%a %d %b}" for d in days], show_legend=True)  # fmt: skip
    counts = {(v.day, v.category): v.cases for v in report.volume}
    for category in categories:
        chart.add(category, [counts.get((day, category), 0) for day in days])
    return _svg(chart)


def compliance(report: Weekly) -> str:
    """SLA compliance per milestone, in percent of the clocks that ended this week."""
    rows = [c for c in report.summary.compliance if c.percent is not None]
    chart = _chart(pygal.Bar, "SLA compliance per milestone (%)", [c.milestone for c in rows],
                   range=(0, 100), show_legend=False)  # fmt: skip
    chart.add("met %", [c.percent for c in rows])
    return _svg(chart)


def escalations(report: Weekly) -> str:
    """Escalation steps fired per tier."""
    tiers = report.summary.escalations.by_tier
    chart = _chart(pygal.Bar, "Escalations per tier", list(tiers), show_legend=False)
    chart.add("steps", list(tiers.values()))
    return _svg(chart)


def root_causes(report: Weekly) -> str:
    """The top root causes of the week's resolutions."""
    causes = report.summary.root_causes
    chart = _chart(pygal.HorizontalBar, "Top root causes (resolutions)",
                   [c.category for c in causes], show_legend=False)  # fmt: skip
    chart.add("cases", [c.cases for c in causes])
    return _svg(chart)


def dealers(report: Weekly) -> str:
    """Cases of the dealers with most cases; flagged ones in their own colour."""
    top = report.dealers.dealers[:TOP]
    chart = _chart(pygal.Bar, f"Cases per dealer (flagged: z ≥ {report.dealers.flag_z:g})",
                   [d.dealer_id for d in top], show_legend=True)  # fmt: skip
    chart.add("not flagged", [None if d.flagged else d.cases for d in top])
    chart.add("flagged", [d.cases if d.flagged else None for d in top])
    return _svg(chart)


def agents(report: Weekly) -> str:
    """Open load of the most loaded agents, and how much of it is overdue."""
    top = report.agents.agents[:TOP]
    chart = _chart(pygal.Bar, "Agent load: open and overdue cases", [a.owner for a in top],
                   show_legend=True)  # fmt: skip
    chart.add("open", [a.open for a in top])
    chart.add("overdue", [a.overdue for a in top])
    return _svg(chart)


CHARTS: Final = {
    "volume": volume, "compliance": compliance, "escalations": escalations,
    "root-causes": root_causes, "dealers": dealers, "agents": agents,
}  # fmt: skip


def render_all(report: Weekly) -> dict[str, str]:
    """Every chart of the weekly report, by name."""
    return {name: draw(report) for name, draw in CHARTS.items()}
