"""The core tests' kit factory (``clock`` and ``store`` come from tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from incidentkit.clock import ManualClock
from incidentkit.kit import IncidentKit
from incidentkit.policy import Policy
from incidentkit.store import MemoryStore

from ._helpers import KitFactory


@pytest.fixture
def make_kit(store: MemoryStore, clock: ManualClock) -> KitFactory:
    """Build kits on the shared store and clock (autoload off, so tests see only the core)."""

    def build(
        policy: Policy | None = None,
        *,
        on: MemoryStore | None = None,
        at: ManualClock | None = None,
        **kwargs: Any,
    ) -> IncidentKit:
        return IncidentKit(
            store=on if on is not None else store,
            policy=policy,
            clock=at if at is not None else clock,
            autoload_plugins=False,
            **kwargs,
        )

    return build


@pytest.fixture
def kit(make_kit: KitFactory) -> IncidentKit:
    return make_kit()
