"""Fixtures for the kit-level delivery tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from incidentkit.clock import ManualClock

from .delivery_helpers import T0, Receiver


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at the guide's example instant."""
    return ManualClock(T0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that records webhook requests."""
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
