"""Crashes: a process SIGKILLed after commit, or in the middle of deliver(), loses nothing.

The children run ``delivery_child.py`` against a SQLite file and are killed
with SIGKILL (no cleanup, no atexit); the parent then restarts on the file.
"""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from incidentkit.clock import ManualClock
from incidentkit.kit import IncidentKit
from incidentkit.notify import Notification
from incidentkit.serialization import converter
from incidentkit.store import OutboxState
from incidentkit.testing import CapturingNotifier

from .delivery_helpers import T0, read_json, read_lines, start_child

pytestmark = pytest.mark.slow


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


def test_sigkill_after_commit_before_delivery_delivers_once_after_restart(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'incidents.db'}"
    lines = tmp_path / "child-deliveries.txt"
    child = start_child("declare", url, str(lines), "3")
    ids = read_json(child)
    kill(child)
    assert isinstance(ids, list) and len(ids) == 3
    assert read_lines(lines) == []  # the child never delivered

    a, b = CapturingNotifier("file-a"), CapturingNotifier("file-b")
    clock = ManualClock(T0 + timedelta(minutes=1))
    with IncidentKit.open(url, clock=clock, plugins=[a, b], autoload_plugins=False) as kit:
        rows = [r for r in kit.store.outbox() if r.topic == "notification"]
        # The declares committed with their outbox rows: one page per incident per notifier.
        assert {r.incident_id for r in rows} == set(ids)
        assert len(rows) == 6
        assert {r.state for r in rows} == {OutboxState.PENDING}
        assert {r.attempts for r in rows} == {0}
        for incident_id in ids:
            assert [e.event.tag for e in kit.timeline(incident_id)] == [
                "declared",
                "escalation_fired",
            ]

        report = kit.deliver()
        assert (report.claimed, report.delivered) == (6, 6)
        for _ in range(2):  # later passes, even after any lease, find nothing to do
            clock.advance(timedelta(hours=1))
            assert kit.deliver().claimed == 0

        for notifier in (a, b):
            expected = {
                r.key.removesuffix(f":{notifier.name}"): r
                for r in rows
                if r.target == notifier.name
            }
            # Exactly once per notifier, with the key the outbox was written with ...
            assert sorted(notifier.keys()) == sorted(expected)
            # ... and the notification as committed (same content, same creation time).
            for note in notifier.delivered:
                stored = converter().structure(json.loads(expected[note.key].payload), Notification)
                assert note == stored
                assert note.created_at == T0
        assert {r.state for r in kit.store.outbox()} == {OutboxState.DONE}


def test_sigkill_during_deliver_leaves_a_lease_that_expires_then_delivers(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'incidents.db'}"
    clock = ManualClock(T0)
    capture = CapturingNotifier("blocker")
    with IncidentKit.open(url, clock=clock, plugins=[capture], autoload_plugins=False) as kit:
        inc = kit.declare("API returning 500 errors", severity="SEV1", by="alice")
        [row] = kit.store.outbox()

        child = start_child("stall", url)
        handed = read_json(child)  # the child's notifier holds the row
        kill(child)
        assert handed == {"delivering": row.key.removesuffix(":blocker")}

        [leased] = kit.store.outbox()
        assert leased.state is OutboxState.PENDING
        assert leased.attempts == 1
        assert leased.lease_until == T0 + timedelta(minutes=5)

        # While the dead worker's lease lasts, nobody else takes the row.
        clock.advance(timedelta(minutes=4, seconds=59))
        assert kit.deliver().claimed == 0
        assert capture.keys() == []

        clock.advance(timedelta(seconds=1))
        report = kit.deliver()
        assert (report.claimed, report.delivered) == (1, 1)
        # At-least-once: the notification may have reached the receiver before the
        # kill; the retry carries the same key so the receiver can drop it.
        assert capture.keys() == [handed["delivering"]]
        [done] = kit.store.outbox()
        assert (done.key, done.state, done.attempts) == (row.key, OutboxState.DONE, 2)
        assert [e.event.tag for e in kit.timeline(inc.id)] == ["declared", "escalation_fired"]
