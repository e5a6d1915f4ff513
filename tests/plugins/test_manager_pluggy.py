"""The plugin manager calls hooks through pluggy: wrappers, ordering, tracing, attribution.

It also refuses what pluggy would silently ignore (a misspelt hook, a missing
``@hookimpl``), instantiates or refuses classes given as entry points,
configures plugins by name and lets the host replace an installed plugin.
"""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import types
from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import incidentkit as ik
from incidentkit import cli
from incidentkit.plugins import manager as manager_module
from incidentkit.store import MemoryStore
from incidentkit.testing import CapturingNotifier


def kit_with(manual_clock: ik.ManualClock, *plugins: object) -> ik.IncidentKit:
    return ik.IncidentKit(clock=manual_clock, plugins=plugins, autoload_plugins=False)


class Veto:
    """A plain authorize hook that refuses one actor."""

    def __init__(self, name: str, actor: str, **opts: bool) -> None:
        self.name = name
        self.actor = actor

        # The marker's options are per function, so mark a per-instance function.
        def incidentkit_authorize(actor: str) -> str | None:
            return f"{name} refuses {actor}" if actor == self.actor else None

        self.incidentkit_authorize = ik.hookimpl(**opts)(incidentkit_authorize)


# --- wrappers ---------------------------------------------------------------------------


class VetoingWrapper:
    """A new-style wrapper that adds its own veto around the other implementations."""

    name = "leave-calendar"

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    @ik.hookimpl(wrapper=True)
    def incidentkit_authorize(self, actor: str) -> Generator[None, list[str], list[str]]:
        reasons = yield
        self.seen.append(list(reasons))
        if actor == "mallory":
            return [*reasons, "mallory is on leave"]
        return reasons


class PassingWrapper:
    """A new-style wrapper that only watches."""

    name = "audit"

    def __init__(self) -> None:
        self.calls: list[str] = []

    @ik.hookimpl(wrapper=True)
    def incidentkit_authorize(
        self, actor: str, action: str
    ) -> Generator[None, list[str], list[str]]:
        self.calls.append(f"{actor}:{action}")
        return (yield)


class OldStyleWrapper:
    """A ``hookwrapper=True`` implementation (pluggy's older form) that only watches."""

    name = "old-audit"

    def __init__(self) -> None:
        self.outcomes: list[object] = []

    @ik.hookimpl(hookwrapper=True)
    def incidentkit_authorize(self, action: str) -> Generator[None, Any, None]:
        outcome = yield
        self.outcomes.append(outcome.get_result())


def test_a_wrapper_that_vetoes_refuses_the_command_naming_its_plugin(
    manual_clock: ik.ManualClock,
) -> None:
    wrapper = VetoingWrapper()
    kit = kit_with(manual_clock, wrapper)
    kit.declare("API returning 500 errors", severity="SEV2", by="alice", incident_id="INC-1")
    with pytest.raises(ik.PermissionDenied) as caught:
        kit.declare("Disk filling up", severity="SEV3", by="mallory", incident_id="INC-2")
    assert caught.value.reason == "mallory is on leave (plugin leave-calendar)"
    assert "generator" not in str(caught.value)
    assert kit.store.incident_ids() == ["INC-1"]


def test_a_wrapper_that_passes_lets_commands_through_and_sees_the_inner_vetoes(
    manual_clock: ik.ManualClock,
) -> None:
    audit, calendar, old = PassingWrapper(), VetoingWrapper(), OldStyleWrapper()
    veto = Veto("freeze", "bob")
    kit = kit_with(manual_clock, audit, old, veto, calendar)
    kit.declare("API returning 500 errors", severity="SEV2", by="alice", incident_id="INC-1")
    assert kit.get("INC-1").status is ik.Status.DECLARED
    assert audit.calls == ["alice:declare"]
    with pytest.raises(ik.PermissionDenied) as caught:
        kit.declare("Disk filling up", severity="SEV3", by="bob")
    assert caught.value.reason == "freeze refuses bob (plugin freeze)"
    assert calendar.seen == [[], ["freeze refuses bob"]]
    assert old.outcomes == [[], ["freeze refuses bob"]]


