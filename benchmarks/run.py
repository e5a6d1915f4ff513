"""Run every ``benchmarks/bench_*.py`` module's ``main()`` (``make bench``), then a summary.

``python benchmarks/run.py store metrics`` runs only the named modules;
``--quick`` (or ``INCIDENTKIT_BENCH_QUICK=1``) uses smaller sizes and fewer
repeats. The run ends with the rows that miss their numeric target (the
targets of issue 10 are tagged). Benchmarks are not tests: the exit status is
0 whether or not a target is missed.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    if "--quick" in argv:
        os.environ["INCIDENTKIT_BENCH_QUICK"] = "1"
        argv = [a for a in argv if a != "--quick"]
    sys.path.insert(0, str(HERE))
    import _harness

    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    wanted = {f"bench_{a.removeprefix('bench_')}" for a in argv}
    unknown = wanted - set(names)
    if unknown:
        print(f"unknown benchmark module(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for name in names:
        if wanted and name not in wanted:
            continue
        started = time.perf_counter()
        importlib.import_module(name).main()
        print(f"({name}: {time.perf_counter() - started:.0f}s)")
    _harness.summary()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
