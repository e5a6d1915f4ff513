"""The ``incidentkit metrics`` command: argparse wiring and the runner.

The lead's ``incidentkit`` CLI calls :func:`add_metrics_parser` on its
subparsers and, for the ``metrics`` command, :func:`run_metrics` with the
opened store.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from incidentkit._time import parse_datetime
from incidentkit.errors import IncidentKitError, PolicyError, ValidationError
from incidentkit.metrics._compute import compute
from incidentkit.metrics._model import DIMENSIONS, PERIODS, Basis, MetricsReport, Targets
from incidentkit.metrics.charts import ChartKind
from incidentkit.store import IncidentSummary, Store

if TYPE_CHECKING:
    from incidentkit.policy import Policy

__all__ = ["FORMATS", "add_metrics_parser", "run_metrics"]

#: ``--format`` choices.
FORMATS = ("table", "json", "csv", "prom", "markdown")

_OPTION = {
    "since": "--since",
    "until": "--until",
    "by": "--by",
    "basis": "--basis",
    "zone": "--zone",
    "kind": "--kind",
    "out": "--out",
    "targets": "--targets",
}


def _datetime(text: str) -> datetime:
    try:
        return parse_datetime(text, "datetime")
    except ValidationError as err:
        raise argparse.ArgumentTypeError(
            f"{err.reason} (use ISO 8601 with an offset, e.g. 2024-11-01T00:00:00Z)"
        ) from None


def _by(text: str) -> tuple[str, ...]:
    items = tuple(p.strip().lower() for p in text.split(",") if p.strip())
    unknown = [p for p in items if p not in DIMENSIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown breakdown {', '.join(unknown)} (known: {', '.join(DIMENSIONS)})"
        )
    return items


def _zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown IANA time zone {text!r}") from None


def add_metrics_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``metrics [chart]`` to an ``argparse`` subparsers object and return its parser.

    ``metrics --since --until --by severity,service --basis detected --zone Europe/London
    --format table|json|csv|prom|markdown [--targets targets.toml]`` prints a report;
    ``metrics chart --out mttr.png [--kind mttr|mttd|severity]`` draws a chart.
    The parser sets ``func=run_metrics`` as a default.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "metrics",
        help="MTTD/MTTA/MTTM/MTTR/MTBF with percentiles, breakdowns and target breaches",
        description="Compute incident metrics from the store's summaries.",
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=("report", "chart"),
        default="report",
        help="print a report (default) or draw a chart",
    )
    parser.add_argument("--since", type=_datetime, help="declared at or after (ISO 8601)")
    parser.add_argument("--until", type=_datetime, help="declared before (ISO 8601)")
    parser.add_argument(
        "--by",
        type=_by,
        default=(),
        help="comma-separated: severity, service and one of month, week, day",
    )
    parser.add_argument(
        "--mtbf",
        choices=("service", "all"),
        default="service",
        help="MTBF between failures of one service (default) or of any service",
    )
    parser.add_argument(
        "--basis",
        choices=[b.value for b in Basis],
        default=Basis.DETECTED.value,
        help="what MTTR counts from (default: detected)",
    )
    parser.add_argument(
        "--zone",
        type=_zone,
        default=None,
        help="IANA zone for months, weeks, days and business days (default: the policy's, UTC)",
    )
    parser.add_argument(
        "--include-drills",
        action="store_true",
        help="count drill incidents (ids starting DRILL-) too; left out by default",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument("--targets", help="TOML file with targets (mttd, mttr, [acknowledge])")
    parser.add_argument("--out", help="chart: output file (.png or .svg)")
    parser.add_argument(
        "--kind",
        choices=[k.value for k in ChartKind],
        default=ChartKind.MTTR.value,
        help="chart: mttr or mttd trend per month (or --by week/day), or incidents per severity",
    )
    parser.set_defaults(func=run_metrics)
    return parser


def _fail(message: str, err: TextIO | None = None) -> int:
    line = " ".join(message.split())
    print(f"incidentkit metrics: error: {line}", file=err or sys.stderr)
    return 2


def run_metrics(
    args: argparse.Namespace,
    summaries_source: Store | Iterable[IncidentSummary],
    out: TextIO,
    errors: TextIO | None = None,
    *,
    policy: Policy | None = None,
) -> int:
    """Run ``incidentkit metrics`` with parsed ``args`` over a store or summaries.

    ``policy`` supplies the default zone and the business-day calendar of
    the "next business day" acknowledgement targets.

    Writes the report (or, for ``chart``, the path written) to ``out``.
    Returns 0 on success, 2 on bad input (one line on ``errors``, default
    stderr, naming the option), 1 when charts cannot be drawn because
    matplotlib is missing.
    """

    def fail(message: str) -> int:
        return _fail(message, errors)

    action = getattr(args, "action", "report")
    if action == "chart" and not args.out:
        return fail("--out: required for 'metrics chart'")
    if action != "chart" and args.out:
        return fail("--out: only used by 'metrics chart'")
    by = tuple(args.by)
    if action == "chart":
        wanted = ChartKind(args.kind).dimension
        allowed = [(wanted,)] if wanted == "severity" else [(p,) for p in PERIODS]
        if by and by not in allowed:
            names = " or ".join(a[0] for a in allowed)
            return fail(f"--by: a {args.kind} chart is broken down by {names} only")
        by = by or (wanted,)
    targets = None
    try:
        if args.targets:
            targets = Targets.load(args.targets)
        report = compute(
            summaries_source,
            since=args.since,
            until=args.until,
            by=by,
            basis=args.basis,
            zone=args.zone or (policy.zone if policy is not None else ZoneInfo("UTC")),
            targets=targets,
            mtbf=getattr(args, "mtbf", "service"),
            business_days=policy.business_days if policy is not None else None,
            include_drills=bool(getattr(args, "include_drills", False)),
        )
    except ValidationError as err:
        return fail(f"{_OPTION.get(err.field, err.field)}: {err.reason}")
    except PolicyError as err:
        return fail(f"--targets: {err}")
    except OSError as err:
        return fail(f"--targets: {err}")
    if action == "chart":
        try:
            path = report.chart(args.out, kind=args.kind)
        except ValidationError as err:
            return fail(f"{_OPTION.get(err.field, err.field)}: {err.reason}")
        except ImportError as err:
            print(f"incidentkit metrics: {err}", file=errors or sys.stderr)
            return 1
        except (OSError, IncidentKitError) as err:
            return fail(f"--out: {err}")
        out.write(f"wrote {path}\n")
        return 0
    out.write(_render(report, args.format))
    return 0


def _render(report: MetricsReport, fmt: str) -> str:
    if fmt == "json":
        return report.to_json() + "\n"
    if fmt == "csv":
        return report.to_csv()
    if fmt == "prom":
        return report.to_prometheus()
    if fmt == "markdown":
        return report.to_markdown()
    return report.to_table()
