"""The loops that call ``tick()``: ``run_forever``, ``incidentkit run`` and ``incidentkit tick``."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from incidentkit._time import utc_now
from incidentkit.cli import main
from incidentkit.clock import ManualClock
from incidentkit.errors import StoreError
from incidentkit.events import EscalationFired
from incidentkit.kit import IncidentKit
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary, MemoryStore, SummaryQuery
from incidentkit.testing import CapturingNotifier

from ._helpers import T0, minutes, scheduled_policy
from .conftest import KitFactory

GENEROUS = 60.0
"""Seconds to wait for something that normally takes milliseconds (CI machines stall)."""


def wait_until(predicate: object, timeout: float = GENEROUS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_run_forever_ticks_delivers_and_stops_when_the_event_is_set(
    make_kit: KitFactory, clock: ManualClock, capturing_notifier: CapturingNotifier
) -> None:
    kit = make_kit()
    iid = kit.declare("API 500s", severity=Severity.SEV1, by="alice").id
    clock.set(T0 + minutes(6))
    stop = threading.Event()
    loop = threading.Thread(
        target=kit.run_forever, args=(timedelta(milliseconds=10),), kwargs={"stop": stop}
    )
    loop.start()
    try:
        # the primary's page from declare, then the secondary's from a tick, both delivered
        assert capturing_notifier.wait_for(2, timedelta(seconds=GENEROUS))
    finally:
        stop.set()
        loop.join(GENEROUS)
    assert not loop.is_alive()
    assert [n.targets for n in capturing_notifier.delivered if n.targets][:2] == [
        ("alice",),
        ("bob",),
    ]
    escalations = [r for r in kit.timeline(iid) if isinstance(r.event, EscalationFired)]
    assert len(escalations) == 2


def test_run_forever_with_the_event_already_set_does_nothing(
    kit: IncidentKit, clock: ManualClock
) -> None:
    iid = kit.declare("API 500s", severity=Severity.SEV1, by="alice").id
    clock.set(T0 + minutes(6))
    stop = threading.Event()
    stop.set()
    kit.run_forever(timedelta(seconds=30), stop=stop)
    assert kit.get(iid).version == 2


ALL = SummaryQuery()


class FlakyStore(MemoryStore):
    """A memory store whose first due-summary query fails, as a database blip would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    def summaries(self, query: SummaryQuery = ALL) -> list[IncidentSummary]:
        if query.due_before is not None and self.failures_left:
            self.failures_left -= 1
            raise StoreError("database is restarting")
        return super().summaries(query)


def test_run_forever_keeps_going_after_a_failing_pass(
    make_kit: KitFactory, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore()
    kit = make_kit(on=store)
    iid = kit.declare("API 500s", severity=Severity.SEV1, by="alice").id
    clock.set(T0 + minutes(6))
    stop = threading.Event()
    loop = threading.Thread(
        target=kit.run_forever, args=(timedelta(milliseconds=10),), kwargs={"stop": stop}
    )
    loop.start()
    try:
        assert wait_until(lambda: store.version(iid) > 2)
    finally:
        stop.set()
        loop.join(GENEROUS)
    assert not loop.is_alive()
    assert store.failures_left == 0
    assert "database is restarting" in caplog.text


def cli() -> list[str]:
    script = Path(sys.executable).with_name("incidentkit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "incidentkit.cli"]


@pytest.mark.slow
def test_incidentkit_run_exits_zero_promptly_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/incidents.db"
    # Declared ten minutes ago (on a manual clock), so the running loop has work at once.
    clock = ManualClock(utc_now() - minutes(10))
    with IncidentKit.open(url, clock=clock, autoload_plugins=False) as kit:
        iid = kit.declare("API 500s", severity=Severity.SEV1, by="alice").id
    env = {**os.environ, "INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD": "1"}
    child = subprocess.Popen(
        [*cli(), "--db", url, "run", "--interval", "0.2s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        with IncidentKit.open(url, autoload_plugins=False) as reader:

            def paged_secondary() -> bool:
                return any(
                    isinstance(r.event, EscalationFired) and r.event.key.endswith(":1:0")
                    for r in reader.timeline(iid)
                )

            assert wait_until(paged_secondary), child.stderr.read() if child.poll() else ""
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=GENEROUS)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    _, err = child.communicate()
    assert code == 0, err.decode()


def test_incidentkit_tick_json_prints_the_fired_timers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/incidents.db"
    clock = ManualClock(T0)
    with IncidentKit.open(
        url, policy=scheduled_policy(), clock=clock, autoload_plugins=False
    ) as kit:
        iid = kit.declare("API 500s", severity=Severity.SEV1, by="alice", incident_id="INC-7").id
    out, err = io.StringIO(), io.StringIO()
    at = (T0 + minutes(6)).isoformat()
    assert main(["--db", url, "tick", "--json", "--at", at], out, err) == 0, err.getvalue()
    payload = json.loads(out.getvalue())
    assert payload["at"] == at
    assert payload["checked"] == 1
    assert payload["failures"] == {}
    assert [(f["incident_id"], f["version"]) for f in payload["fired"]] == [
        (iid, 3),
        (iid, 4),
        (iid, 5),
    ]
    assert payload["fired"][0]["event"].startswith("Escalation: page")
    assert [f["event"] for f in payload["fired"][1:]] == [
        "Target missed: acknowledge within 5m",
        "Target missed: assess phase",
    ]

    out = io.StringIO()
    assert main(["--db", url, "tick", "--json", "--at", at], out, err) == 0
    assert json.loads(out.getvalue())["fired"] == []  # a second tick at the same instant


def test_incidentkit_tick_refuses_a_naive_instant(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/incidents.db"
    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", url, "tick", "--at", "2024-11-20T22:36:00"], out, err) == 2
    assert "datetime" in err.getvalue()