def test_a_wrapper_that_is_not_a_generator_is_refused_at_registration() -> None:
    class NotAGenerator:
        name = "flat-wrapper"

        @ik.hookimpl(wrapper=True)
        def incidentkit_authorize(self, actor: str) -> None:
            return None

    with pytest.raises(ik.PluginError) as caught:
        ik.PluginManager([NotAGenerator()], autoload=False)
    assert caught.value.plugin == "flat-wrapper"
    assert "generator" in caught.value.reason


# --- ordering, tracing and attribution ----------------------------------------------------


def test_tryfirst_is_honoured_over_registration_order(manual_clock: ik.ManualClock) -> None:
    # Without options the latest registered answers first; tryfirst overrides that.
    early = Veto("early", "mallory", tryfirst=True)
    late = Veto("late", "mallory")
    kit = kit_with(manual_clock, early, late)
    with pytest.raises(ik.PermissionDenied) as caught:
        kit.declare("x", severity="SEV3", by="mallory")
    assert caught.value.reason == "early refuses mallory (plugin early)"
    last = Veto("last", "mallory", trylast=True)
    kit = kit_with(manual_clock, Veto("plain", "mallory"), last)
    with pytest.raises(ik.PermissionDenied) as caught:
        kit.declare("x", severity="SEV3", by="mallory")
    assert caught.value.reason == "plain refuses mallory (plugin plain)"


def test_hook_calls_go_through_pluggy_so_monitoring_sees_them(
    manual_clock: ik.ManualClock,
) -> None:
    kit = kit_with(manual_clock, Veto("freeze", "bob"))
    seen: list[tuple[str, list[str]]] = []

    def before(hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, object]) -> None:
        seen.append((hook_name, [impl.plugin_name for impl in impls]))

    def after(*_: object) -> None:
        return None

    undo = kit.plugins.pluggy.add_hookcall_monitoring(before, after)
    try:
        kit.declare("x", severity="SEV3", by="alice", incident_id="INC-1")
    finally:
        undo()
    assert ("incidentkit_authorize", ["freeze"]) in seen


def test_an_exception_is_attributed_to_the_plugin_that_raised_it(
    manual_clock: ik.ManualClock,
) -> None:
    class Broken:
        name = "broken-authz"

        @ik.hookimpl
        def incidentkit_authorize(self, actor: str) -> str | None:
            raise KeyError(actor)

    # The healthy plugin is called first (registered last) and passes.
    kit = kit_with(manual_clock, Broken(), Veto("healthy", "nobody"), PassingWrapper())
    with pytest.raises(ik.PluginError) as caught:
        kit.declare("x", severity="SEV3", by="alice")
    assert caught.value.plugin == "broken-authz"
    assert "KeyError" in caught.value.reason
    assert kit.store.incident_ids() == []


def test_two_instances_of_one_class_are_told_apart(manual_clock: ik.ManualClock) -> None:
    class Flaky:
        def __init__(self, name: str, fail: bool) -> None:
            self.name = name
            self.fail = fail

        @ik.hookimpl
        def incidentkit_authorize(self, actor: str) -> str | None:
            if self.fail:
                raise RuntimeError("policy service down")
            return None

    kit = kit_with(manual_clock, Flaky("one", True), Flaky("two", False))
    with pytest.raises(ik.PluginError) as caught:
        kit.declare("x", severity="SEV3", by="alice")
    assert caught.value.plugin == "one"


# --- hooks pluggy would ignore ----------------------------------------------------------------


def test_a_misspelt_hook_is_refused_naming_the_nearest_one() -> None:
    class Typo:
        name = "acme-pager"

        @ik.hookimpl
        def incidentkit_notifers(self) -> list[ik.NotifierSpec]:
            return []

    with pytest.raises(ik.PluginError) as caught:
        ik.PluginManager([Typo()], autoload=False)
    assert caught.value.plugin == "acme-pager"
    assert "incidentkit_notifers" in caught.value.reason
    assert "did you mean incidentkit_notifiers?" in caught.value.reason


def test_a_marked_function_with_a_name_outside_the_hooks_is_refused() -> None:
    class Stray:
        name = "stray"

        @ik.hookimpl
        def open_channel(self, incident: ik.Incident) -> str:
            return "#x"

    with pytest.raises(ik.PluginError, match="did you mean incidentkit_open_channel"):
        ik.PluginManager([Stray()], autoload=False)


