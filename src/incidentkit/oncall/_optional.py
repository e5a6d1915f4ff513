"""Optional dependencies (``holidays``, ``icalendar``), imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

from incidentkit.errors import IncidentKitError

__all__ = ["MissingExtra", "import_optional"]


class MissingExtra(IncidentKitError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{purpose} needs the {module!r} package: pip install 'incidentkit[{extra}]'"
        )


def import_optional(module: str, extra: str, purpose: str) -> Any:
    """Import ``module`` or raise :class:`MissingExtra` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtra(module, extra, purpose) from err
