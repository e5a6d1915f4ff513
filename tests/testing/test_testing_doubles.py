"""The test doubles, the log notifier, and the docstring examples of the notify/mitigation code."""

from __future__ import annotations

import doctest
import importlib
import logging
import threading
from datetime import timedelta

import pytest

from incidentkit.errors import PermanentFailure
from incidentkit.mitigation import MitigationOutcome, execute_action
from incidentkit.notify import LogNotifier, NotificationKind, TransientFailure, call_with_timeout
from incidentkit.serialization import make_converter
from incidentkit.testing import (
    CapturingNotifier,
    RecordingAction,
    sample_context,
    sample_notification,
)
from incidentkit.testing.notifier_contract import NotifierContract


def test_capturing_fails_n_times_then_succeeds() -> None:
    capture = CapturingNotifier(fail_times=2, retry_after=timedelta(seconds=3))
    note = sample_notification()
    for _ in range(2):
        with pytest.raises(TransientFailure) as caught:
            capture.deliver(note)
        assert caught.value.retry_after == timedelta(seconds=3)
    capture.deliver(note)
    assert capture.attempts == 3
    assert capture.delivered == [note]


def test_capturing_permanent_failure() -> None:
    capture = CapturingNotifier(permanent=True)
    with pytest.raises(PermanentFailure):
        capture.deliver(sample_notification())
    assert capture.delivered == []
    assert capture.attempts == 1


def test_capturing_hang_is_abandoned_by_call_with_timeout_and_releasable() -> None:
    capture = CapturingNotifier(hang=timedelta(seconds=30))
    with pytest.raises(TimeoutError):
        call_with_timeout(capture.deliver, sample_notification(), timedelta(milliseconds=50))
    assert capture.delivered == []
    capture.release()
    assert capture.wait_for(1)  # the abandoned call finishes late: an ambiguous outcome
    assert capture.keys() == ["INC-1:1:page"]


def test_capturing_keeps_duplicates_and_is_thread_safe() -> None:
    capture = CapturingNotifier()
    notes = [sample_notification(key=f"k{n % 10}") for n in range(200)]
    threads = [threading.Thread(target=capture.deliver, args=(n,)) for n in notes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert capture.attempts == 200
    assert len(capture.delivered) == 200
    assert capture.unique_keys() == {f"k{n}" for n in range(10)}
    capture.clear()
    assert capture.attempts == 0 and capture.delivered == []


def test_wait_for_gives_up() -> None:
    assert not CapturingNotifier().wait_for(1, timedelta(milliseconds=20))


def test_capturing_fixture_from_the_pytest_plugin(capturing_notifier: CapturingNotifier) -> None:
    capturing_notifier.deliver(sample_notification())
    assert len(capturing_notifier.delivered) == 1


def test_recording_action_records_and_fails_on_request(recording_action: RecordingAction) -> None:
    conv = make_converter()
    result = execute_action(recording_action.action(), sample_context(), {"note": "n"}, conv)
    assert result.outcome is MitigationOutcome.APPLIED
    [call] = recording_action.calls
    assert call.context.incident_id == "INC-1"
    assert call.params.note == "n"
    failing = RecordingAction("boom", error=RuntimeError("nope"))
    assert execute_action(failing.action(), sample_context(), {}, conv).outcome is (
        MitigationOutcome.FAILED
    )


def test_log_notifier_logs_pages_as_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="incidentkit.notify"):
        LogNotifier().deliver(sample_notification())
        LogNotifier().deliver(sample_notification(NotificationKind.STATUS_UPDATE))
    page, update = caplog.records
    assert page.levelno == logging.WARNING
    assert page.getMessage().startswith("[SEV1] INC-1 API returning 500 errors: ")
    assert page.incidentkit_key == "INC-1:1:page"  # type: ignore[attr-defined]
    assert update.levelno == logging.INFO
    assert update.incidentkit_kind == "status_update"  # type: ignore[attr-defined]


class TestLogContract(NotifierContract):
    @pytest.fixture
    def notifier_plugin(self) -> LogNotifier:
        return LogNotifier()


class TestCapturingContract(NotifierContract):
    @pytest.fixture
    def notifier_plugin(self) -> CapturingNotifier:
        return CapturingNotifier()

    @pytest.fixture
    def observed_keys(self, notifier_plugin: CapturingNotifier) -> object:
        return notifier_plugin.keys


class TestFailingCapturingContract(NotifierContract):
    """A notifier that always fails permanently still honours the contract."""

    @pytest.fixture
    def notifier_plugin(self) -> CapturingNotifier:
        return CapturingNotifier("always-fails", permanent=True, kinds=["page"])


class TestBrokenNotifierFailsTheContract:
    """The contract can fail: a notifier leaking a bare exception is caught."""

    def test_a_bare_exception_fails_the_contract(self) -> None:
        class Leaky(CapturingNotifier):
            def deliver(self, notification: object) -> None:
                raise KeyError("oops")

        contract = NotifierContract()
        with pytest.raises(pytest.fail.Exception, match="raised KeyError"):
            contract.test_delivers_every_kind_or_fails_cleanly(Leaky().incidentkit_notifiers())


@pytest.mark.parametrize(
    "module",
    [
        "incidentkit._calls",
        "incidentkit._http",
        "incidentkit._names",
        "incidentkit.notify._log",
        "incidentkit.notify._webhook",
        "incidentkit.notify._slack",
        "incidentkit.mitigation._execute",
        "incidentkit.mitigation._breaker",
        "incidentkit.mitigation._flags",
        "incidentkit.mitigation._scale",
        "incidentkit.mitigation._rollback",
        "incidentkit.mitigation._health",
        "incidentkit.testing.doubles",
        "incidentkit.testing._samples",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_a_sloppy_action_fails_the_mitigation_contract() -> None:
    from incidentkit.testing.mitigation_contract import MitigationActionContract, collect_actions

    class Sloppy(RecordingAction):
        def execute(self, context: object, params: object) -> str:  # type: ignore[override]
            return "done"

    actions = collect_actions(Sloppy())
    contract = MitigationActionContract()
    with pytest.raises(AssertionError, match="not a MitigationResult"):
        contract.test_execute_returns_a_result(actions, {"record": {}}, make_converter())
    with pytest.raises(AssertionError, match="valid_params must map"):
        contract.test_valid_params_cover_every_action(actions, {}, make_converter())
