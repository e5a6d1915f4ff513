"""The example plugin package builds, installs, exposes its entry point and works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .example_install import EXAMPLE, example_env

pytestmark = pytest.mark.slow

LIST_ENTRY_POINTS = """
import json
from importlib.metadata import entry_points
print(json.dumps(sorted((ep.name, ep.value) for ep in entry_points(group="incidentkit"))))
"""

DELIVER_THROUGH_ENTRY_POINT = """
from importlib.metadata import entry_points
from incidentkit.notify import NotificationKind
from incidentkit.testing import sample_notification
from incidentkit.testing.notifier_contract import collect_notifiers
from incidentkit.testing.mitigation_contract import collect_actions

[ep] = [ep for ep in entry_points(group="incidentkit") if ep.name == "example"]
plugin = ep.load()
[spec] = collect_notifiers(plugin)
spec.deliver(sample_notification(NotificationKind.PAGE, key="INC-9:1:example"))
print(spec.name, [a.name for a in collect_actions(plugin)])
"""


def _run(site: Path, code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=example_env(site, **env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_entry_point_is_visible_after_install(example_site: Path) -> None:
    found = json.loads(_run(example_site, LIST_ENTRY_POINTS))
    assert ["example", "incidentkit_example:plugin"] in found


def test_the_installed_notifier_writes_a_json_line(example_site: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    out = _run(example_site, DELIVER_THROUGH_ENTRY_POINT, INCIDENTKIT_EXAMPLE_OUTBOX=str(outbox))
    assert out == "example-jsonl ['example_echo']"
    [row] = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert row["key"] == "INC-9:1:example"
    assert row["kind"] == "page"
    assert row["severity"] == "SEV1"
    assert row["urgency"] == "high"


def test_the_example_package_passes_the_contract_suites(example_site: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        env=example_env(example_site),
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout
    assert "failed" not in done.stdout


def test_without_the_install_the_entry_point_is_absent() -> None:
    found = json.loads(
        subprocess.run(
            [sys.executable, "-c", LIST_ENTRY_POINTS], capture_output=True, text=True, check=True
        ).stdout
    )
    assert not any(name == "example" for name, _ in found)
