"""The installed example package end to end: autoloaded by a kit, paging through deliver().

Each test runs a fresh interpreter with the ``--target`` install on
``PYTHONPATH`` (the ``example_site`` fixture), so entry points are read the
way an application would read them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .example_install import example_env

pytestmark = pytest.mark.slow

DECLARE_AND_DELIVER = """
import json, sys
from incidentkit import IncidentKit
kit = IncidentKit.open(sys.argv[1])  # plugin autoload left at its default: on
inc = kit.declare("API returning 500 errors", severity="SEV1", by="alice")
report = kit.deliver()
print(json.dumps({
    "incident": inc.id,
    "plugins": kit.plugins.names(),
    "notifiers": sorted(kit.plugins.notifiers()),
    "actions": sorted(kit.plugins.mitigation_actions()),
    "delivered": report.delivered,
    "dead": report.dead,
}))
kit.shutdown()
"""

CLI = "import sys; from incidentkit.cli import main; sys.exit(main(sys.argv[1:]))"


def _python(site: Path, *args: str, **env: str) -> str:
    env.setdefault("INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD", "0")  # whatever the caller's is
    done = subprocess.run(
        [sys.executable, *args],
        env=example_env(site, **env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_autoloaded_example_plugin_pages_for_a_sev1(example_site: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "pages.jsonl"
    url = f"sqlite:///{tmp_path / 'incidents.db'}"
    result = json.loads(
        _python(
            example_site, "-c", DECLARE_AND_DELIVER, url, INCIDENTKIT_EXAMPLE_OUTBOX=str(outbox)
        )
    )
    assert "example" in result["plugins"]
    assert "example-jsonl" in result["notifiers"]
    assert "example_echo" in result["actions"]
    assert result["dead"] == 0
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    pages = [line for line in lines if line["incident"] == result["incident"]]
    assert [(p["kind"], p["severity"], p["urgency"]) for p in pages] == [("page", "SEV1", "high")]
    assert pages[0]["key"].startswith(f"{result['incident']}:")
    assert "API returning 500 errors" in pages[0]["text"]


def test_autoload_disabled_leaves_the_example_plugin_out(
    example_site: Path, tmp_path: Path
) -> None:
    outbox = tmp_path / "pages.jsonl"
    url = f"sqlite:///{tmp_path / 'incidents.db'}"
    result = json.loads(
        _python(
            example_site,
            "-c",
            DECLARE_AND_DELIVER,
            url,
            INCIDENTKIT_EXAMPLE_OUTBOX=str(outbox),
            INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD="1",
        )
    )
    assert "example" not in result["plugins"]
    assert "example-jsonl" not in result["notifiers"]
    assert result["delivered"] == 0
    assert not outbox.exists()


def test_the_cli_lists_the_example_plugin_with_its_package_version(
    example_site: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'incidents.db'}"
    listed = json.loads(_python(example_site, "-c", CLI, "--db", url, "plugins", "--json"))
    [example] = [p for p in listed if p["name"] == "example"]
    assert example["origin"] == "entry point"
    assert (example["distribution"], example["version"]) == ("incidentkit-example", "0.1.0")
    assert "incidentkit_notifiers" in example["hooks"]
    assert "incidentkit_mitigation_actions" in example["hooks"]

    text = _python(example_site, "-c", CLI, "--db", url, "plugins")
    assert "example (entry point incidentkit-example 0.1.0)" in text

    quiet = _python(
        example_site,
        "-c",
        CLI,
        "--db",
        url,
        "plugins",
        "--json",
        INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    assert "example" not in [p["name"] for p in json.loads(quiet)]
