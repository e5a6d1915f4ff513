"""Fixtures for the notifier tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .http_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
