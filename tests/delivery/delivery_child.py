"""Child processes for the crash and concurrency tests (``python -m delivery.delivery_child``).

Run with ``tests/`` on ``PYTHONPATH`` (:func:`delivery_helpers.start_child` does). Usage::

    delivery_child.py declare <sqlite-url> <lines-file> <count>
        declare <count> SEV1s (outbox rows written), print their ids as JSON,
        then block until killed, never delivering;
    delivery_child.py stall <sqlite-url>
        call deliver() with a notifier named "blocker" that prints the key it
        was handed as JSON and blocks forever;
    delivery_child.py drain <sqlite|postgres> <url-or-dsn> <schema|-> <lines-file> <go-file>
        print "ready", wait for <go-file>, then deliver() in small batches until
        nothing is left, through AppendNotifiers "file-a" and "file-b".
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from delivery.delivery_helpers import T0, AppendNotifier
from incidentkit import IncidentKit, ManualClock
from incidentkit.notify import Notification, NotifierSpec
from incidentkit.plugins import hookimpl


class Blocker:
    """A notifier that announces the key it was given and never returns."""

    name = "blocker"

    def deliver(self, notification: Notification) -> None:
        print(json.dumps({"delivering": notification.key}), flush=True)
        threading.Event().wait()

    @hookimpl
    def incidentkit_notifiers(self) -> list[NotifierSpec]:
        return [NotifierSpec("blocker", self.deliver, timeout=timedelta(minutes=4))]


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "declare":
        url, lines, count = argv[1], argv[2], int(argv[3])
        kit = IncidentKit.open(
            url,
            clock=ManualClock(T0),
            plugins=[AppendNotifier("file-a", lines), AppendNotifier("file-b", lines)],
            autoload_plugins=False,
        )
        ids = [kit.declare(f"outage {n}", severity="SEV1", by="alice").id for n in range(count)]
        print(json.dumps(ids), flush=True)
        threading.Event().wait()  # committed; killed before any deliver()
    elif mode == "stall":
        kit = IncidentKit.open(
            argv[1], clock=ManualClock(T0), plugins=[Blocker()], autoload_plugins=False
        )
        kit.deliver(lease=timedelta(minutes=5))
        raise SystemExit("deliver() returned; the blocker should have held it")
    elif mode == "drain":
        kind, target, schema, lines, go = argv[1:6]
        plugins = [AppendNotifier("file-a", lines), AppendNotifier("file-b", lines)]
        clock = ManualClock(T0 + timedelta(hours=1))  # every row due; no lease ever expires
        if kind == "postgres":
            from incidentkit.store.postgres import PostgresStore

            store = PostgresStore(target, schema=None if schema == "-" else schema)
            kit = IncidentKit(store=store, clock=clock, plugins=plugins, autoload_plugins=False)
        else:
            kit = IncidentKit.open(target, clock=clock, plugins=plugins, autoload_plugins=False)
        print("ready", flush=True)
        while not Path(go).exists():
            time.sleep(0.005)
        handled = 0
        while True:
            report = kit.deliver(limit=5)
            if report.claimed == 0:
                break
            assert report.delivered == report.claimed, report
            handled += report.delivered
        kit.shutdown()
        print(json.dumps({"delivered": handled}), flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
