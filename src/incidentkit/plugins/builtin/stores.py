"""The built-in store plugin: ``memory://``."""

from __future__ import annotations

from incidentkit.plugins._markers import hookimpl
from incidentkit.store import MemoryStore, Store

__all__ = ["KNOWN_SCHEMES", "StoresPlugin"]

KNOWN_SCHEMES = ("memory://",)


class StoresPlugin:
    """Opens the stores that ship with incidentkit."""

    name = "incidentkit.stores"

    @hookimpl
    def incidentkit_store(self, url: str) -> Store | None:
        """Return a store for a built-in scheme, else ``None``."""
        if url == "memory://" or url.startswith("memory://"):
            return MemoryStore(url)
        return None
