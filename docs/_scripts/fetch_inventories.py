"""Refresh the intersphinx inventories in ``docs/_inventories/``.

The docs build reads inventories from those committed files so it works
offline (see ``docs/conf.py``). Run this on a machine with network access,
then commit the files::

    .venv/bin/python docs/_scripts/fetch_inventories.py
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conf import _INVENTORIES  # conf.py lives one folder up

TARGET = Path(__file__).resolve().parent.parent / "_inventories"


def main() -> int:
    """Download each project's ``objects.inv``; return 1 if any download failed."""
    TARGET.mkdir(exist_ok=True)
    failed = 0
    for name, url in _INVENTORIES.items():
        source = f"{url}/objects.inv"
        try:
            with urllib.request.urlopen(source, timeout=30) as response:
                data = response.read()
        except OSError as err:
            print(f"{name}: cannot fetch {source}: {err}", file=sys.stderr)
            failed = 1
            continue
        (TARGET / f"{name}.inv").write_bytes(data)
        print(f"{name}: {len(data)} bytes from {source}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
