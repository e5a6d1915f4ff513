"""The store plugin shown in docs/howto/writing-a-store-plugin.md passes the contract."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest

from incidentkit.kit import IncidentKit
from incidentkit.plugins import PROJECT_NAME, hookspecs
from incidentkit.plugins import manager as manager_module
from incidentkit.plugins.builtin.stores import StoresPlugin
from incidentkit.plugins.manager import AUTOLOAD_ENV, ENTRY_POINT_GROUP
from incidentkit.testing import StoreContract

sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "store_plugin"))

from metered_store import MeteredStore, MeteredStorePlugin


class TestMeteredStore(StoreContract):
    supports_processes = False  # no picklable factory: the example is not an installed module

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MeteredStore]:
        store = MeteredStorePlugin().incidentkit_store(f"metered+sqlite:///{tmp_path}/m.db")
        assert isinstance(store, MeteredStore)
        store.migrate()
        yield store
        store.close()


def test_the_hook_wins_over_builtins_and_counts_calls(tmp_path: Path) -> None:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(StoresPlugin())
    pm.register(MeteredStorePlugin())
    store = pm.hook.incidentkit_store(url=f"metered+sqlite:///{tmp_path}/m.db")
    assert isinstance(store, MeteredStore)
    store.migrate()
    store.version("INC-1")
    store.version("INC-1")
    calls, seconds = store.stats()["version"]
    assert calls == 2 and seconds > 0
    assert pm.hook.incidentkit_store(url="sqlite://:memory:").url == "sqlite://:memory:"
    store.close()


def test_the_entry_point_the_how_to_publishes_opens_a_kit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    how_to = (
        Path(__file__).parents[2] / "docs" / "howto" / "writing-a-store-plugin.md"
    ).read_text()
    [value] = re.findall(r'^metered-store = "([^"]+)"$', how_to, re.M)
    entry_point = importlib.metadata.EntryPoint("metered-store", value, ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        manager_module.importlib.metadata,
        "entry_points",
        lambda *, group: [entry_point] if group == ENTRY_POINT_GROUP else [],
    )
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    with IncidentKit.open("metered+memory://") as kit:
        assert isinstance(kit.store, MeteredStore)
        assert kit.plugins.failures == []
