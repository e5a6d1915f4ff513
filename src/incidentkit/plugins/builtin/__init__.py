"""Built-in plugins: registered first, through the same hooks as third-party ones."""

from __future__ import annotations

from collections.abc import Callable

from incidentkit.plugins.builtin.stores import StoresPlugin

__all__ = ["BUILTIN_PLUGINS"]

BUILTIN_PLUGINS: tuple[tuple[str, Callable[[], object]], ...] = (
    ("incidentkit.stores", StoresPlugin),
)
"""(name, factory) of every built-in plugin, in registration order."""
