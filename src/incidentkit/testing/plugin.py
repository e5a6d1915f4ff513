"""The pytest plugin incidentkit installs (entry point ``pytest11``): ready-made doubles.

Fixtures:

* ``capturing_notifier``: a fresh :class:`~incidentkit.testing.CapturingNotifier`
  (released at teardown, so a hanging one never outlives its test);
* ``recording_action``: a fresh :class:`~incidentkit.testing.RecordingAction`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from incidentkit.testing.doubles import CapturingNotifier, RecordingAction

__all__ = ["capturing_notifier", "recording_action"]


@pytest.fixture
def capturing_notifier() -> Iterator[CapturingNotifier]:
    """A notifier plugin that records what it was asked to deliver."""
    notifier = CapturingNotifier()
    yield notifier
    notifier.release()


@pytest.fixture
def recording_action() -> RecordingAction:
    """A mitigation-action plugin that records its calls."""
    return RecordingAction()
