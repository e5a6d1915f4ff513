"""Regenerate ``docs/_static/mttr-trend.svg`` for the metrics guide.

Deterministic: a seeded set of 120 incidents over six months, the Europe/London
calendar, and matplotlib's SVG backend with a fixed hash salt and no date, so
rerunning it produces the same file byte for byte::

    python docs/_scripts/make_metrics_chart.py
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from incidentkit import metrics
from incidentkit.lifecycle import Status
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary

OUT = Path(__file__).resolve().parent.parent / "_static" / "mttr-trend.svg"


def incidents() -> list[IncidentSummary]:
    """120 incidents from January to June 2024; resolution gets faster month by month."""
    rnd = random.Random(2024)
    out = []
    for i in range(120):
        month = i // 20  # 20 incidents a month
        started = datetime(2024, 1 + month, 1, tzinfo=UTC) + timedelta(
            hours=rnd.randint(0, 27 * 24)
        )
        detected = started + timedelta(minutes=rnd.randint(1, 8))
        resolve_minutes = max(5, rnd.gauss(60 - 7 * month, 12))
        out.append(
            IncidentSummary(
                incident_id=f"INC-{i + 1:03d}",
                version=1,
                title="example",
                status=Status.RESOLVED,
                severity=list(Severity)[i % 4],
                services=("api",),
                started_at=started,
                detected_at=detected,
                declared_at=detected + timedelta(minutes=2),
                acknowledged_at=detected + timedelta(minutes=rnd.randint(1, 10)),
                mitigated_at=detected + timedelta(minutes=resolve_minutes / 2),
                resolved_at=detected + timedelta(minutes=resolve_minutes),
            )
        )
    return out


def main() -> None:
    """Write the chart."""
    report = metrics.compute(incidents(), by="month", zone="Europe/London")
    report.chart(OUT, kind="mttr")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
