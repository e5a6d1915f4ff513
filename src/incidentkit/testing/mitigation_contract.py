"""The contract every mitigation-action plugin passes. Subclass it in your test suite.

.. code-block:: python

    import pytest
    from incidentkit.testing.mitigation_contract import MitigationActionContract

    class TestMyAction(MitigationActionContract):
        @pytest.fixture
        def action_plugin(self, tmp_path):
            return MyAction(state_dir=tmp_path)

        @pytest.fixture
        def valid_params(self):
            return {"my_action": {"target": "api"}}   # keyed by action name

        # optional: a snapshot of what the action changes, compared around dry runs
        @pytest.fixture
        def side_effects(self, tmp_path):
            return lambda: sorted(p.name for p in tmp_path.iterdir())

The suite checks the registered :class:`~incidentkit.mitigation.MitigationAction`
records, that bad parameters (an unknown key, each required field missing)
are refused naming the field before anything runs, that a dry run executes
nothing, and that executing returns a :class:`~incidentkit.mitigation.MitigationResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import attrs
import cattrs
import pluggy
import pytest

from incidentkit.errors import PolicyError
from incidentkit.mitigation import (
    MitigationAction,
    MitigationContext,
    MitigationOutcome,
    MitigationResult,
    execute_action,
    structure_params,
)
from incidentkit.plugins import PROJECT_NAME, hookspecs
from incidentkit.serialization import make_converter
from incidentkit.testing._samples import sample_context

__all__ = ["MitigationActionContract", "collect_actions"]

_UNKNOWN = "contract_unknown_key"


def collect_actions(plugin: object) -> list[MitigationAction]:
    """Register ``plugin`` with a fresh plugin manager and return its actions."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(plugin)
    pm.check_pending()
    batches = pm.hook.incidentkit_mitigation_actions()
    return [action for batch in batches for action in batch]


class _Spy:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, context: MitigationContext, params: Any) -> MitigationResult:
        self.calls += 1
        return MitigationResult.applied("spy")


class MitigationActionContract:
    """Contract tests for an action plugin; provide ``action_plugin`` and ``valid_params``."""

    @pytest.fixture
    def action_plugin(self) -> object:
        """The plugin object under test (override this fixture)."""
        pytest.fail("override the action_plugin fixture with your plugin object")

    @pytest.fixture
    def valid_params(self) -> Mapping[str, Mapping[str, Any]]:
        """Parameters that work, keyed by action name (override this fixture)."""
        pytest.fail("override the valid_params fixture: {action name: params mapping}")

    @pytest.fixture
    def side_effects(self) -> Callable[[], object] | None:
        """A snapshot of what the actions change, or ``None`` when not observable."""
        return None

    @pytest.fixture
    def converter(self) -> cattrs.Converter:
        """The converter the kit would use."""
        return make_converter()

    @pytest.fixture
    def actions(self, action_plugin: object) -> list[MitigationAction]:
        """The actions the plugin registers."""
        return collect_actions(action_plugin)

    def test_provides_an_action(self, actions: list[MitigationAction]) -> None:
        assert actions, "incidentkit_mitigation_actions() returned no MitigationAction"

    def test_actions_are_well_formed(self, actions: list[MitigationAction]) -> None:
        for action in actions:
            assert isinstance(action, MitigationAction), f"{action!r} is not a MitigationAction"
            assert isinstance(action.name, str), f"name {action.name!r} is not a string"
            assert action.name.strip() == action.name != "", f"bad action name {action.name!r}"
            assert attrs.has(action.params_type), (
                f"{action.name}: params_type {action.params_type!r} is not an attrs class"
            )
            assert callable(action.execute), f"{action.name}: execute is not callable"
            assert action.verify is None or callable(action.verify), action.name
            assert isinstance(action.timeout, timedelta), f"{action.name}: timeout"
            assert action.timeout > timedelta(0), f"{action.name}: timeout must be positive"
            assert isinstance(action.description, str), f"{action.name}: description"

    def test_names_are_unique(self, actions: list[MitigationAction]) -> None:
        names = [action.name for action in actions]
        assert len(names) == len(set(names)), f"duplicate action names: {names}"

    def test_valid_params_cover_every_action(
        self,
        actions: list[MitigationAction],
        valid_params: Mapping[str, Mapping[str, Any]],
        converter: cattrs.Converter,
    ) -> None:
        assert set(valid_params) == {a.name for a in actions}, (
            "valid_params must map every action name to its parameters"
        )
        for action in actions:
            typed = structure_params(action, valid_params[action.name], converter)
            assert isinstance(typed, action.params_type)

    def test_bad_params_are_refused_naming_the_field(
        self,
        actions: list[MitigationAction],
        valid_params: Mapping[str, Mapping[str, Any]],
        converter: cattrs.Converter,
        side_effects: Callable[[], object] | None,
    ) -> None:
        before = side_effects() if side_effects else None
        for action in actions:
            good = dict(valid_params[action.name])
            bad_inputs: list[tuple[dict[str, Any], str]] = [({**good, _UNKNOWN: 1}, _UNKNOWN)]
            for field in attrs.fields(action.params_type):
                if field.default is attrs.NOTHING and field.name in good:
                    bad_inputs.append(
                        ({k: v for k, v in good.items() if k != field.name}, field.name)
                    )
            for bad, field_name in bad_inputs:
                spy = _Spy()
                probe = attrs.evolve(action, execute=spy, verify=spy)
                with pytest.raises(PolicyError) as caught:
                    execute_action(probe, sample_context(), bad, converter)
                paths = [path for path, _ in caught.value.problems]
                assert any(field_name in path for path in paths), (
                    f"{action.name}: refusing {bad!r} should name {field_name!r}, got {paths}"
                )
                assert spy.calls == 0, f"{action.name} ran despite bad parameters"
        if side_effects:
            assert side_effects() == before, "refused parameters still changed something"

    def test_dry_run_executes_nothing(
        self,
        actions: list[MitigationAction],
        valid_params: Mapping[str, Mapping[str, Any]],
        converter: cattrs.Converter,
        side_effects: Callable[[], object] | None,
    ) -> None:
        before = side_effects() if side_effects else None
        for action in actions:
            result = execute_action(
                action, sample_context(dry_run=True), valid_params[action.name], converter
            )
            assert isinstance(result, MitigationResult)
            assert result.outcome is MitigationOutcome.DRY_RUN, (action.name, result)
            spy = _Spy()
            probe = attrs.evolve(action, execute=spy, verify=spy)
            execute_action(
                probe, sample_context(dry_run=True), valid_params[action.name], converter
            )
            assert spy.calls == 0, f"{action.name}: a dry run executed the action"
        if side_effects:
            assert side_effects() == before, "a dry run changed something"

    def test_execute_returns_a_result(
        self,
        actions: list[MitigationAction],
        valid_params: Mapping[str, Mapping[str, Any]],
        converter: cattrs.Converter,
    ) -> None:
        for action in actions:
            typed = structure_params(action, valid_params[action.name], converter)
            direct = action.execute(sample_context(), typed)
            assert isinstance(direct, MitigationResult), (
                f"{action.name}.execute returned {type(direct).__name__}, not a MitigationResult"
            )
            assert direct.outcome in (MitigationOutcome.APPLIED, MitigationOutcome.FAILED), (
                f"{action.name} returned {direct.outcome} outside a dry run"
            )
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in direct.data.items())
            wrapped = execute_action(action, sample_context(), valid_params[action.name], converter)
            assert isinstance(wrapped, MitigationResult)
            assert wrapped.outcome is not MitigationOutcome.DRY_RUN
