"""Fixtures for the kit-level delivery tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .delivery_helpers import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that records webhook requests."""
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
