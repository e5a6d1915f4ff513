"""Where the example plugin package lives and how a subprocess sees it once installed."""

from __future__ import annotations

import os
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "incidentkit-example"


def example_env(site: Path, **extra: str) -> dict[str, str]:
    """The environment for a subprocess that should see the installed example plugin."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env