def test_an_optional_hook_for_a_newer_incidentkit_is_allowed() -> None:
    class Ahead:
        name = "ahead"

        @ik.hookimpl(optionalhook=True)
        def incidentkit_future_hook(self) -> None:
            return None

    assert "ahead" in ik.PluginManager([Ahead()], autoload=False).names()


def test_an_unmarked_incidentkit_function_in_a_module_is_refused() -> None:
    module = types.ModuleType("forgetful_plugin")

    def incidentkit_open_channel(incident: ik.Incident) -> str:
        return "#forgotten"

    module.incidentkit_open_channel = incidentkit_open_channel  # type: ignore[attr-defined]
    with pytest.raises(ik.PluginError) as caught:
        ik.PluginManager().register(module, name="forgetful")
    assert caught.value.plugin == "forgetful"
    assert "incidentkit_open_channel" in caught.value.reason
    assert "@incidentkit.hookimpl" in caught.value.reason


def test_a_refused_plugin_leaves_nothing_registered() -> None:
    class Typo:
        name = "typo"

        @ik.hookimpl
        def incidentkit_authorise(self, actor: str) -> None:
            return None

    pm = ik.PluginManager(autoload=False)
    before = pm.names()
    with pytest.raises(ik.PluginError):
        pm.register(Typo())
    assert pm.names() == before


def test_a_class_given_by_the_host_is_refused_with_a_hint() -> None:
    class NeedsInstance:
        @ik.hookimpl
        def incidentkit_open_channel(self, incident: ik.Incident) -> str:
            return "#x"

    with pytest.raises(ik.PluginError) as caught:
        ik.PluginManager([NeedsInstance], autoload=False)
    assert "pass an instance" in caught.value.reason


# --- entry points ----------------------------------------------------------------------------


class _Answering:
    """A store plugin that claims ``memory://`` and says who it is."""

    def __init__(self, name: str = "class-entry-point") -> None:
        self.name = name

    @ik.hookimpl
    def incidentkit_store(self, url: str) -> ik.Store | None:
        return MemoryStore(f"memory://{self.name}") if url.startswith("memory://") else None


class _NeedsToken:
    def __init__(self, token: str) -> None:
        self.token = token

    @ik.hookimpl
    def incidentkit_open_channel(self, incident: ik.Incident) -> str:
        return "#x"


class _Misspelt:
    @ik.hookimpl
    def incidentkit_open_chanel(self, incident: ik.Incident) -> str:
        return "#x"


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """Entry points in group ``incidentkit`` that name whatever the test puts in the dict."""
    module = types.ModuleType("incidentkit_fake_entry")
    targets: dict[str, object] = {}
    sys.modules["incidentkit_fake_entry"] = module

    def entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
        if group != "incidentkit":
            return []
        for key, value in targets.items():
            setattr(module, key.replace("-", "_"), value)
        return [
            importlib.metadata.EntryPoint(
                key, f"incidentkit_fake_entry:{key.replace('-', '_')}", group
            )
            for key in targets
        ]

    monkeypatch.setattr(manager_module.importlib.metadata, "entry_points", entry_points)
    monkeypatch.delenv(manager_module.AUTOLOAD_ENV, raising=False)
    yield targets
    del sys.modules["incidentkit_fake_entry"]


def test_a_class_entry_point_is_instantiated(entry_points: dict[str, object]) -> None:
    entry_points["metered-store"] = _Answering
    with ik.IncidentKit.open("memory://") as kit:
        assert kit.store.url == "memory://class-entry-point"
    pm = ik.PluginManager()
    assert isinstance(pm.pluggy.get_plugin("metered-store"), _Answering)
    assert pm.failures == []


