"""Incident metrics: MTTD, MTTA, MTTM, MTTR and MTBF from incident summaries.

Definitions (durations in seconds; printed beside every figure):

=====  ================================================================
MTTD   ``detected_at − started_at``
MTTA   ``acknowledged_at − detected_at``
MTTM   ``mitigated_at − detected_at`` (first successful mitigation)
MTTR   ``resolved_at − <basis>_at``; basis ``started``, ``detected`` (default) or ``declared``
MTBF   next ``started_at`` − previous ``resolved_at``, per service
=====  ================================================================

Means come with p50, p90 (nearest rank) and max. An incident lacking a
timestamp a metric needs is excluded from that metric and counted; one whose
timestamps run backwards is excluded, counted and listed as a
:class:`DataError`. :func:`compute` reads summaries, never timelines. Drill incidents (ids starting
``DRILL-``, :func:`is_drill`) are left out unless ``include_drills=True``. The learning
loop's metrics (reviews on time, action items, recurrence) are :func:`learning_report`
(:mod:`incidentkit.metrics.learning`).
"""

from incidentkit.metrics._cli import add_metrics_parser, run_metrics
from incidentkit.metrics._compute import compute
from incidentkit.metrics._model import (
    DIMENSIONS,
    DRILL_PREFIX,
    PERCENTILE_METHOD,
    Basis,
    Breach,
    Breaches,
    DataError,
    Figure,
    Group,
    Metric,
    MetricsReport,
    Targets,
    definition,
    is_drill,
)
from incidentkit.metrics.learning import (
    ActionCount,
    LearningReport,
    OverdueItem,
    Recurrence,
    ReviewTimes,
    learning_of,
    learning_report,
)

__all__ = [
    "DIMENSIONS",
    "DRILL_PREFIX",
    "PERCENTILE_METHOD",
    "ActionCount",
    "Basis",
    "Breach",
    "Breaches",
    "DataError",
    "Figure",
    "Group",
    "LearningReport",
    "Metric",
    "MetricsReport",
    "OverdueItem",
    "Recurrence",
    "ReviewTimes",
    "Targets",
    "add_metrics_parser",
    "compute",
    "definition",
    "is_drill",
    "learning_of",
    "learning_report",
    "run_metrics",
]
