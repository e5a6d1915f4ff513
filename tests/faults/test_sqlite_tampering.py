"""A hand-edited SQLite row: loading names the incident and version, verify finds it,
and every other incident still loads."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

import incidentkit as ik
from incidentkit.cli import main
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME


def _seed(path: Path) -> str:
    url = f"sqlite:///{path}"
    with ik.IncidentKit.open(url, clock=ik.ManualClock(T0), autoload_plugins=False) as kit:
        kit.declare("API returning 500 errors", severity="SEV1", by="alice", incident_id="INC-A")
        kit.add_note("INC-A", "seeing 15% error rate", by="bob")
        kit.declare("Checkout slow", severity="SEV3", by="carol", incident_id="INC-B")
        kit.add_note("INC-B", "p99 at 3 s", by="carol")
    return url


def _edit(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, params)
    conn.close()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('{"type":"note_added","by":"bob","text":"nothing to see"}', None),
        ("{not json", "not JSON"),
        ('{"type":"no_such_event","by":"bob"}', "unknown event type"),
    ],
)
def test_an_edited_payload_is_named_and_other_incidents_load(
    tmp_path: Path, payload: str, reason: str | None
) -> None:
    path = tmp_path / "incidents.db"
    url = _seed(path)
    version = 3  # declared, escalation, note
    _edit(
        path,
        "UPDATE incidentkit_events SET payload = ? WHERE incident_id = ? AND version = ?",
        payload,
        "INC-A",
        version,
    )
    with ik.IncidentKit.open(url, autoload_plugins=False) as kit:
        check = kit.verify("INC-A")
        assert not check.ok
        assert check.broken_version == version
        assert kit.verify("INC-B").ok
        assert kit.get("INC-B").title == "Checkout slow"
        if reason is None:
            # Still readable, but the hash chain shows it was rewritten.
            assert kit.timeline("INC-A")[version - 1].event.describe() == "nothing to see"
        else:
            with pytest.raises(ik.StoreError) as caught:
                kit.get("INC-A")
            assert "INC-A" in str(caught.value)
            assert f"version {version}" in str(caught.value)
            assert reason in str(caught.value)

    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", url, "verify"], out=out, err=err) == 1
    assert f"INC-A: BROKEN at version {version}" in out.getvalue()
    assert "INC-B: ok" in out.getvalue()


def test_a_deleted_row_breaks_the_chain_at_the_gap(tmp_path: Path) -> None:
    path = tmp_path / "incidents.db"
    url = _seed(path)
    _edit(path, "DELETE FROM incidentkit_events WHERE incident_id = ? AND version = 2", "INC-A")
    with ik.IncidentKit.open(url, autoload_plugins=False) as kit:
        check = kit.verify("INC-A")
        assert (check.ok, check.broken_version) == (False, 3)
