"""Optional dependencies (``holidays``, ``icalendar``), imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

from incidentkit.errors import MissingExtra

__all__ = ["MissingExtra", "import_optional"]


def import_optional(module: str, extra: str, purpose: str) -> Any:
    """Import ``module`` or raise :class:`MissingExtra` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtra(module, extra, purpose) from err
