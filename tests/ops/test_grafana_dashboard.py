"""The provisioned Grafana dashboard: valid queries over names that exist, sound layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.metric_names import known, rules_file, selected, unknown_in
from tests.ops.tools import DEPLOY, run, tool

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "casegold-overview.json"
DATASOURCE_UID = "casegold-prometheus"
# What the dashboard must show (issue 15): a metric that each part of it needs.
MUST_SHOW = {
    "intake rate and errors": "casegold_http_requests_total",
    "open backlog by priority": "casegold_open_cases",
    "breaches": "milestone_priority:casegold_sla_breaches:rate5m",
    "escalations by tier": "tier:casegold_escalations:rate5m",
    "fire lag": "casegold:escalation_fire_lag_seconds:p99_5m",
    "callback queue": "casegold_callbacks_due",
    "notification failures": "channel:casegold_notification_failure_ratio:rate10m",
    "consumer lag": "service_topic:casegold_consumer_lag:sum",
}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def query_panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def exprs() -> dict[str, str]:
    return {
        f"{panel['id']}_{target['refId']}": target["expr"]
        for panel in query_panels()
        for target in panel["targets"]
    }


def test_every_panel_queries_the_provisioned_prometheus() -> None:
    panels = query_panels()
    assert len(panels) >= 8
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip(), f"panel {panel['title']!r} has an empty query"
            assert target["datasource"]["uid"] == DATASOURCE_UID
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_every_metric_a_panel_uses_is_a_known_name() -> None:
    names = known()
    problems = {
        panel["title"]: unknown_in(target["expr"], names)
        for panel in query_panels()
        for target in panel["targets"]
        if unknown_in(target["expr"], names)
    }
    assert problems == {}


def test_the_dashboard_shows_each_part_the_operators_need() -> None:
    used = set().union(*(selected(expr) for expr in exprs().values()))
    missing = {part: name for part, name in MUST_SHOW.items() if name not in used}
    assert missing == {}


def test_promtool_parses_every_panel_query(tmp_path: Path) -> None:
    path = rules_file(exprs(), tmp_path / "panels.yml")
    output = run(tool("promtool"), "check", "rules", str(path))
    assert f"{len(exprs())} rules found" in output


def test_panel_ids_are_unique_and_panels_do_not_overlap() -> None:
    panels = dashboard()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    taken: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


def test_titles_are_unique_and_every_panel_says_what_it_shows() -> None:
    titles = [panel["title"] for panel in dashboard()["panels"]]
    assert len(titles) == len(set(titles))
    for panel in query_panels():
        assert len(panel.get("description", "")) > 20, panel["title"]


def test_provisioning_points_at_the_dashboard_and_the_datasource_uid() -> None:
    board = dashboard()
    assert board["uid"] == "casegold-overview"
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert (source["uid"], source["type"]) == (DATASOURCE_UID, "prometheus")
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/casegold.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (status) (rate(a_total{route="/v1/x", b="c"}[5m]))', {"a_total"}),
        ("histogram_quantile(0.9, sum by (le) (rate(h_bucket[1h])))", {"h_bucket"}),
        ("x:y:rate5m / on (channel) group_left z > 0 and bool w", {"x:y:rate5m", "z", "w"}),
        ('increase({__name__=~"m_(a|b)_total"}[15m])', {"~m_(a|b)_total"}),
    ],
)
def test_names_are_read_from_queries(expr: str, names: set[str]) -> None:
    assert selected(expr) == names


def test_an_unknown_name_is_reported() -> None:
    assert unknown_in("rate(casegold_no_such_thing_total[5m])", known()) == {
        "casegold_no_such_thing_total"
    }
