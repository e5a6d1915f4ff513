"""Test helpers shipped as public code: doubles, samples, fixtures and contract suites.

* doubles: :class:`CapturingNotifier`, :class:`RecordingAction`;
* contract suites a plugin author subclasses: :class:`StoreContract`,
  :class:`NotifierContract`, :class:`MitigationActionContract` (they import
  pytest, so they load on first use);
* the pytest plugin :mod:`incidentkit.testing.plugin` (entry point
  ``pytest11``) provides the fixtures ``manual_clock``, ``memory_store``,
  ``sqlite_store``, ``postgres_store``, ``capturing_notifier`` and
  ``recording_action``.
"""

from __future__ import annotations

from typing import Any

from incidentkit.testing._samples import SAMPLE_TIME, sample_context, sample_notification
from incidentkit.testing.doubles import (
    CapturingNotifier,
    RecordedCall,
    RecordingAction,
    RecordingParams,
)

__all__ = [
    "SAMPLE_TIME",
    "CapturingNotifier",
    "MitigationActionContract",
    "NotifierContract",
    "RecordedCall",
    "RecordingAction",
    "RecordingParams",
    "StoreContract",
    "sample_context",
    "sample_notification",
]

_CONTRACTS = {
    "StoreContract": "incidentkit.testing.store_contract",
    "NotifierContract": "incidentkit.testing.notifier_contract",
    "MitigationActionContract": "incidentkit.testing.mitigation_contract",
}


def __getattr__(name: str) -> Any:
    if name in _CONTRACTS:
        import importlib

        return getattr(importlib.import_module(_CONTRACTS[name]), name)
    raise AttributeError(f"module 'incidentkit.testing' has no attribute {name!r}")