def test_a_class_entry_point_that_needs_arguments_is_reported_by_name(
    entry_points: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    entry_points["chat"] = _NeedsToken
    with (
        caplog.at_level(logging.WARNING, logger="incidentkit.plugins"),
        ik.IncidentKit.open("memory://") as kit,
    ):
        assert "chat" not in kit.plugins.names()
        [failure] = kit.plugins.failures
    assert failure.name == "chat"
    assert "token" in failure.error and "instance" in failure.error
    assert "chat" in caplog.text
    with pytest.raises(ik.PluginError) as caught:
        ik.PluginManager(strict=True)
    assert caught.value.plugin == "chat"


def test_a_misspelt_hook_in_an_entry_point_is_reported_and_fatal_when_strict(
    entry_points: dict[str, object],
) -> None:
    entry_points["typo"] = _Misspelt()
    pm = ik.PluginManager()
    assert "typo" not in pm.names()
    [failure] = pm.failures
    assert failure.name == "typo"
    assert "did you mean incidentkit_open_channel?" in failure.error
    with pytest.raises(ik.PluginError) as caught:
        ik.IncidentKit.open("memory://", strict_plugins=True)
    assert caught.value.plugin == "typo"


# --- configuring installed plugins in code -----------------------------------------------------


class Configurable:
    name = "chat"

    def __init__(self) -> None:
        self.settings: Mapping[str, object] | None = None

    @ik.hookimpl
    def incidentkit_configure(self, settings: Mapping[str, object]) -> None:
        self.settings = settings


def test_settings_given_by_name_reach_the_plugin(entry_points: dict[str, object]) -> None:
    installed = Configurable()
    entry_points["chat"] = installed
    other = Configurable()
    other.name = "other"
    pm = ik.PluginManager([other], settings={"chat": {"token": "xoxb-1", "channel": "#ops"}})
    assert installed.settings == {"token": "xoxb-1", "channel": "#ops"}
    assert other.settings is None
    kit = ik.IncidentKit(store=pm.open_store("memory://"), plugin_manager=pm)
    assert kit.plugins is pm


def test_settings_for_an_unknown_plugin_are_refused_naming_the_nearest() -> None:
    with pytest.raises(ik.ValidationError) as caught:
        ik.PluginManager([Configurable()], autoload=False, settings={"caht": {}})
    assert caught.value.field == "settings"
    assert "'caht'" in caught.value.reason and "'chat'" in caught.value.reason


def test_settings_for_a_plugin_without_the_configure_hook_are_refused() -> None:
    with pytest.raises(ik.PluginError) as caught:
        ik.PluginManager([CapturingNotifier("pager")], autoload=False, settings={"pager": {"x": 1}})
    assert caught.value.plugin == "pager"
    assert "incidentkit_configure" in caught.value.reason


def test_the_kit_takes_plugin_settings_by_name(entry_points: dict[str, object]) -> None:
    installed = Configurable()
    entry_points["chat"] = installed
    ik.IncidentKit(plugin_settings={"chat": {"token": "xoxb-2"}})
    assert installed.settings == {"token": "xoxb-2"}
    again = Configurable()
    entry_points["chat"] = again
    kit = ik.IncidentKit.open("memory://", plugin_settings={"chat": {"token": "xoxb-3"}})
    assert again.settings == {"token": "xoxb-3"}
    with pytest.raises(ik.ValidationError) as caught:
        ik.IncidentKit(plugin_manager=kit.plugins, plugin_settings={"chat": {}})
    assert caught.value.field == "plugin_settings"


def test_a_plugin_refusing_its_settings_names_itself() -> None:
    class Picky:
        name = "picky"

        @ik.hookimpl
        def incidentkit_configure(self, settings: Mapping[str, object]) -> None:
            raise TypeError(f"unknown setting {sorted(settings)[0]!r}")

    with pytest.raises(ik.PluginError) as caught:
        ik.PluginManager([Picky()], autoload=False, settings={"picky": {"tokn": "x"}})
    assert caught.value.plugin == "picky"
    assert "tokn" in caught.value.reason


def test_the_hosts_plugin_replaces_an_installed_one_of_the_same_name(
    entry_points: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    entry_points["fake"] = _Answering("entry-point")
    ours = _Answering("fake")
    with caplog.at_level(logging.INFO, logger="incidentkit.plugins"):
        kit = ik.IncidentKit.open("memory://", plugins=[ours])
    assert kit.store.url == "memory://fake"
    assert kit.plugins.names().count("fake") == 1
    assert kit.plugins.pluggy.get_plugin("fake") is ours
    [info] = [i for i in kit.plugins.describe() if i.name == "fake"]
    assert info.origin == "argument"
    assert "replaces" in caplog.text and "fake" in caplog.text
    # Two objects of the host's own with one name are still a mistake.
    with pytest.raises(ik.PluginError, match="already registered"):
        ik.PluginManager([_Answering("twin"), _Answering("twin")], autoload=False)


# --- the CLI ------------------------------------------------------------------------------


def test_the_plugins_command_opens_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INCIDENTKIT_DB", raising=False)
    assert cli.main(["plugins"]) == 0
    assert "incidentkit.stores" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
