"""Render a :class:`~incidentkit.metrics.MetricsReport` as JSON, CSV, Markdown, text or Prometheus.

Every rendering carries the definitions and the MTTR basis. Durations are
seconds in the machine formats (JSON, CSV, Prometheus) and ``1h 05m 30s`` in
the human ones (Markdown, text table).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from incidentkit._time import format_duration
from incidentkit.metrics._model import DIMENSIONS, Figure, Group, Metric, MetricsReport

__all__ = [
    "CSV_COLUMNS",
    "JSON_SCHEMA",
    "to_csv",
    "to_json",
    "to_markdown",
    "to_prometheus",
    "to_table",
]

#: The ``schema`` value of :func:`to_json` output; bumped on incompatible change.
JSON_SCHEMA = "incidentkit.metrics/1"

#: Header of :func:`to_csv` output, one row per group × metric.
CSV_COLUMNS: tuple[str, ...] = (
    "group",
    *DIMENSIONS,
    "metric",
    "basis",
    "definition",
    "incidents",
    "count",
    "excluded_missing",
    "excluded_invalid",
    "overlapping",
    "mean_seconds",
    "p50_seconds",
    "p90_seconds",
    "max_seconds",
)

_STATS = ("mean", "p50", "p90", "max")


def _figure_json(figure: Figure) -> dict[str, Any]:
    return {
        "definition": figure.definition,
        "count": figure.count,
        "total": figure.total,
        "mean": figure.mean,
        "p50": figure.p50,
        "p90": figure.p90,
        "max": figure.max,
        "excluded_missing": figure.excluded_missing,
        "excluded_invalid": figure.excluded_invalid,
        "overlapping": figure.overlapping,
    }


def _group_json(group: Group) -> dict[str, Any]:
    return {
        "key": dict(group.key),
        "incidents": group.incidents,
        "metrics": {f.metric.value: _figure_json(f) for f in group.figures},
    }


def to_json(report: MetricsReport, *, indent: int | None = 2) -> str:
    """A JSON document with a stable schema (:data:`JSON_SCHEMA`).

    Top-level keys: ``schema``, ``unit`` (``"seconds"``), ``basis``,
    ``percentile_method``, ``zone``, ``since``, ``until``, ``by``,
    ``definitions`` (metric → text), ``targets``, ``overall`` and ``groups``
    (each ``{key, incidents, metrics: {mttd: {definition, count, total, mean,
    p50, p90, max, excluded_missing, excluded_invalid, overlapping}, …}}``),
    ``data_errors`` and ``breaches``. Missing statistics are ``null``.
    """
    doc = {
        "schema": JSON_SCHEMA,
        "unit": "seconds",
        "basis": report.basis.value,
        "percentile_method": report.percentile_method,
        "zone": str(report.zone),
        "since": report.since.isoformat() if report.since else None,
        "until": report.until.isoformat() if report.until else None,
        "by": list(report.by),
        "definitions": {m.value: report.definition(m) for m in Metric},
        "targets": report.targets.to_mapping(),
        "overall": _group_json(report.overall),
        "groups": [_group_json(g) for g in report.groups],
        "data_errors": [
            {
                "incident_id": e.incident_id,
                "metric": e.metric.value,
                "start_field": e.start_field,
                "end_field": e.end_field,
                "start": e.start.isoformat(),
                "end": e.end.isoformat(),
            }
            for e in report.data_errors
        ],
        "breaches": [
            {
                "incident_id": b.incident_id,
                "severity": b.severity.value,
                "target": b.target.value,
                "actual": b.actual,
                "limit": b.limit,
                "over": b.over,
            }
            for b in report.breaches
        ],
    }
    return json.dumps(doc, indent=indent, ensure_ascii=False)


def _all_groups(report: MetricsReport) -> Iterator[tuple[str, Group]]:
    yield "overall", report.overall
    for group in report.groups:
        yield "breakdown", group


def to_csv(report: MetricsReport) -> str:
    """CSV with header :data:`CSV_COLUMNS`: one row per group × metric, overall first.

    ``group`` is ``overall`` or ``breakdown``; the dimension columns hold the
    group's key (empty when not broken down by it); empty statistic cells mean
    no sample.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for kind, group in _all_groups(report):
        key = dict(group.key)
        for f in group.figures:
            writer.writerow(
                [
                    kind,
                    *(key.get(d, "") for d in DIMENSIONS),
                    f.metric.value,
                    report.basis.value if f.metric is Metric.MTTR else "",
                    f.definition,
                    group.incidents,
                    f.count,
                    f.excluded_missing,
                    f.excluded_invalid,
                    f.overlapping,
                    *("" if getattr(f, s) is None else repr(getattr(f, s)) for s in _STATS),
                ]
            )
    return buffer.getvalue()


