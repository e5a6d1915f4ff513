"""The ``metrics`` CLI pieces and charts."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import pytest

from incidentkit import metrics
from incidentkit.errors import ValidationError
from incidentkit.metrics import add_metrics_parser, run_metrics
from incidentkit.metrics.charts import render_chart
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary, MemoryStore

from ._metrics_fixtures import LOGIN, summary

ITEMS = [
    LOGIN,
    summary("A", severity=Severity.SEV2, detected=1, resolved=41),
    summary(
        "B", severity=Severity.SEV3, services=("db",), detected=50000, started=49990, resolved=50100
    ),
]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="incidentkit")
    add_metrics_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["metrics", *argv])


def run(*argv: str, source: object = ITEMS) -> tuple[int, str]:
    out = io.StringIO()
    code = run_metrics(parse(*argv), source, out)  # type: ignore[arg-type]
    return code, out.getvalue()


def test_default_table() -> None:
    code, text = run()
    assert code == 0
    assert "MTTR (resolved_at − detected_at)" in text
    assert "MTTR basis: detected" in text


def test_formats_and_options() -> None:
    code, text = run(
        "--by",
        "severity,service",
        "--basis",
        "started",
        "--zone",
        "Europe/London",
        "--since",
        "2024-11-01T00:00:00Z",
        "--until",
        "2024-12-01T00:00:00+00:00",
        "--format",
        "json",
    )
    assert code == 0
    doc = json.loads(text)
    assert doc["basis"] == "started" and doc["zone"] == "Europe/London"
    assert doc["by"] == ["severity", "service"]
    assert doc["overall"]["incidents"] == 3
    code, text = run("--format", "csv")
    assert code == 0 and next(iter(csv.reader(io.StringIO(text))))[0] == "group"
    code, text = run("--format", "prom")
    assert code == 0 and "# TYPE incidentkit_mttr_seconds gauge" in text
    code, text = run("--format", "markdown")
    assert code == 0 and text.startswith("| group |")


def test_reads_a_store() -> None:
    store = MemoryStore()
    for item in ITEMS:
        store.append(item.incident_id, [], 0, summary=item)
    code, text = run("--format", "json", "--since", "2024-11-20T00:00:00Z", source=store)
    assert code == 0
    assert json.loads(text)["overall"]["incidents"] == 1


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--since", "yesterday"], "--since"),
        (["--until", "2024-11-01T00:00:00"], "--until"),  # naive
        (["--by", "team"], "--by"),
        (["--basis", "closed"], "--basis"),
        (["--zone", "Mars/Base"], "--zone"),
        (["--format", "xml"], "--format"),
        (["--kind", "pie"], "--kind"),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        parse(*argv)
    assert info.value.code == 2
    assert option in capsys.readouterr().err


def test_since_after_until_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run("--since", "2024-12-01T00:00:00Z", "--until", "2024-11-01T00:00:00Z")
    assert code == 2 and text == ""
    assert "--since" in capsys.readouterr().err


def test_bad_targets_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.toml"
    path.write_text('mttr = "whenever"\n')
    code, _ = run("--targets", str(path))
    assert code == 2
    err = capsys.readouterr().err
    assert "--targets" in err and "$.mttr" in err
    code, _ = run("--targets", str(tmp_path / "missing.toml"))
    assert code == 2


def test_targets_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('mttr = "10m"\n')
    code, text = run("--format", "json", "--targets", str(path))
    assert code == 0
    breaches = [(b["incident_id"], b["target"]) for b in json.loads(text)["breaches"]]
    # MTTR over 10 min for all three; B also took 10 min to detect (default target 5)
    assert breaches == [("A", "mttr"), ("B", "mttd"), ("B", "mttr"), ("INC-LOGIN", "mttr")]


def test_chart_requires_out_and_out_requires_chart(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("chart")[0] == 2
    assert "--out" in capsys.readouterr().err
    assert run("--out", "x.png")[0] == 2
    assert "--out" in capsys.readouterr().err
    assert run("chart", "--out", "x.png", "--by", "service")[0] == 2
    assert "--by" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kind", "suffix"), [("mttr", "svg"), ("mttd", "png"), ("severity", "svg")]
)
def test_chart_command_writes_a_file(tmp_path: Path, kind: str, suffix: str) -> None:
    out = tmp_path / f"chart.{suffix}"
    code, text = run("chart", "--out", str(out), "--kind", kind)
    assert code == 0
    assert text == f"wrote {out}\n"
    head = out.read_bytes()[:8]
    assert head.startswith(b"\x89PNG") if suffix == "png" else b"<?xml" in head


def test_svg_is_deterministic(tmp_path: Path) -> None:
    report = metrics.compute(ITEMS, by="month")
    first = render_chart(report, tmp_path / "a.svg").read_bytes()
    second = render_chart(report, tmp_path / "b.svg").read_bytes()
    assert first == second


def test_chart_refuses_wrong_breakdown_kind_and_suffix(tmp_path: Path) -> None:
    by_severity = metrics.compute(ITEMS, by="severity")
    with pytest.raises(ValidationError) as info:
        render_chart(by_severity, tmp_path / "a.svg", kind="mttr")
    assert info.value.field == "by"
    with pytest.raises(ValidationError) as info:
        render_chart(by_severity, tmp_path / "a.svg", kind="pie")
    assert info.value.field == "kind"
    with pytest.raises(ValidationError) as info:
        render_chart(by_severity, tmp_path / "a.gif", kind="severity")
    assert info.value.field == "out"
    assert not (tmp_path / "a.svg").exists()


def test_missing_matplotlib_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    report = metrics.compute(ITEMS, by="month")
    with pytest.raises(ImportError, match=r"incidentkit\[charts\]"):
        report.chart(tmp_path / "a.png")
    code, _ = run("chart", "--out", str(tmp_path / "a.png"))
    assert code == 1
    assert "incidentkit[charts]" in capsys.readouterr().err


def test_summaries_type_is_the_stores() -> None:
    assert all(isinstance(i, IncidentSummary) for i in ITEMS)
