"""Notifier dispatch: ``kit.deliver()`` to real notifiers against a hand-written relay loop.

X1  SQLite (WAL, synchronous NORMAL) outbox rows written by ``kit.declare`` (SEV1: a page
    to every notifier), drained by ``IncidentKit.deliver()`` to 1 and to 5 built-in
    ``LogNotifier`` plugins (registered through the ``incidentkit_notifiers`` hook; each
    logs to an enabled logger with a ``NullHandler``). That is the library's real
    per-notifier path: claim, look the notifier up, structure the notification, a
    bounded call on a worker thread, retry bookkeeping, completion.
    Baseline: a hand-written relay on a raw ``sqlite3`` connection over the same rows:
    lease a batch (``BEGIN IMMEDIATE``; ``UPDATE … RETURNING``), per row ``json.loads``
    and structure the ``Notification`` (the notifier's input type), call the same
    notifier's ``deliver`` inside ``try/except`` (one failing notifier must not stop the
    rest), and mark the row done in its own transaction. Throughput, higher is better;
    target >= 0.5 (issue 10, deliver() on SQLite NORMAL).
X2  ``call_with_timeout`` (the library's bounded call: a hop to a pooled thread) against
    calling the notifier directly; reported, the per-call hop cost is in the notes.

Rows are reset to pending before every measured block.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from _harness import Result, compare, report, scaled
from bench_delivery import BATCH, LEASE, RESET, SQLITE_CLAIM, SQLITE_DONE, T0, _micros

from incidentkit import IncidentKit, ManualClock
from incidentkit.notify import LogNotifier, Notification, call_with_timeout
from incidentkit.serialization import converter
from incidentkit.store.sqlite import SqliteStore
from incidentkit.testing import sample_notification

log = logging.getLogger("incidentkit.bench.dispatch")


def _logger() -> logging.Logger:
    logger = logging.getLogger("incidentkit.bench.dispatch.notifier")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def raw_relay(conn: sqlite3.Connection, notifiers: dict[str, LogNotifier]) -> Callable[[], None]:
    now = _micros(T0 + timedelta(hours=1))
    until = _micros(T0 + timedelta(hours=1) + LEASE)
    structure = converter().structure

    def run() -> None:
        while True:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(SQLITE_CLAIM, (until, "raw", now, now, BATCH)).fetchall()
            conn.execute("COMMIT")
            if not rows:
                return
            for row_id, target, payload in sorted(rows):
                try:
                    notifiers[target].deliver(structure(json.loads(payload), Notification))
                except Exception:
                    log.exception("notifier %s failed", target)
                    continue
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(SQLITE_DONE, (row_id,))
                conn.execute("COMMIT")

    return run


def bench_deliver(root: Path, n: int, incidents: int) -> Result:
    path = root / f"dispatch-{n}.db"
    store = SqliteStore(path, synchronous="NORMAL")
    store.migrate()
    notifiers = {f"log{i}": LogNotifier(name=f"log{i}", logger=_logger()) for i in range(n)}
    clock = ManualClock(T0)
    kit = IncidentKit(
        store=store, clock=clock, plugins=list(notifiers.values()), autoload_plugins=False
    )
    for k in range(incidents):
        kit.declare(f"outage {k}", severity="SEV1", by="alice", incident_id=f"INC-{k:05d}")
    clock.set(T0 + timedelta(hours=1))
    rows = len(store.outbox())
    assert rows >= incidents * n, rows
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 10000")
    delivered = [0]

    def lib() -> None:
        while report_ := kit.deliver(limit=BATCH, lease=LEASE):
            if not report_.claimed:
                return
            delivered[0] += report_.delivered

    try:
        lib_s, raw_s = compare(
            lib, raw_relay(conn, notifiers), repeats=5, setup=lambda: conn.execute(RESET)
        )
        assert delivered[0] >= rows, (delivered[0], rows)
    finally:
        conn.close()
        kit.shutdown()
    return Result(
        f"X1 kit.deliver() {rows} rows to {n} LogNotifier(s), SQLite NORMAL",
        lib_s,
        raw_s,
        kind="throughput",
        limit=0.5,
        issue="issue 10",
        measures=(
            f"IncidentKit.deliver(limit={BATCH}) until empty: {rows} page rows to {n} built-in "
            "LogNotifier plugin(s)"
        ),
        against=(
            "hand-written relay on raw sqlite3: lease a batch, json.loads + structure, call the "
            "same LogNotifier.deliver in try/except, mark each row done in its own transaction"
        ),
        notes={"rows": rows, "notifiers": n, "lib_rows_per_s": round(rows / lib_s)},
    )


def main() -> None:
    results: list[Result] = []
    root = Path(tempfile.mkdtemp(prefix="incidentkit-bench-dispatch-"))
    try:
        for n in (1, 5):
            results.append(bench_deliver(root, n, incidents=scaled(1000, 300) // n))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    notifier = LogNotifier(name="log", logger=_logger())
    note = sample_notification()
    bound = timedelta(seconds=10)
    sub, base = compare(
        lambda: call_with_timeout(notifier.deliver, note, bound),
        lambda: notifier.deliver(note),
        repeats=7,
        number=scaled(500, 200),
    )
    results.append(
        Result(
            "X2 call_with_timeout(LogNotifier.deliver) vs a direct call",
            sub,
            base,
            target="report (the thread hop)",
            measures="incidentkit.notify.call_with_timeout(deliver, notification, 10 s)",
            against="LogNotifier.deliver(notification) called directly",
            notes={"hop_us": round((sub - base) * 1e6, 1)},
        )
    )
    report("dispatch", results)


if __name__ == "__main__":
    main()
