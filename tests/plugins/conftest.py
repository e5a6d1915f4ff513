"""Install the example plugin package once per session (for the entry-point tests)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from .example_install import EXAMPLE


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``incidentkit-example`` pip-installed into it (``--target``).

    Put it on ``PYTHONPATH`` (see :func:`example_env`) so a subprocess sees
    the package and its ``incidentkit`` entry point. Building needs hatchling
    in this environment (``--no-build-isolation``: no network).
    """
    if importlib.util.find_spec("hatchling") is None:
        pytest.skip("hatchling is not installed; it builds the example package offline")
    target = tmp_path_factory.mktemp("example-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return target
