"""The built-in stores as an ordinary plugin: ``memory://``, ``sqlite://``, ``postgresql://``."""

from __future__ import annotations

from incidentkit.plugins import hookimpl
from incidentkit.store import MemoryStore, Store

__all__ = ["KNOWN_SCHEMES", "StoresPlugin"]

KNOWN_SCHEMES: tuple[str, ...] = ("memory://", "sqlite://", "postgresql://", "postgres://")
"""URL prefixes the built-in stores answer, for the "unknown scheme" message."""


class StoresPlugin:
    """Open a built-in store for a URL; any other scheme is left to other plugins.

    >>> store = StoresPlugin().incidentkit_store("sqlite://:memory:")
    >>> type(store).__name__
    'SqliteStore'
    >>> StoresPlugin().incidentkit_store("redis://localhost") is None
    True
    """

    @hookimpl(trylast=True)
    def incidentkit_store(self, url: str) -> Store | None:
        """Return an unmigrated store for ``url``, or ``None`` when the scheme is not built in."""
        if url.startswith("memory://"):
            return MemoryStore(url)
        if url.startswith("sqlite:"):
            from incidentkit.store.sqlite import SqliteStore

            return SqliteStore(url)
        if url.startswith(("postgresql://", "postgres://")):
            from incidentkit.store.postgres import PostgresStore

            return PostgresStore(url)
        return None
