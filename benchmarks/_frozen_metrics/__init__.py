"""A frozen copy of ``incidentkit.metrics.compute`` as of main 185f5fc (before issue 10).

``bench_metrics`` times the live ``incidentkit.metrics.compute`` against this
copy in the same run (issue 10: metrics over 1M incidents no slower than the
implementation it replaces). ``_model.py`` and ``_compute.py`` are the files
``src/incidentkit/metrics/_model.py`` and ``_compute.py`` of that commit, with
only the import of ``_model`` changed; do not edit them.
"""

from _frozen_metrics._compute import compute

__all__ = ["compute"]
