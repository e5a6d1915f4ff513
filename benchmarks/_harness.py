"""Tiny benchmark harness: interleaved A/B runs, medians, ratios, a table and JSON.

Every row is a ratio against a baseline measured in the same run, with the
library and the baseline interleaved (A/B/A/B) so drift hits both alike. Each
row says what its subject times (``measures``), what its baseline times
(``against``) and whether a higher or a lower figure is better; a row with a
numeric ``limit`` is checked, and ``run.py`` ends with the rows that miss it.

``INCIDENTKIT_BENCH_QUICK=1`` (or ``run.py --quick``) makes every module use
smaller sizes and fewer repeats: the same rows, noisier figures.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

QUICK = os.environ.get("INCIDENTKIT_BENCH_QUICK", "").strip() not in ("", "0")
"""Smaller sizes and fewer repeats (``INCIDENTKIT_BENCH_QUICK=1`` or ``run.py --quick``)."""


def scaled(full: int, quick: int) -> int:
    """``quick`` in a quick run, else ``full``."""
    return quick if QUICK else full


def postgres_dsn() -> str | None:
    """The PostgreSQL DSN for the PostgreSQL rows, or ``None`` (those rows are skipped)."""
    for name in ("INCIDENTKIT_BENCH_POSTGRES_DSN", "INCIDENTKIT_TEST_POSTGRES_DSN"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@dataclass
class Result:
    """One comparison: ``subject`` against ``baseline``, both measured in this run.

    ``kind``:

    * ``"time"``: the figure is subject ÷ baseline seconds; lower is better;
    * ``"throughput"``: the figure is baseline ÷ subject seconds (the subject's
      throughput as a fraction of the baseline's); higher is better;
    * ``"overhead_us"``: the figure is (subject − baseline) in microseconds per
      unit (what the subject adds on top of the baseline); lower is better.

    ``limit`` is the numeric target on the figure (``<=`` when lower is better,
    ``>=`` when higher is), ``issue`` names where the target comes from.
    """

    bench: str
    subject_s: float
    baseline_s: float
    kind: str = "time"
    target: str = ""
    notes: dict[str, object] = field(default_factory=dict)
    measures: str = ""
    against: str = ""
    limit: float | None = None
    issue: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("time", "throughput", "overhead_us"):
            raise ValueError(f"unknown kind {self.kind!r}")
        if self.limit is not None and not self.target:
            self.target = f"{'>=' if self.better == 'higher' else '<='} {self.limit:g}"

    @property
    def ratio(self) -> float:
        """The row's figure (see the class docstring for what it means per ``kind``)."""
        if self.kind == "throughput":
            return self.baseline_s / self.subject_s
        if self.kind == "overhead_us":
            return (self.subject_s - self.baseline_s) * 1e6
        return self.subject_s / self.baseline_s

    @property
    def better(self) -> str:
        """``"higher"`` or ``"lower"``: which way the figure improves."""
        return "higher" if self.kind == "throughput" else "lower"

    @property
    def missed(self) -> bool | None:
        """Whether the figure misses ``limit`` (``None``: the row has no numeric target)."""
        if self.limit is None:
            return None
        if self.better == "higher":
            return self.ratio < self.limit
        return self.ratio > self.limit


ALL: list[tuple[str, Result]] = []
"""Every row reported in this process, with its suite (``run.py`` summarises them)."""


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
    if QUICK:
        repeats = max(3, repeats // 2)
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


def _status(r: Result) -> str:
    missed = r.missed
    if missed is None:
        return "-"
    return "MISS" if missed else "ok"


def _figure(r: Result) -> str:
    if r.kind == "overhead_us":
        return f"{r.ratio:.1f}us"
    return f"{r.ratio:.2f}"


def report(name: str, results: list[Result]) -> None:
    """Print a table (and what each row times) and write ``benchmarks/results/<name>.json``.

    A row that does not say what it times and against what is refused.
    """
    for r in results:
        if not r.measures or not r.against:
            raise ValueError(f"row {r.bench!r} must say what it times and against what")
    width = max([len(r.bench) for r in results] + [10])
    print(f"\n== {name} ==")
    print(
        f"{'benchmark':<{width}}  {'subject':>12}  {'baseline':>12}  {'figure':>8}  "
        f"{'better':<6}  {'status':<6}  target"
    )
    for r in results:
        print(
            f"{r.bench:<{width}}  {r.subject_s * 1e6:>10.1f}us  {r.baseline_s * 1e6:>10.1f}us"
            f"  {_figure(r):>8}  {r.better:<6}  {_status(r):<6}  {r.target}"
            + (f" [{r.issue}]" if r.issue else "")
        )
    print("rows:")
    for r in results:
        print(f"  {r.bench}\n    times:   {r.measures}\n    against: {r.against}")
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "suite": name,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "quick": QUICK,
        "results": [
            asdict(r) | {"figure": r.ratio, "better": r.better, "missed": r.missed} for r in results
        ],
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    ALL.extend((name, r) for r in results)


def summary() -> list[tuple[str, Result]]:
    """Print the rows that miss their numeric target; return them."""
    checked = [(suite, r) for suite, r in ALL if r.missed is not None]
    misses = [(suite, r) for suite, r in checked if r.missed]
    print(f"\n== summary: {len(misses)} of {len(checked)} rows with a target miss it ==")
    for suite, r in misses:
        tag = f" [{r.issue}]" if r.issue else ""
        print(
            f"  MISS {suite}: {r.bench}: {_figure(r)} ({r.better} is better), "
            f"target {r.target}{tag}"
        )
    issue_rows = [(s, r) for s, r in checked if r.issue]
    if issue_rows:
        print(
            f"  issue targets: {sum(1 for _, r in issue_rows if r.missed)} of "
            f"{len(issue_rows)} missed"
        )
    return misses
