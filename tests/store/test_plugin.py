"""The built-in stores plugin answers its schemes through the ``incidentkit_store`` hook."""

from __future__ import annotations

from pathlib import Path

import pluggy
import pytest

from incidentkit.errors import StoreError, ValidationError
from incidentkit.plugins import PROJECT_NAME, hookspecs
from incidentkit.plugins.builtin.stores import KNOWN_SCHEMES, StoresPlugin
from incidentkit.store import MemoryStore, Store
from incidentkit.store.postgres import PostgresStore
from incidentkit.store.sqlite import SqliteStore


@pytest.fixture
def pm() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(StoresPlugin(), name="builtin-stores")
    return manager


def test_memory_and_sqlite_urls_open_their_stores(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    memory = pm.hook.incidentkit_store(url="memory://")
    assert isinstance(memory, MemoryStore)
    sqlite = pm.hook.incidentkit_store(url=f"sqlite:///{tmp_path}/x.db")
    assert isinstance(sqlite, SqliteStore) and isinstance(sqlite, Store)
    assert sqlite.path == f"{tmp_path}/x.db"
    sqlite.close()


def test_unknown_schemes_are_left_to_other_plugins(pm: pluggy.PluginManager) -> None:
    assert pm.hook.incidentkit_store(url="redis://localhost/0") is None
    assert pm.hook.incidentkit_store(url="incidents.db") is None


def test_known_schemes_cover_every_branch() -> None:
    assert KNOWN_SCHEMES == ("memory://", "sqlite://", "postgresql://", "postgres://")


def test_a_plugin_may_take_over_a_builtin_scheme(pm: pluggy.PluginManager) -> None:
    replacement = MemoryStore("sqlite://:memory:")

    class Override:
        @pluggy.HookimplMarker(PROJECT_NAME)
        def incidentkit_store(self, url: str) -> Store | None:
            return replacement if url.startswith("sqlite:") else None

    pm.register(Override())
    assert pm.hook.incidentkit_store(url="sqlite://:memory:") is replacement


def test_a_bad_sqlite_url_is_a_validation_error(pm: pluggy.PluginManager) -> None:
    with pytest.raises(ValidationError) as caught:
        pm.hook.incidentkit_store(url="sqlite://no-slash.db")
    assert caught.value.field == "url"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_urls_open_a_postgres_store(
    pm: pluggy.PluginManager, scheme: str, postgres_dsn: str
) -> None:
    url = scheme + "://" + postgres_dsn.split("://", 1)[1]
    store = pm.hook.incidentkit_store(url=url)
    assert isinstance(store, PostgresStore)
    store.close()


def test_an_unreachable_postgres_url_is_a_store_error(pm: pluggy.PluginManager) -> None:
    with pytest.raises(StoreError):
        pm.hook.incidentkit_store(url="postgresql://nobody@127.0.0.1:1/x?connect_timeout=2")
