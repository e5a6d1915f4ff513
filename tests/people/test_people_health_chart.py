"""On-call health as a chart (the charts extra) and ``oncall health --chart``."""

from __future__ import annotations

import io
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from incidentkit.cli import main
from incidentkit.clock import ManualClock
from incidentkit.errors import ValidationError
from incidentkit.kit import IncidentKit
from incidentkit.people.health import HealthReport
from incidentkit.store import MemoryStore

from ._helpers import T0, minutes, people_policy
from .test_people_drill_cli import files  # noqa: F401  (the fixture)

pytest.importorskip("matplotlib")


def report() -> HealthReport:
    clock = ManualClock(T0)
    kit = IncidentKit(MemoryStore(), people_policy(), clock, autoload_plugins=False)
    kit.declare("Login failures", severity="SEV1", by="mon")
    for m in range(6):
        clock.set(T0 + minutes(m))
        kit.tick()
    return kit.people.health(T0 - timedelta(days=1), T0 + timedelta(days=1))


def test_the_chart_shows_each_persons_interruptions_and_hours(tmp_path: Path) -> None:
    health = report()
    path = health.chart(tmp_path / "health.svg")
    svg = path.read_text()
    assert svg.startswith("<?xml")
    for p in health.people:
        assert f">{p.person}<" in svg
    assert "sleep hours" in svg and "Hours on call (gini" in svg
    again = health.chart(tmp_path / "again.svg").read_text()
    assert again == svg  # deterministic: a chart can be committed and diffed
    assert health.chart(tmp_path / "health.png").read_bytes().startswith(b"\x89PNG")


def test_a_bad_chart_file_is_refused_naming_out(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        report().chart(tmp_path / "health.pdf")
    assert err.value.field == "out"
    assert list(tmp_path.iterdir()) == []


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def test_oncall_health_chart_writes_the_file(
    files: tuple[str, str, str],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, policy, _ = files
    args = ("--db", db, "--policy", policy, "oncall", "health")
    period = ("--from", "2024-11-20T00:00:00Z", "--to", "2024-11-21T00:00:00Z")
    target = tmp_path / "health.svg"
    code, out, _ = run(*args, *period, "--chart", str(target))
    assert code == 0 and out.strip() == f"wrote {target}"
    assert "Interruptions in each person" in target.read_text()
    code, _, err = run(*args, *period, "--chart", str(tmp_path / "health.txt"))
    assert code == 2 and "--chart" in err and not (tmp_path / "health.txt").exists()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(*args, *period, "--chart", str(tmp_path / "other.svg"))
    assert code == 2 and "incidentkit[charts]" in err
