"""The Grafana dashboard queries only metrics (and labels) the services actually export."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

from services.common import observability

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "zuofeng-overview.json"


def exported() -> dict[str, set[str]]:
    """Series name → label names, for every metric the kernel defines."""
    series: dict[str, set[str]] = {}
    for metric in vars(observability).values():
        if isinstance(metric, Counter):
            series[f"{metric._name}_total"] = set(metric._labelnames)
        elif isinstance(metric, Gauge):
            series[metric._name] = set(metric._labelnames)
        elif isinstance(metric, Histogram):
            for suffix in ("_bucket", "_sum", "_count"):
                series[metric._name + suffix] = set(metric._labelnames) | ({"le"} if suffix == "_bucket" else set())
    return series


def expressions(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_is_valid_grafana_json_with_unique_panels():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]) and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def test_every_query_uses_exported_metrics_and_labels():
    series = exported()
    assert "zuofeng_sla_breaches_total" in series and "zuofeng_consumer_lag" in series
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used = set()
    for expr in expressions(dashboard):
        names = re.findall(r"\b(zuofeng_[a-z_]+)", expr)
        assert names, expr
        for name in names:
            assert name in series, f"{name} is not exported: {expr}"
            used.add(name)
            for selector in re.findall(rf"{name}\{{([^}}]*)\}}", expr):
                for label in re.findall(r"([a-z_]+)\s*[=!~]+", selector):
                    assert label in series[name], f"{name} has no label {label}"
        for group in re.findall(r"by \(([^)]*)\)", expr):
            labels = {g.strip() for g in group.split(",")}
            assert any(labels <= series[n] for n in names), f"grouping by {labels}: {expr}"
    # Requests, Kafka lag, outbox backlog, dead letters and SLA breaches are all on the board.
    for required in ("zuofeng_http_requests_total", "zuofeng_http_request_seconds_bucket", "zuofeng_consumer_lag",
                     "zuofeng_outbox_backlog", "zuofeng_dlq_events_total", "zuofeng_sla_breaches_total"):
        assert required in used
