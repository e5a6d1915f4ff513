"""Test helpers for hosts and plugin authors: doubles, samples and contract suites.

The contract suites import pytest; import them from their own modules
(:mod:`incidentkit.testing.notifier_contract`,
:mod:`incidentkit.testing.mitigation_contract`).
"""

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
    "RecordedCall",
    "RecordingAction",
    "RecordingParams",
    "sample_context",
    "sample_notification",
]
