"""Tiny benchmark harness: interleaved A/B runs, medians, ratios, a table and JSON.

Every figure is a ratio against a baseline measured in the same run, with the
library and the baseline interleaved (A/B/A/B) so drift hits both alike.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


@dataclass
class Result:
    """One comparison: ``subject`` against ``baseline``."""

    bench: str
    subject_s: float
    baseline_s: float
    kind: str = "time"  # "time": ratio = subject/baseline; "throughput": baseline/subject
    target: str = ""
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """time kind: subject ÷ baseline (lower is better); throughput kind: the inverse."""
        if self.kind == "throughput":
            return self.baseline_s / self.subject_s
        return self.subject_s / self.baseline_s


def timeit(fn: Callable[[], object], *, number: int = 1) -> float:
    """Seconds per call of ``fn`` over ``number`` calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def compare(
    subject: Callable[[], object],
    baseline: Callable[[], object],
    *,
    repeats: int = 5,
    number: int = 1,
    setup: Callable[[], object] | None = None,
    warmup: int = 1,
) -> tuple[float, float]:
    """Median seconds per call of ``subject`` and ``baseline``, interleaved A/B/A/B.

    ``setup`` runs before every measured block of either side (e.g. reset a file).
    """
    for _ in range(warmup):
        if setup:
            setup()
        subject()
        if setup:
            setup()
        baseline()
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeats):
        if setup:
            setup()
        a.append(timeit(subject, number=number))
        if setup:
            setup()
        b.append(timeit(baseline, number=number))
    return statistics.median(a), statistics.median(b)


def report(name: str, results: list[Result]) -> None:
    """Print a table and write ``benchmarks/results/<name>.json``."""
    width = max([len(r.bench) for r in results] + [10])
    print(f"\n== {name} ==")
    print(f"{'benchmark':<{width}}  {'subject':>12}  {'baseline':>12}  {'ratio':>7}  target")
    for r in results:
        print(
            f"{r.bench:<{width}}  {r.subject_s * 1e6:>10.1f}us  {r.baseline_s * 1e6:>10.1f}us"
            f"  {r.ratio:>7.2f}  {r.target}"
        )
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "suite": name,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "results": [asdict(r) | {"ratio": r.ratio} for r in results],
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
