"""Exports parse back: JSON, CSV, Markdown, text, Prometheus exposition."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from incidentkit import metrics
from incidentkit.errors import ValidationError
from incidentkit.metrics import Metric
from incidentkit.metrics.export import CSV_COLUMNS, JSON_SCHEMA, to_prometheus
from incidentkit.severity import Severity

from ._metrics_fixtures import LOGIN, summary


@pytest.fixture
def report() -> metrics.MetricsReport:
    items = [
        LOGIN,
        summary("B", severity=Severity.SEV2, services=("api",), detected=1, resolved=61),
        summary("C", severity=Severity.SEV2, services=("api", 'we"ird\\svc\n'), resolved=None),
        summary("D", severity=Severity.SEV3, services=("api",), started=9, detected=2),
    ]
    return metrics.compute(items, by=("severity", "service"), basis="declared")


def test_json_round_trip(report: metrics.MetricsReport) -> None:
    doc = json.loads(report.to_json())
    assert doc["schema"] == JSON_SCHEMA
    assert doc["unit"] == "seconds"
    assert doc["basis"] == "declared"
    assert doc["percentile_method"] == "nearest-rank"
    assert doc["definitions"]["mttr"] == "resolved_at − declared_at"
    assert doc["by"] == ["severity", "service"]
    overall = doc["overall"]
    assert overall["key"] == {}
    assert overall["incidents"] == 4
    mttr = overall["metrics"]["mttr"]
    assert mttr["definition"] == "resolved_at − declared_at"
    assert mttr["count"] == report.overall[Metric.MTTR].count
    assert mttr["mean"] == report.overall[Metric.MTTR].mean
    assert len(doc["groups"]) == len(report.groups)
    assert doc["groups"][0]["key"] == {"severity": "SEV1", "service": "login"}
    assert doc["data_errors"][0]["incident_id"] == "D"
    assert doc["data_errors"][0]["metric"] == "mttd"
    assert [(b["incident_id"], b["target"], b["over"]) for b in doc["breaches"]] == [
        ("B", "mttr", 1740.0)
    ]
    assert doc["targets"]["acknowledge"]["SEV1"] == 300
    # api: B [0, 61) and D [9, 20) overlap, so no gap yet
    assert doc["overall"]["metrics"]["mtbf"]["overlapping"] == 1
    assert doc["overall"]["metrics"]["mtbf"]["mean"] is None


def test_csv_one_row_per_group_and_metric(report: metrics.MetricsReport) -> None:
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == (1 + len(report.groups)) * len(Metric)
    first = rows[0]
    assert (first["group"], first["severity"], first["metric"]) == ("overall", "", "mttd")
    mttr = next(r for r in rows if r["group"] == "overall" and r["metric"] == "mttr")
    assert mttr["basis"] == "declared"
    assert mttr["definition"] == "resolved_at − declared_at"
    assert float(mttr["mean_seconds"]) == report.overall[Metric.MTTR].mean
    weird = [r for r in rows if r["service"] == 'we"ird\\svc\n']
    assert len(weird) == len(Metric)
    empty = next(r for r in weird if r["metric"] == "mttr")
    assert empty["count"] == "0" and empty["mean_seconds"] == ""


def test_markdown_table(report: metrics.MetricsReport) -> None:
    text = report.to_markdown()
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert table[0] == "| group | metric | n | excluded | mean | p50 | p90 | max |"
    assert len(table) == 2 + (1 + len(report.groups)) * len(Metric)
    assert "| all | MTTR (resolved_at − declared_at) |" in text
    assert "MTTR basis: declared" in text
    assert "D: detected_at" in text  # the data error is printed with the incident id


def test_text_table_prints_definitions_and_basis(report: metrics.MetricsReport) -> None:
    text = report.to_table()
    assert "MTTD (detected_at − started_at)" in text
    assert "MTTR basis: declared" in text
    assert "19m 00s" in text  # the login incident's MTTR from declaration


_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r'(?:\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\\n])*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\\n])*")*)\})?'
    r" (?P<value>-?(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|NaN|[+-]Inf))$"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"')


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def test_prometheus_exposition_parses(report: metrics.MetricsReport) -> None:
    text = report.to_prometheus()
    assert text.endswith("\n")
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    typed: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split()[2]
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name == current and kind == "gauge"
            typed[name] = kind
            continue
        match = _SAMPLE.match(line)
        assert match, line
        assert match["name"] == current  # samples stay with their family
        labels = frozenset((k, _unescape(v)) for k, v in _LABEL.findall(match["labels"] or ""))
        key = (match["name"], labels)
        assert key not in samples, line
        samples[key] = float(match["value"])
    assert "incidentkit_mttr_seconds" in typed
    login = frozenset(
        {("severity", "SEV1"), ("service", "login"), ("basis", "declared"), ("stat", "mean")}
    )
    assert samples[("incidentkit_mttr_seconds", login)] == 19 * 60
    overall = frozenset({("basis", "declared"), ("stat", "p90")})
    assert samples[("incidentkit_mttr_seconds", overall)] == report.overall[Metric.MTTR].p90
    weird = frozenset(
        {("severity", "SEV2"), ("service", 'we"ird\\svc\n'), ("outcome", "excluded_missing")}
    )
    assert samples[("incidentkit_mttd_incidents", weird)] == 0
    excluded = frozenset({("basis", "declared"), ("outcome", "excluded_missing")})
    assert samples[("incidentkit_mttr_incidents", excluded)] == 1
    assert samples[("incidentkit_metrics_data_errors", frozenset({("metric", "mttd")}))] == 1
    assert samples[("incidentkit_target_breaches", frozenset({("target", "mttr")}))] == 1


def test_prometheus_escapes_label_values(report: metrics.MetricsReport) -> None:
    assert 'service="we\\"ird\\\\svc\\n"' in report.to_prometheus()


def test_prometheus_prefix_is_checked(report: metrics.MetricsReport) -> None:
    assert "myorg_mttd_seconds" in to_prometheus(report, prefix="myorg")
    with pytest.raises(ValidationError) as info:
        to_prometheus(report, prefix="my-org")
    assert info.value.field == "prefix"
