"""Contention: N writer processes adding notes to ONE incident through IncidentKit.

C1  SQLite file, 8 processes x 100 ``add_note`` on one incident, against 1 process x 100
    in the same run: per-command latency p50 and p99 (ratio subject/baseline, lower is
    better) and throughput (commands per second, ratio baseline/subject per command,
    higher is better), with the conflicts that reached callers in the notes.
C2  the same on PostgreSQL (needs INCIDENTKIT_BENCH_POSTGRES_DSN or
    INCIDENTKIT_TEST_POSTGRES_DSN).
"""

from __future__ import annotations

import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _harness import QUICK, Result, postgres_dsn, report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.core import _contention

from incidentkit import IncidentKit, Severity

WRITERS = 4 if QUICK else 8
PER_WRITER = 40 if QUICK else 100


def _run(target: tuple[str, ...], writers: int) -> tuple[list[float], float, int]:
    kit = IncidentKit(store=_contention.open_store(target))
    iid = kit.declare("hot incident", severity=Severity.SEV3, by="alice").id
    kit.shutdown()
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_contention.writer, args=(target, iid, n, PER_WRITER, start, out))
        for n in range(writers)
    ]
    for proc in procs:
        proc.start()
    time.sleep(1.0)  # let every child open its store before the clock starts
    began = time.perf_counter()
    start.set()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - began
    for proc in procs:
        proc.join()
    latencies = [x for r in results for x in r[3]]
    return latencies, elapsed, sum(r[1] for r in results)


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def _rows(name: str, target: tuple[str, ...]) -> list[Result]:
    one, one_s, _ = _run(target, 1)
    many, many_s, conflicts = _run(target, WRITERS)
    notes: dict[str, Any] = {"conflicts_surfaced": conflicts, "writers": WRITERS}
    per_one = one_s / len(one)
    per_many = many_s / len(many)
    measures = f"{WRITERS} processes x {PER_WRITER} IncidentKit.add_note on one incident"
    against = f"1 process x {PER_WRITER} IncidentKit.add_note on one incident, same store"
    return [
        Result(
            f"{name} p50 latency, {WRITERS} procs vs 1",
            _p(many, 50),
            _p(one, 50),
            target="report",
            notes=notes,
            measures=f"{measures}: p50 latency per command",
            against=f"{against}: p50 latency per command",
        ),
        Result(
            f"{name} p99 latency, {WRITERS} procs vs 1",
            _p(many, 99),
            _p(one, 99),
            target="report",
            notes=notes,
            measures=f"{measures}: p99 latency per command",
            against=f"{against}: p99 latency per command",
        ),
        Result(
            f"{name} throughput, {WRITERS} procs vs 1",
            per_many,
            per_one,
            kind="throughput",
            target="report",
            notes=notes | {"commands_per_s": len(many) / many_s},
            measures=f"{measures}: wall time per command",
            against=f"{against}: wall time per command",
        ),
    ]


def main() -> None:
    results: list[Result] = []
    root = Path(tempfile.mkdtemp(prefix="incidentkit-contention-"))
    try:
        results += _rows("C1 SQLite", ("sqlite", str(root / f"{uuid.uuid4().hex}.db")))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    dsn = postgres_dsn()
    if dsn:
        from incidentkit.store.postgres import PostgresStore

        schema = f"incidentkit_bench_{uuid.uuid4().hex[:8]}"
        store = PostgresStore(dsn, schema=schema)
        store.migrate()
        try:
            results += _rows("C2 PostgreSQL", ("postgres", dsn, schema))
        finally:
            store.drop_schema()
            store.close()
    report("contention", results)
    for r in results:
        print(f"  {r.bench}: conflicts surfaced to callers = {r.notes['conflicts_surfaced']}")


if __name__ == "__main__":
    main()