def _human(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(timedelta(seconds=seconds))


def _rows(report: MetricsReport) -> list[list[str]]:
    rows = []
    for _, group in _all_groups(report):
        for f in group.figures:
            name = f.metric.value.upper()
            rows.append(
                [
                    group.label,
                    f"{name} ({f.definition})",
                    str(f.count),
                    str(f.excluded),
                    *(_human(getattr(f, s)) for s in _STATS),
                ]
            )
    return rows


_HEADER = ["group", "metric", "n", "excluded", "mean", "p50", "p90", "max"]


def _footer(report: MetricsReport) -> list[str]:
    lines = [
        f"MTTR basis: {report.basis.value}; percentiles: {report.percentile_method}; "
        f"incidents: {report.incidents}; data errors: {len(report.data_errors)}; "
        f"target breaches: {len(report.breaches)}"
    ]
    lines.extend(f"data error: {e}" for e in report.data_errors[:20])
    if len(report.data_errors) > 20:
        lines.append(f"… and {len(report.data_errors) - 20} more data errors")
    return lines


def to_markdown(report: MetricsReport) -> str:
    """A Markdown table (group, metric with its definition, n, excluded, mean, p50, p90, max)."""
    lines = [
        "| " + " | ".join(_HEADER) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(_HEADER))) + "|",
    ]
    for row in _rows(report):
        cells = [c.replace("|", "\\|") for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(_footer(report))
    return "\n".join(lines) + "\n"


def to_table(report: MetricsReport) -> str:
    """A plain-text table for terminals, with the same columns as :func:`to_markdown`."""
    rows = [_HEADER, *_rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    out = []
    for row in rows:
        out.append(
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    out.extend(_footer(report))
    return "\n".join(out) + "\n"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    body = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sorted(pairs))
    return "{" + body + "}"


_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def to_prometheus(report: MetricsReport, *, prefix: str = "incidentkit") -> str:
    """The Prometheus text exposition format (version 0.0.4), all gauges, seconds as unit.

    Per metric ``m``: ``<prefix>_<m>_seconds{…,stat="mean|p50|p90|max"}`` and
    ``<prefix>_<m>_incidents{…,outcome="included|excluded_missing|excluded_invalid"}``
    (MTBF also ``outcome="overlapping"``; its ``included`` counts gaps). The
    overall group has no group labels; breakdown groups carry ``severity``,
    ``service`` and/or ``month`` labels. MTTR samples carry ``basis``. Label values
    are escaped (backslash, double quote, newline); a statistic without samples
    is omitted. Also ``<prefix>_metrics_data_errors`` and
    ``<prefix>_target_breaches{target="…"}``.
    """
    if not _LABEL_NAME.match(prefix):
        from incidentkit.errors import ValidationError

        raise ValidationError("prefix", f"not a Prometheus metric name prefix: {prefix!r}")
    lines: list[str] = []
    groups = list(_all_groups(report))
    for metric in Metric:
        text = report.definition(metric)
        extra = [("basis", report.basis.value)] if metric is Metric.MTTR else []
        name = f"{prefix}_{metric.value}_seconds"
        lines.append(f"# HELP {name} {_escape_help(f'{metric.long_name}: {text}')} (seconds)")
        lines.append(f"# TYPE {name} gauge")
        for _, group in groups:
            figure = group[metric]
            for stat in _STATS:
                value = getattr(figure, stat)
                if value is not None:
                    labels = _labels([*group.key, *extra, ("stat", stat)])
                    lines.append(f"{name}{labels} {_number(value)}")
        name = f"{prefix}_{metric.value}_incidents"
        lines.append(
            f"# HELP {name} {_escape_help(f'{metric.long_name}: samples included and excluded')}"
        )
        lines.append(f"# TYPE {name} gauge")
        for _, group in groups:
            figure = group[metric]
            outcomes = [
                ("included", figure.count),
                ("excluded_missing", figure.excluded_missing),
                ("excluded_invalid", figure.excluded_invalid),
            ]
            if metric is Metric.MTBF:
                outcomes.append(("overlapping", figure.overlapping))
            for outcome, count in outcomes:
                labels = _labels([*group.key, *extra, ("outcome", outcome)])
                lines.append(f"{name}{labels} {count}")
    name = f"{prefix}_metrics_data_errors"
    lines.append(f"# HELP {name} Incidents with timestamps that run backwards, per metric")
    lines.append(f"# TYPE {name} gauge")
    for metric in Metric:
        count = sum(1 for e in report.data_errors if e.metric is metric)
        lines.append(f"{name}{_labels([('metric', metric.value)])} {count}")
    name = f"{prefix}_target_breaches"
    lines.append(f"# HELP {name} Incidents that missed a target, per target")
    lines.append(f"# TYPE {name} gauge")
    for metric in (Metric.MTTD, Metric.MTTA, Metric.MTTR):
        count = sum(1 for b in report.breaches if b.target is metric)
        lines.append(f"{name}{_labels([('target', metric.value)])} {count}")
    return "\n".join(lines) + "\n"
