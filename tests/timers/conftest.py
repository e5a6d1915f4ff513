"""Fixtures for the timer tests: a manual clock, a capturing notifier and a kit factory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from incidentkit.clock import Clock, ManualClock
from incidentkit.kit import IncidentKit
from incidentkit.policy import Policy
from incidentkit.store import MemoryStore, Store
from incidentkit.testing import CapturingNotifier

from ._helpers import scheduled_policy

KitFactory = Callable[..., IncidentKit]


@pytest.fixture
def make_kit(
    store: MemoryStore, clock: ManualClock, capturing_notifier: CapturingNotifier
) -> KitFactory:
    """Kits on the shared store and clock with the scheduled policy and the capturing notifier."""

    def build(
        policy: Policy | None = None,
        *,
        on: Store | None = None,
        at: Clock | None = None,
        plugins: Sequence[object] = (),
        **kwargs: Any,
    ) -> IncidentKit:
        return IncidentKit(
            store=on if on is not None else store,
            policy=policy if policy is not None else scheduled_policy(),
            clock=at if at is not None else clock,
            plugins=[capturing_notifier, *plugins],
            autoload_plugins=False,
            **kwargs,
        )

    return build


@pytest.fixture
def kit(make_kit: KitFactory) -> IncidentKit:
    return make_kit()
