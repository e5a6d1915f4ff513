"""Targets: the guide's defaults, TOML loading, and breaches with their excess."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from incidentkit import metrics
from incidentkit.errors import PolicyError, ValidationError
from incidentkit.metrics import Breach, Metric, Targets
from incidentkit.severity import Severity

from ._metrics_fixtures import LOGIN, summary


def test_defaults_come_from_the_guide() -> None:
    targets = Targets.default()
    assert targets.mttd == timedelta(minutes=5)
    assert targets.mttr == timedelta(minutes=30)
    assert dict(targets.acknowledge) == {
        Severity.SEV1: timedelta(minutes=5),
        Severity.SEV2: timedelta(minutes=15),
        Severity.SEV3: timedelta(hours=1),
    }
    assert targets.next_business_day == {Severity.SEV4}  # as the severity policy counts it


def test_breaches_list_incident_target_and_excess() -> None:
    items = [
        LOGIN,
        # SEV1 acknowledged 7 min after detection (target 5), resolved 45 min after (30)
        summary("SLOW", severity=Severity.SEV1, detected=1, acknowledged=8, resolved=46),
        # detected 6 min after it started (target 5); SEV3 acknowledged after 50 min (1 h)
        summary(
            "LATE", severity=Severity.SEV3, started=0, detected=6, acknowledged=56, resolved=20
        ),
        # exactly on target: meets it
        summary(
            "EDGE", severity=Severity.SEV2, started=0, detected=5, acknowledged=20, resolved=35
        ),
    ]
    report = metrics.compute(items)
    assert report.breaches == (
        Breach("LATE", Severity.SEV3, Metric.MTTD, 360.0, 300.0),
        Breach("SLOW", Severity.SEV1, Metric.MTTA, 420.0, 300.0),
        Breach("SLOW", Severity.SEV1, Metric.MTTR, 2700.0, 1800.0),
    )
    assert report.breaches[1].over == 120.0
    assert report.breaches[2].over == 900.0


def test_mttr_target_follows_the_basis() -> None:
    item = summary("X", started=0, detected=5, resolved=33)  # 28 min from detection, 33 from start
    assert metrics.compute([item]).breaches == ()
    (breach,) = metrics.compute([item], basis="started", targets=Targets(mttd=None)).breaches
    assert (breach.target, breach.over) == (Metric.MTTR, 180.0)


def test_no_targets() -> None:
    report = metrics.compute([summary("X", detected=1, resolved=500)], targets=Targets.none())
    assert report.breaches == ()


def test_load_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text('mttd = "2m"\nmttr = "PT1H"\n\n[acknowledge]\nSEV1 = "1m"\nSEV4 = "3d"\n')
    targets = Targets.load(path)
    assert targets.mttd == timedelta(minutes=2)
    assert targets.mttr == timedelta(hours=1)
    assert dict(targets.acknowledge) == {
        Severity.SEV1: timedelta(minutes=1),
        Severity.SEV4: timedelta(days=3),
    }
    assert Targets.from_mapping(targets.to_mapping()) == targets


def test_bad_toml_names_key_paths(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text('mttr = "soon"\nextra = 1\n[acknowledge]\nSEV9 = "1m"\n')
    with pytest.raises(PolicyError) as info:
        Targets.load(path)
    paths = {p for p, _ in info.value.problems}
    assert "$.mttr" in paths
    assert "$.extra" in paths
    assert info.value.source == str(path)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mttr": timedelta(0)}, "mttr"),
        ({"mttd": timedelta(minutes=-1)}, "mttd"),
        ({"acknowledge": {Severity.SEV1: timedelta(0)}}, "acknowledge.SEV1"),
    ],
)
def test_non_positive_targets_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Targets(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
