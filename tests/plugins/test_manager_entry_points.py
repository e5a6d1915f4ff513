"""Entry-point discovery: order, the autoload switch, and plugins that fail to import."""

from __future__ import annotations

import importlib.metadata
import sys
import types
from collections.abc import Iterator

import pytest

import incidentkit as ik
from incidentkit.plugins import manager as manager_module
from incidentkit.store import MemoryStore


class _Answering:
    """A store plugin that claims ``memory://`` and says who it is."""

    def __init__(self, name: str) -> None:
        self.name = name

    @ik.hookimpl
    def incidentkit_store(self, url: str) -> ik.Store | None:
        return MemoryStore(f"memory://{self.name}") if url.startswith("memory://") else None


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """Two entry points in group ``incidentkit``: one good, one that fails to import."""
    module = types.ModuleType("incidentkit_fake_plugin")
    module.plugin = _Answering("entry-point")  # type: ignore[attr-defined]
    sys.modules["incidentkit_fake_plugin"] = module
    good = importlib.metadata.EntryPoint("fake", "incidentkit_fake_plugin:plugin", "incidentkit")
    broken = importlib.metadata.EntryPoint("broken", "incidentkit_no_such_module", "incidentkit")

    def entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
        return [good, broken] if group == "incidentkit" else []

    monkeypatch.setattr(manager_module.importlib.metadata, "entry_points", entry_points)
    monkeypatch.delenv(manager_module.AUTOLOAD_ENV, raising=False)
    yield module
    del sys.modules["incidentkit_fake_plugin"]


def test_a_plugin_that_fails_to_import_is_reported_by_name_and_skipped(
    fake_entry_points: types.ModuleType,
) -> None:
    pm = ik.PluginManager()
    assert [f.name for f in pm.failures] == ["broken"]
    assert "ModuleNotFoundError" in pm.failures[0].error
    assert "fake" in pm.names()


def test_strict_mode_makes_an_import_failure_fatal(fake_entry_points: types.ModuleType) -> None:
    with pytest.raises(ik.PluginError) as caught:
        ik.PluginManager(strict=True)
    assert caught.value.plugin == "broken"


def test_builtins_then_entry_points_then_the_hosts_plugins(
    fake_entry_points: types.ModuleType,
) -> None:
    names = ik.PluginManager([_Answering("host")]).names()
    assert names.index("incidentkit.stores") < names.index("fake") < names.index("host")
    # first-result hooks ask the latest registered first: the host's plugin wins
    kit = ik.IncidentKit.open("memory://", plugins=[_Answering("host")])
    assert kit.store.url == "memory://host"
    # without the host's plugin, the entry point beats the built-in
    assert ik.IncidentKit.open("memory://").store.url == "memory://entry-point"


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_the_environment_switch_turns_autoload_off(
    fake_entry_points: types.ModuleType, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(manager_module.AUTOLOAD_ENV, value)
    pm = ik.PluginManager()
    assert "fake" not in pm.names()
    assert pm.failures == []


def test_an_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(ik.ValidationError) as caught:
        ik.IncidentKit.open("redis://localhost", autoload_plugins=False)
    assert caught.value.field == "url"
    for scheme in ("memory://", "sqlite://", "postgresql://"):
        assert scheme in caught.value.reason
