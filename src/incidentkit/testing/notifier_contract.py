"""The contract every notifier plugin passes. Subclass it in your test suite.

.. code-block:: python

    import pytest
    from incidentkit.testing.notifier_contract import NotifierContract

    class TestMyNotifier(NotifierContract):
        @pytest.fixture
        def notifier_plugin(self):
            return MyNotifier(url="http://127.0.0.1:9/")

        # optional: how the test can see the keys the receiver got
        @pytest.fixture
        def observed_keys(self, receiver):
            return lambda: receiver.keys

The suite registers the plugin with a real pluggy manager (so a hook
implementation whose name or arguments do not match the spec fails), checks
the :class:`~incidentkit.notify.NotifierSpec` records, delivers a sample
notification of every kind each notifier wants, and, when
``observed_keys`` is provided, checks the idempotency key reaches the receiver
unchanged on every attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import pluggy
import pytest

from incidentkit.errors import IncidentKitError
from incidentkit.notify import NotificationKind, NotifierSpec, call_with_timeout
from incidentkit.plugins import PROJECT_NAME, hookspecs
from incidentkit.testing._samples import sample_notification

__all__ = ["NotifierContract", "collect_notifiers"]

_SLACK = timedelta(seconds=5)


def collect_notifiers(plugin: object) -> list[NotifierSpec]:
    """Register ``plugin`` with a fresh plugin manager and return its notifier specs."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(plugin)
    pm.check_pending()
    batches = pm.hook.incidentkit_notifiers()
    return [spec for batch in batches for spec in batch]


class NotifierContract:
    """Contract tests for a notifier plugin; provide the ``notifier_plugin`` fixture."""

    @pytest.fixture
    def notifier_plugin(self) -> object:
        """The plugin object under test (override this fixture)."""
        pytest.fail("override the notifier_plugin fixture with your plugin object")

    @pytest.fixture
    def observed_keys(self) -> Callable[[], Sequence[str]] | None:
        """A callable returning the idempotency keys the receiver saw, or ``None``."""
        return None

    @pytest.fixture
    def notifier_specs(self, notifier_plugin: object) -> list[NotifierSpec]:
        """The specs the plugin registers through ``incidentkit_notifiers``."""
        return collect_notifiers(notifier_plugin)

    def test_provides_a_notifier(self, notifier_specs: list[NotifierSpec]) -> None:
        assert notifier_specs, "incidentkit_notifiers() returned no NotifierSpec"

    def test_specs_are_well_formed(self, notifier_specs: list[NotifierSpec]) -> None:
        for spec in notifier_specs:
            assert isinstance(spec, NotifierSpec), f"{spec!r} is not a NotifierSpec"
            assert isinstance(spec.name, str), f"name {spec.name!r} is not a string"
            assert spec.name.strip() == spec.name != "", f"bad notifier name {spec.name!r}"
            assert callable(spec.deliver), f"{spec.name}: deliver is not callable"
            assert isinstance(spec.timeout, timedelta), f"{spec.name}: timeout not a timedelta"
            assert spec.timeout > timedelta(0), f"{spec.name}: timeout must be positive"
            assert isinstance(spec.max_attempts, int), f"{spec.name}: max_attempts not an int"
            assert spec.max_attempts >= 1, f"{spec.name}: max_attempts must be >= 1"
            assert isinstance(spec.kinds, frozenset), f"{spec.name}: kinds not a frozenset"
            assert all(isinstance(k, NotificationKind) for k in spec.kinds), spec.kinds

    def test_names_are_unique(self, notifier_specs: list[NotifierSpec]) -> None:
        names = [spec.name for spec in notifier_specs]
        assert len(names) == len(set(names)), f"duplicate notifier names: {names}"

    def test_registration_is_repeatable(
        self, notifier_plugin: object, notifier_specs: list[NotifierSpec]
    ) -> None:
        again = collect_notifiers(notifier_plugin)
        assert [s.name for s in again] == [s.name for s in notifier_specs]

    def test_delivers_every_kind_or_fails_cleanly(self, notifier_specs: list[NotifierSpec]) -> None:
        for spec in notifier_specs:
            wanted = [kind for kind in NotificationKind if spec.wants(kind)]
            assert wanted, f"{spec.name} wants no notification kind at all"
            for kind in wanted:
                note = sample_notification(kind, key=f"contract:{spec.name}:{kind.value}")
                try:
                    call_with_timeout(spec.deliver, note, spec.timeout + _SLACK)
                except IncidentKitError:
                    pass  # PermanentFailure, TransientFailure …: the relay knows what to do
                except Exception as err:  # the contract: nothing else escapes
                    pytest.fail(
                        f"{spec.name} raised {type(err).__name__} delivering a {kind.value} "
                        f"notification; raise PermanentFailure or TransientFailure instead: {err}"
                    )

    def test_idempotency_key_reaches_the_receiver(
        self,
        notifier_specs: list[NotifierSpec],
        observed_keys: Callable[[], Sequence[str]] | None,
    ) -> None:
        if observed_keys is None:
            pytest.skip("no observed_keys fixture: the receiver's keys cannot be observed")
        for spec in notifier_specs:
            kind = next(k for k in NotificationKind if spec.wants(k))
            key = f"contract-idempotency:{spec.name}"
            note = sample_notification(kind, key=key)
            before = list(observed_keys()).count(key)
            call_with_timeout(spec.deliver, note, spec.timeout + _SLACK)
            call_with_timeout(spec.deliver, note, spec.timeout + _SLACK)
            seen = list(observed_keys()).count(key) - before
            assert seen >= 1, f"{spec.name}: key {key!r} never reached the receiver unchanged"
