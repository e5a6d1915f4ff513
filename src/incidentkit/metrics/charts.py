"""Charts of a metrics report through matplotlib (the optional ``incidentkit[charts]`` extra).

matplotlib is imported only when a chart is drawn, with the non-interactive
``Agg`` backend, so importing :mod:`incidentkit.metrics` never needs it. SVG
output is deterministic (fixed hash salt, no date metadata), so a chart can
be committed and diffed.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from incidentkit.errors import ValidationError
from incidentkit.metrics._model import PERIODS, Metric, MetricsReport

__all__ = ["ChartKind", "chart_file", "pyplot", "render_chart", "save_figure"]


class ChartKind(enum.StrEnum):
    """What to draw."""

    MTTR = "mttr"
    """Mean and p90 MTTR per calendar month, ISO week or day (``by`` one of the three)."""
    MTTD = "mttd"
    """Mean and p90 MTTD per calendar month, ISO week or day (``by`` one of the three)."""
    SEVERITY = "severity"
    """Incidents per severity (needs ``by`` to include ``"severity"``)."""

    @property
    def dimension(self) -> str:
        """The breakdown this chart needs by default (a trend also takes ``week`` or ``day``)."""
        return "severity" if self is ChartKind.SEVERITY else "month"


_FORMATS = {".png": "png", ".svg": "svg"}


def chart_file(out: str | Path) -> tuple[Path, str]:
    """``out`` as a path and its format (``png`` or ``svg``).

    :raises ValidationError: (``out``) any other suffix.
    """
    path = Path(out)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValidationError("out", f"chart file must end in .png or .svg, got {path.name!r}")
    return path, fmt


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the ``Agg`` backend (other charts of the ``charts`` extra).

    :raises ImportError: matplotlib is not installed (install ``incidentkit[charts]``).
    """
    return _pyplot()


def save_figure(fig: Any, path: Path, fmt: str) -> None:
    """Save ``fig`` deterministically (no date metadata in SVG) and close it."""
    plt = _pyplot()
    try:
        metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {}
        with plt.rc_context({"svg.hashsalt": "incidentkit", "svg.fonttype": "none"}):
            fig.savefig(path, format=fmt, metadata=metadata)
    finally:
        plt.close(fig)


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(
            "incidentkit charts need matplotlib: pip install 'incidentkit[charts]'"
        ) from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _series(report: MetricsReport, dimension: str) -> dict[str, list[Any]]:
    """Sum up groups per value of ``dimension`` (other dimensions must be absent)."""
    if dimension not in report.by:
        raise ValidationError("by", f"this chart needs a breakdown by {dimension}")
    if len(report.by) != 1:
        raise ValidationError(
            "by", f"this chart needs a breakdown by {dimension} only, not {', '.join(report.by)}"
        )
    labels = [dict(g.key)[dimension] or "(none)" for g in report.groups]
    return {"labels": labels, "groups": list(report.groups)}


def render_chart(
    report: MetricsReport, out: str | Path, *, kind: ChartKind | str = ChartKind.MTTR
) -> Path:
    """Draw ``kind`` from ``report`` into ``out`` (``.png`` or ``.svg``) and return the path.

    Trend charts plot the mean and p90 in minutes per period, with the report's
    target as a dotted line; periods without a sample are left as gaps. Compute
    the report with ``by=("month",)``, ``("week",)`` or ``("day",)`` (trends)
    or ``by=("severity",)`` (incidents per severity).

    :raises ValidationError: unknown ``kind`` or file suffix, or the wrong breakdown.
    :raises ImportError: matplotlib is not installed (install ``incidentkit[charts]``).
    """
    try:
        chart = ChartKind(str(kind).lower())
    except ValueError:
        known = ", ".join(k.value for k in ChartKind)
        raise ValidationError("kind", f"unknown chart {kind!r} (known: {known})") from None
    path = Path(out)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValidationError("out", f"chart file must end in .png or .svg, got {path.name!r}")
    dimension = chart.dimension
    if chart is not ChartKind.SEVERITY:
        dimension = next((d for d in report.by if d in PERIODS), dimension)
    data = _series(report, dimension)
    plt = _pyplot()
    with plt.rc_context({"svg.hashsalt": "incidentkit", "svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
        try:
            labels: list[str] = data["labels"]
            if chart is ChartKind.SEVERITY:
                counts = [g.incidents for g in data["groups"]]
                ax.bar(labels, counts, color="#c0392b")
                ax.set_ylabel("incidents")
                ax.set_title("Incidents per severity")
            else:
                metric = Metric(chart.value)
                figures = [g[metric] for g in data["groups"]]
                nan = float("nan")
                means = [nan if f.mean is None else f.mean / 60 for f in figures]
                p90s = [nan if f.p90 is None else f.p90 / 60 for f in figures]
                ax.plot(labels, means, marker="o", label="mean")
                ax.plot(labels, p90s, marker="s", linestyle="--", label="p90")
                target = {Metric.MTTR: report.targets.mttr, Metric.MTTD: report.targets.mttd}
                limit = target[metric]
                if limit is not None:
                    ax.axhline(
                        limit.total_seconds() / 60,
                        color="grey",
                        linestyle=":",
                        label=f"target ({limit.total_seconds() / 60:g} min)",
                    )
                text = report.definition(metric)
                ax.set_title(f"{metric.value.upper()} per {dimension} ({text})")
                ax.set_ylabel("minutes")
                ax.legend()
                ax.tick_params(axis="x", labelrotation=45)
            ax.grid(axis="y", alpha=0.3)
            fig.tight_layout()
            metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {}
            fig.savefig(path, format=fmt, metadata=metadata)
        finally:
            plt.close(fig)
    return path
