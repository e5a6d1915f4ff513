"""Server-rendered SVG bar charts (no JavaScript, no plotting library).

Each chart has a ``<title>`` and ``<desc>`` for screen readers, prints every
value as text beside its bar, and tells series apart by a label and a
pattern as well as by colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["grouped_bars", "human_duration"]

_SERIES_STYLE = (
    ("#1f5f99", ""),
    ("#b34700", "url(#hatch)"),
)


def human_duration(seconds: float | None) -> str:
    """``"—"``, ``"45s"``, ``"12m"``, ``"3.5h"`` or ``"2.1d"``."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def grouped_bars(
    title: str,
    groups: Sequence[tuple[str, Sequence[float | None]]],
    series: Sequence[str],
    *,
    width: int = 640,
    bar_height: int = 18,
) -> str:
    """A horizontal grouped bar chart: one block per group, one bar per series.

    ``groups`` pairs a label (``"2024-11"``, ``"api"``) with one value per
    entry of ``series`` (seconds; ``None`` for no data, drawn as "no data").
    """
    label_w, value_w = 110, 70
    plot_w = width - label_w - value_w - 10
    top = 28
    block = bar_height * len(series) + 10
    height = top + max(1, len(groups)) * block + 24
    values = [v for _, vs in groups for v in vs if v is not None]
    peak = max(values) if values else 1.0
    peak = peak or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        f'class="chart" aria-labelledby="t-{_slug(title)}">',
        f'<title id="t-{_slug(title)}">{escape(title)}</title>',
        f"<desc>{escape(_describe(groups, series))}</desc>",
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#b34700"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2"/></pattern></defs>',
    ]
    legend_x = label_w
    for i, name in enumerate(series):
        colour, pattern = _SERIES_STYLE[i % len(_SERIES_STYLE)]
        out.append(
            f'<rect x="{legend_x}" y="6" width="14" height="14" fill="{pattern or colour}"/>'
            f'<text x="{legend_x + 18}" y="18" class="legend">{escape(name)}</text>'
        )
        legend_x += 90
    if not groups:
        out.append(f'<text x="{label_w}" y="{top + 20}">No incidents with this figure yet</text>')
    for g, (label, vs) in enumerate(groups):
        y0 = top + g * block
        label_y = y0 + bar_height
        out.append(
            f'<text x="{label_w - 6}" y="{label_y}" text-anchor="end">{escape(label)}</text>'
        )
        for i, value in enumerate(vs):
            name = series[i] if i < len(series) else ""
            colour, pattern = _SERIES_STYLE[i % len(_SERIES_STYLE)]
            y = y0 + i * bar_height
            if value is None:
                out.append(
                    f'<text x="{label_w + 4}" y="{y + bar_height - 5}" class="nodata">'
                    f"{escape(name)}: no data</text>"
                )
                continue
            w = max(1.0, plot_w * value / peak)
            out.append(
                f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_height - 4}" '
                f'fill="{pattern or colour}" stroke="{colour}"><title>{escape(label)} '
                f"{escape(name)}: {human_duration(value)}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height - 5}">'
                f"{escape(name)} {human_duration(value)}</text>"
            )
    out.append("</svg>")
    return "".join(out)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower())


def _describe(groups: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str]) -> str:
    parts = []
    for label, vs in groups:
        shown = ", ".join(
            f"{name} {human_duration(v)}" for name, v in zip(series, vs, strict=False)
        )
        parts.append(f"{label}: {shown}")
    return "; ".join(parts) or "no data"
