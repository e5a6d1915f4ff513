"""execute_action: typed params refused by field before running, dry runs, timeouts, verify."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import attrs
import pytest

from incidentkit.errors import PolicyError, ValidationError
from incidentkit.mitigation import (
    FeatureFlagAction,
    FeatureFlagParams,
    InMemoryFlagClient,
    MitigationAction,
    MitigationContext,
    MitigationOutcome,
    MitigationResult,
    ScaleAction,
    ScaleParams,
    execute_action,
    structure_params,
)
from incidentkit.serialization import make_converter
from incidentkit.testing import RecordingAction, sample_context

CONV = make_converter()


def _paths(err: PolicyError) -> list[str]:
    return [path for path, _ in err.problems]


def _scale() -> tuple[ScaleAction, list[ScaleParams]]:
    calls: list[ScaleParams] = []

    def callback(params: ScaleParams) -> str:
        calls.append(params)
        return f"scaled {params.resource}"

    return ScaleAction(callback), calls


def test_params_are_structured_into_the_typed_class() -> None:
    plugin, calls = _scale()
    params = {"resource": "api", "delta": 2}
    result = execute_action(plugin.action(), sample_context(), params, CONV)
    assert result.outcome is MitigationOutcome.APPLIED
    assert calls == [ScaleParams("api", delta=2)]
    assert result.data == {"resource": "api", "change": "delta=+2"}


def test_an_instance_of_the_params_type_passes_through() -> None:
    plugin, calls = _scale()
    execute_action(plugin.action(), sample_context(), ScaleParams("api", replicas=3), CONV)
    assert calls == [ScaleParams("api", replicas=3)]


@pytest.mark.parametrize(
    ("params", "path", "reason"),
    [
        ({"resource": "api"}, "$.replicas", "give replicas"),
        ({"resource": "api", "replicas": 2, "delta": 1}, "$.delta", "not both"),
        ({"resource": "api", "replicas": -1}, "$.replicas", ">= 0"),
        ({"resource": "api", "delta": 0}, "$.delta", "must not be 0"),
        ({"resource": " ", "delta": 1}, "$.resource", "non-empty"),
        ({"replicas": 2}, "$.resource", "required"),
        ({"resource": "api", "replicas": 2, "size": "xl"}, "$.size", "unknown key"),
        ({"resource": "api", "replicas": "many"}, "$.replicas", "integer"),
        ({"resource": "api", "replicas": True}, "$.replicas", "integer"),
    ],
)
def test_bad_params_are_refused_naming_the_field_before_running(
    params: dict[str, Any], path: str, reason: str
) -> None:
    plugin, calls = _scale()
    with pytest.raises(PolicyError) as caught:
        execute_action(plugin.action(), sample_context(), params, CONV)
    assert path in _paths(caught.value), caught.value.problems
    assert any(reason in r for p, r in caught.value.problems if p == path)
    assert caught.value.source == "params of mitigation 'scale'"
    assert calls == []


def test_a_numeric_string_is_not_an_integer() -> None:
    """The one converter never coerces: "4" is text, not a replica count."""
    plugin, calls = _scale()
    with pytest.raises(PolicyError) as caught:
        execute_action(
            plugin.action(), sample_context(), {"resource": "api", "replicas": "4"}, CONV
        )
    assert "$.replicas" in _paths(caught.value)
    assert calls == []


@pytest.mark.parametrize("value", ["yes", "false", "True", 1, 0, None, "off"])
def test_a_bool_is_never_guessed(value: object) -> None:
    """cattrs would read "false" as True; a flag turned on by mistake is an outage."""
    flags = InMemoryFlagClient({"checkout": True})
    action = FeatureFlagAction(flags).action()
    with pytest.raises(PolicyError) as caught:
        execute_action(action, sample_context(), {"flag": "checkout", "enabled": value}, CONV)
    assert "$.enabled" in _paths(caught.value)
    assert flags.get_flag("checkout") is True


@pytest.mark.parametrize("params", [["resource", "api"], "api", 3])
def test_params_must_be_a_mapping(params: object) -> None:
    plugin, calls = _scale()
    with pytest.raises(PolicyError) as caught:
        execute_action(plugin.action(), sample_context(), params, CONV)
    assert _paths(caught.value) == ["$"]
    assert calls == []


def test_none_means_no_params() -> None:
    action = RecordingAction()
    result = execute_action(action.action(), sample_context(), None, CONV)
    assert result.outcome is MitigationOutcome.APPLIED
    assert len(action.calls) == 1


def test_a_dry_run_runs_nothing_and_describes_the_call() -> None:
    plugin, calls = _scale()
    result = execute_action(
        plugin.action(), sample_context(dry_run=True), {"resource": "api", "replicas": 6}, CONV
    )
    assert result.outcome is MitigationOutcome.DRY_RUN
    assert calls == []
    assert result.detail == (
        'dry run: would run scale with {"delta":null,"replicas":6,"resource":"api"}'
    )


def test_a_dry_run_still_refuses_bad_params() -> None:
    plugin, _ = _scale()
    with pytest.raises(PolicyError):
        execute_action(plugin.action(), sample_context(dry_run=True), {"resource": "api"}, CONV)


def test_an_exception_becomes_a_failed_result() -> None:
    action = RecordingAction(error=RuntimeError("kubectl: connection refused"))
    result = execute_action(action.action(), sample_context(), {}, CONV)
    assert result.outcome is MitigationOutcome.FAILED
    assert result.detail == "record execute raised RuntimeError: kubectl: connection refused"
    assert result.data == {"step": "execute", "error": "RuntimeError"}


def test_a_hung_action_times_out_as_failed() -> None:
    release = threading.Event()

    def hang(context: MitigationContext, params: object) -> MitigationResult:
        release.wait()
        return MitigationResult.applied("too late")

    @attrs.frozen
    class NoParams:
        pass

    action = MitigationAction("slow", NoParams, hang, timeout=timedelta(milliseconds=50))
    try:
        result = execute_action(action, sample_context(), {}, CONV)
    finally:
        release.set()
    assert result.outcome is MitigationOutcome.FAILED
    assert "did not finish within" in result.detail


def test_a_wrong_return_value_is_a_failed_result() -> None:
    @attrs.frozen
    class NoParams:
        pass

    action = MitigationAction("sloppy", NoParams, lambda ctx, p: "done")
    result = execute_action(action, sample_context(), {}, CONV)
    assert result.outcome is MitigationOutcome.FAILED
    assert "not a MitigationResult" in result.detail


def test_verify_runs_after_an_applied_action() -> None:
    seen: list[object] = []

    def healthy(context: MitigationContext, params: object) -> MitigationResult:
        seen.append(params)
        return MitigationResult.applied("GET /health -> HTTP 200", status="200")

    action = RecordingAction(verify=healthy)
    result = execute_action(action.action(), sample_context(), {"note": "x"}, CONV)
    assert result.outcome is MitigationOutcome.APPLIED
    assert result.verified is True
    assert result.detail.endswith("; verification passed: GET /health -> HTTP 200")
    assert result.data["verify_status"] == "200"
    assert len(seen) == 1


@pytest.mark.parametrize(
    "verify",
    [
        lambda ctx, p: MitigationResult.failed("GET /health -> HTTP 503"),
        lambda ctx, p: 1 / 0,
    ],
)
def test_a_failed_verification_marks_the_result_unverified(verify: Any) -> None:
    action = RecordingAction(verify=verify)
    result = execute_action(action.action(), sample_context(), {}, CONV)
    assert result.outcome is MitigationOutcome.APPLIED  # it ran; it did not help
    assert result.verified is False
    assert "verification failed" in result.detail


def test_verify_is_skipped_when_the_action_failed() -> None:
    calls: list[int] = []

    def verify(context: MitigationContext, params: object) -> MitigationResult:
        calls.append(1)
        return MitigationResult.applied("ok")

    action = RecordingAction(outcome=MitigationOutcome.FAILED, verify=verify)
    result = execute_action(action.action(), sample_context(), {}, CONV)
    assert result.outcome is MitigationOutcome.FAILED
    assert result.verified is None
    assert calls == []


def test_structure_params_alone() -> None:
    action = FeatureFlagAction(InMemoryFlagClient()).action()
    assert structure_params(action, {"flag": "a", "enabled": False}, CONV) == FeatureFlagParams(
        "a", False
    )


def test_validators_also_guard_direct_construction() -> None:
    with pytest.raises(ValidationError) as caught:
        ScaleParams("api", replicas=-2)
    assert caught.value.field == "replicas"
