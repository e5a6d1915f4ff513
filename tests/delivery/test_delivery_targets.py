"""A delivery worker claims only rows it can deliver (issue 9).

Two workers share one database, each with a different notifier: each must
deliver exactly its own notifier's rows, at the first attempt, and never
touch the other's (no attempt counted, no lease, no error, no dead row).
On today's main the first worker claimed every row and failed the ones for
the notifier it lacks with "no notifier named … is registered".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from incidentkit.clock import ManualClock
from incidentkit.kit import IncidentKit
from incidentkit.notify import NotificationKind
from incidentkit.store import OutboxState, Store
from incidentkit.testing import CapturingNotifier

from .delivery_helpers import T0

StoreOpener = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreOpener]:
    """Open another connection to one shared database (a SQLite file, a PostgreSQL schema)."""
    opened: list[Store] = []
    if request.param == "sqlite":
        from incidentkit.store.sqlite import SqliteStore

        path = tmp_path / "incidents.db"

        def opener() -> Store:
            store = SqliteStore(path)
            opened.append(store)
            return store
    else:
        from incidentkit.store.postgres import PostgresStore

        shared = request.getfixturevalue("postgres_store")
        dsn = request.getfixturevalue("postgres_dsn")

        def opener() -> Store:
            store = PostgresStore(dsn, schema=shared.schema)
            opened.append(store)
            return store

    yield opener
    for store in opened:
        store.close()


def _kit(store: Store, *notifiers: CapturingNotifier) -> IncidentKit:
    return IncidentKit(
        store=store, clock=ManualClock(T0), plugins=list(notifiers), autoload_plugins=False
    )


def test_two_workers_each_deliver_only_their_own_notifier(open_store: StoreOpener) -> None:
    pages = [NotificationKind.PAGE]
    app = _kit(open_store(), CapturingNotifier("slack", kinds=pages), CapturingNotifier("pager"))
    iid = app.declare("API 500s", severity="SEV1", by="alice").id
    rows = app.store.outbox(iid)
    assert {r.target for r in rows} == {"slack", "pager"}

    slack = CapturingNotifier("slack", kinds=pages)
    pager = CapturingNotifier("pager")
    pager_worker = _kit(open_store(), pager)
    slack_worker = _kit(open_store(), slack)

    first = pager_worker.deliver()
    assert (first.claimed, first.delivered, first.retried, first.dead) == (1, 1, 0, 0)
    for row in pager_worker.store.outbox(iid):  # the Slack row waits, untouched
        if row.target == "slack":
            assert (row.state, row.attempts, row.lease_until, row.last_error) == (
                OutboxState.PENDING,
                0,
                None,
                None,
            )
    second = slack_worker.deliver()
    assert (second.claimed, second.delivered, second.retried, second.dead) == (1, 1, 0, 0)
    assert slack_worker.deliver().claimed == pager_worker.deliver().claimed == 0

    assert slack.keys() == [f"{iid}:2:page"]
    assert pager.keys() == [f"{iid}:2:page"]
    assert slack.attempts == pager.attempts == 1
    final = app.store.outbox(iid)
    assert all(r.state is OutboxState.DONE and r.attempts == 1 for r in final)
    assert all(r.last_error is None for r in final)
    assert all(r.event.tag != "notification_failed" for r in app.timeline(iid))


def test_a_worker_without_notifiers_claims_nothing(open_store: StoreOpener) -> None:
    app = _kit(open_store(), CapturingNotifier("slack"))
    iid = app.declare("API 500s", severity="SEV1", by="alice").id
    before = app.store.outbox(iid)
    bare = _kit(open_store())  # like the CLI's `deliver` without the app's plugins
    report = bare.deliver()
    assert (report.claimed, report.retried, report.dead) == (0, 0, 0)
    assert app.store.outbox(iid) == before
