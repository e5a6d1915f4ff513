"""The built-in actions: rollback, feature flags, scale, maintenance, health check; contracts."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from incidentkit.errors import PolicyError, ValidationError
from incidentkit.mitigation import (
    CircuitBreakerAction,
    CircuitBreakerRegistry,
    FeatureFlagAction,
    FeatureFlagClient,
    HttpHealthCheck,
    InMemoryFlagClient,
    JsonFileFlagClient,
    MaintenanceModeAction,
    MaintenanceParams,
    MitigationOutcome,
    RollbackAction,
    ScaleAction,
    ScaleParams,
    execute_action,
)
from incidentkit.serialization import make_converter
from incidentkit.testing import RecordingAction, sample_context
from incidentkit.testing.mitigation_contract import MitigationActionContract

CONV = make_converter()
PY = sys.executable

# -- rollback ------------------------------------------------------------------------------------

REPORT = (
    "import os, sys; e = os.environ; print('argv', sys.argv[1:]);"
    " print('env', e['INCIDENTKIT_INCIDENT_ID'], e['INCIDENTKIT_REQUESTED_BY'],"
    " repr(e['INCIDENTKIT_ROLLBACK_TARGET']), repr(e['INCIDENTKIT_ROLLBACK_REASON']),"
    " e.get('DEPLOY_ENV'))"
)


def test_rollback_runs_the_command_with_target_and_environment(tmp_path: Path) -> None:
    rollback = RollbackAction([PY, "-c", REPORT], cwd=tmp_path, env={"DEPLOY_ENV": "prod"})
    result = execute_action(
        rollback.action(), sample_context(), {"target": "v41", "reason": "500s after v42"}, CONV
    )
    assert result.outcome is MitigationOutcome.APPLIED, result
    assert result.data["exit_code"] == "0"
    assert "argv ['v41']" in result.data["output"]
    assert "env INC-1 alice 'v41' '500s after v42' prod" in result.data["output"]


def test_rollback_without_a_target_appends_nothing() -> None:
    rollback = RollbackAction([PY, "-c", REPORT])
    result = execute_action(rollback.action(), sample_context(), {}, CONV)
    assert "argv []" in result.data["output"]
    assert "'' ''" in result.data["output"]


def test_a_nonzero_exit_fails_with_the_output_tail() -> None:
    script = (
        "import sys; print('x' * 5000);"
        " print('error: revision 41 not found', file=sys.stderr); sys.exit(3)"
    )
    result = execute_action(RollbackAction([PY, "-c", script]).action(), sample_context(), {}, CONV)
    assert result.outcome is MitigationOutcome.FAILED
    assert result.data["exit_code"] == "3"
    assert result.detail.endswith("exited with status 3")
    assert result.data["output"].endswith("error: revision 41 not found")
    assert len(result.data["output"]) == 2000


def test_a_command_that_runs_too_long_is_killed(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    child = tmp_path / "child.py"
    child.write_text(f"import time\ntime.sleep(1.5)\nopen({str(marker)!r}, 'w').close()\n")
    parent = tmp_path / "parent.py"
    # a child process that would outlive its parent if only the parent were killed
    parent.write_text(
        "import subprocess, sys, time\n"
        "print('started', flush=True)\n"
        f"subprocess.Popen([sys.executable, {str(child)!r}])\n"
        "time.sleep(60)\n"
    )
    rollback = RollbackAction([PY, str(parent)], timeout=timedelta(seconds=1))
    result = execute_action(rollback.action(), sample_context(), {}, CONV)
    assert result.outcome is MitigationOutcome.FAILED
    assert "timed out" in result.detail
    assert "started" in result.data["output"]
    threading.Event().wait(2.0)
    assert not marker.exists(), "the process group was not killed"


def test_a_missing_command_fails_cleanly() -> None:
    result = execute_action(
        RollbackAction(["/nonexistent/rollback-tool"]).action(), sample_context(), {}, CONV
    )
    assert result.outcome is MitigationOutcome.FAILED
    assert "could not start" in result.detail


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"target": "--force"}, "$.target"),
        ({"target": ""}, "$.target"),
        ({"target": "v1\nrm -rf /"}, "$.target"),
        ({"reason": "x" * 1001}, "$.reason"),
        ({"target": 41}, "$.target"),
    ],
)
def test_rollback_params_are_checked(params: dict[str, Any], path: str) -> None:
    with pytest.raises(PolicyError) as caught:
        execute_action(RollbackAction([PY, "-c", "pass"]).action(), sample_context(), params, CONV)
    assert path in [p for p, _ in caught.value.problems]


@pytest.mark.parametrize(
    ("command", "field"),
    [("rollback.sh --now", "command"), ([], "command"), (["ok", ""], "command")],
)
def test_rollback_configuration_is_checked(command: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RollbackAction(command)
    assert caught.value.field == field


def test_rollback_env_must_be_strings() -> None:
    with pytest.raises(ValidationError) as caught:
        RollbackAction([PY], env={"N": 1})  # type: ignore[dict-item]
    assert caught.value.field == "env"


# -- feature flags -------------------------------------------------------------------------------


def test_flag_turned_off_reports_before_and_after() -> None:
    flags = InMemoryFlagClient({"new-payment-flow": True})
    result = execute_action(
        FeatureFlagAction(flags).action(),
        sample_context(),
        {"flag": "new-payment-flow", "enabled": False},
        CONV,
    )
    assert result.outcome is MitigationOutcome.APPLIED
    assert result.detail == "flag new-payment-flow turned off (was on)"
    assert result.data == {"flag": "new-payment-flow", "previous": "on", "current": "off"}
    assert flags.snapshot() == {"new-payment-flow": False}


class _LyingClient:
    def set_flag(self, name: str, enabled: bool) -> None:
        pass

    def get_flag(self, name: str) -> bool | None:
        return None


def test_a_flag_that_does_not_read_back_fails() -> None:
    result = execute_action(
        FeatureFlagAction(_LyingClient()).action(),
        sample_context(),
        {"flag": "f", "enabled": True},
        CONV,
    )
    assert result.outcome is MitigationOutcome.FAILED
    assert "reads unset after setting it on" in result.detail


def test_flag_action_needs_a_client() -> None:
    with pytest.raises(ValidationError) as caught:
        FeatureFlagAction(object())  # type: ignore[arg-type]
    assert caught.value.field == "client"
    assert isinstance(InMemoryFlagClient(), FeatureFlagClient)


@pytest.mark.parametrize("name", ["", "has space", "-leading", "x" * 201])
def test_flag_names_are_checked(name: str) -> None:
    with pytest.raises(PolicyError) as caught:
        execute_action(
            FeatureFlagAction(InMemoryFlagClient()).action(),
            sample_context(),
            {"flag": name, "enabled": True},
            CONV,
        )
    assert "$.flag" in [p for p, _ in caught.value.problems]


def test_json_file_client_round_trip_and_atomic_writes(tmp_path: Path) -> None:
    path = tmp_path / "flags" / "flags.json"
    client = JsonFileFlagClient(path)
    assert client.get_flag("checkout") is None  # a missing file: no flags
    client.set_flag("checkout", False)
    client.set_flag("search", True)
    assert json.loads(path.read_text()) == {"checkout": False, "search": True}
    assert JsonFileFlagClient(path).read_all() == {"checkout": False, "search": True}
    assert sorted(p.name for p in path.parent.iterdir()) == ["flags.json"]  # no temp left


def test_json_file_client_writes_from_threads_are_not_lost(tmp_path: Path) -> None:
    client = JsonFileFlagClient(tmp_path / "flags.json")
    threads = [
        threading.Thread(target=client.set_flag, args=(f"flag-{n}", n % 2 == 0)) for n in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.read_all() == {f"flag-{n}": n % 2 == 0 for n in range(20)}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"a": "yes"}'])
def test_json_file_client_refuses_a_corrupt_file_and_keeps_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "flags.json"
    path.write_text(content)
    client = JsonFileFlagClient(path)
    with pytest.raises(ValidationError) as caught:
        client.set_flag("a", True)
    assert caught.value.field == str(path)
    assert path.read_text() == content


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "flags.json"
    client = JsonFileFlagClient(path)
    client.set_flag("a", True)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        client.set_flag("b", True)
    monkeypatch.undo()
    assert client.read_all() == {"a": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flags.json"]


# -- scale and maintenance -----------------------------------------------------------------------


def test_scale_passes_typed_params_to_the_callback() -> None:
    seen: list[ScaleParams] = []
    action = ScaleAction(lambda p: seen.append(p) or "api scaled to 6").action()
    result = execute_action(action, sample_context(), {"resource": "api", "replicas": 6}, CONV)
    assert result.detail == "api scaled to 6"
    assert result.data == {"resource": "api", "change": "replicas=6"}
    assert seen == [ScaleParams("api", replicas=6)]


def test_maintenance_mode_with_a_duration() -> None:
    seen: list[MaintenanceParams] = []
    action = MaintenanceModeAction(lambda p: seen.append(p) and None).action()
    result = execute_action(
        action,
        sample_context(),
        {"message": "Back soon", "estimated_duration": "30m"},
        CONV,
    )
    assert result.outcome is MitigationOutcome.APPLIED
    assert result.detail == "maintenance mode on"
    assert result.data == {"message": "Back soon", "estimated_duration_s": "1800"}
    assert seen == [MaintenanceParams("Back soon", timedelta(minutes=30))]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"message": ""}, "$.message"),
        ({"message": "   "}, "$.message"),
        ({"message": "x", "estimated_duration": "-5m"}, "$.estimated_duration"),
        ({"message": "x", "estimated_duration": 0}, "$.estimated_duration"),
        ({"message": "x", "estimated_duration": "soon"}, "$.estimated_duration"),
        ({}, "$.message"),
    ],
)
def test_maintenance_params_are_checked(params: dict[str, Any], path: str) -> None:
    calls: list[object] = []
    action = MaintenanceModeAction(calls.append).action()
    with pytest.raises(PolicyError) as caught:
        execute_action(action, sample_context(), params, CONV)
    assert path in [p for p, _ in caught.value.problems], caught.value.problems
    assert calls == []


@pytest.mark.parametrize("factory", [ScaleAction, MaintenanceModeAction])
def test_callbacks_must_be_callable(factory: Callable[[Any], object]) -> None:
    with pytest.raises(ValidationError) as caught:
        factory("not callable")
    assert caught.value.field == "callback"


# -- the HTTP health check as verify ---------------------------------------------------------------


class _Health:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.hits = 0
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status = health.statuses[min(health.hits, len(health.statuses) - 1)]
                health.hits += 1
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"


@pytest.fixture
def health() -> Iterator[Callable[[list[int]], _Health]]:
    servers: list[_Health] = []

    def start(statuses: list[int]) -> _Health:
        server = _Health(statuses)
        threading.Thread(
            target=server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.server.shutdown()
        server.server.server_close()


def test_a_rollback_verified_by_a_healthy_service(health: Callable[[list[int]], _Health]) -> None:
    server = health([200])
    rollback = RollbackAction([PY, "-c", "pass"], verify=HttpHealthCheck(server.url))
    result = execute_action(rollback.action(), sample_context(), {}, CONV)
    assert result.outcome is MitigationOutcome.APPLIED
    assert result.verified is True
    assert f"GET {server.url} -> HTTP 200" in result.detail


def test_an_unhealthy_service_fails_verification(health: Callable[[list[int]], _Health]) -> None:
    server = health([503])
    check = HttpHealthCheck(server.url, attempts=2, interval=timedelta(0))
    result = execute_action(RecordingAction(verify=check).action(), sample_context(), {}, CONV)
    assert result.verified is False
    assert "unhealthy after 2 attempt(s): HTTP 503" in result.detail
    assert server.hits == 2


def test_the_check_retries_until_healthy(health: Callable[[list[int]], _Health]) -> None:
    server = health([503, 502, 200])
    check = HttpHealthCheck(server.url, attempts=5, interval=timedelta(milliseconds=10))
    assert check(sample_context(), None).outcome is MitigationOutcome.APPLIED
    assert server.hits == 3


def test_a_custom_expectation(health: Callable[[list[int]], _Health]) -> None:
    server = health([204])
    assert HttpHealthCheck(server.url, expect={200}).probe()[0] == 204
    result = HttpHealthCheck(server.url, expect={200})(sample_context(), None)
    assert result.outcome is MitigationOutcome.FAILED
    assert (
        HttpHealthCheck(server.url, expect=lambda s: s < 300)(sample_context(), None).outcome
        is MitigationOutcome.APPLIED
    )


def test_no_response_is_unhealthy() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = HttpHealthCheck(f"http://127.0.0.1:{port}/")(sample_context(), None)
    assert result.outcome is MitigationOutcome.FAILED
    assert "no response" in result.detail


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": "gopher://x"}, "url"),
        ({"url": "http://x", "timeout": timedelta(0)}, "timeout"),
        ({"url": "http://x", "attempts": 0}, "attempts"),
        ({"url": "http://x", "interval": timedelta(seconds=-1)}, "interval"),
    ],
)
def test_health_check_configuration_is_checked(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        HttpHealthCheck(**kwargs)
    assert caught.value.field == field


# -- contracts against every built-in ------------------------------------------------------------


class TestRollbackContract(MitigationActionContract):
    @pytest.fixture
    def action_plugin(self, tmp_path: Path) -> RollbackAction:
        marker = tmp_path / "rolled-back"
        return RollbackAction([PY, "-c", f"open({str(marker)!r}, 'a').write('x')"])

    @pytest.fixture
    def valid_params(self) -> Mapping[str, Mapping[str, Any]]:
        return {"rollback": {"target": "v41", "reason": "contract"}}

    @pytest.fixture
    def side_effects(self, tmp_path: Path) -> Callable[[], object]:
        return lambda: sorted(p.name for p in tmp_path.iterdir())


class TestInMemoryFlagContract(MitigationActionContract):
    @pytest.fixture
    def flags(self) -> InMemoryFlagClient:
        return InMemoryFlagClient({"checkout": True})

    @pytest.fixture
    def action_plugin(self, flags: InMemoryFlagClient) -> FeatureFlagAction:
        return FeatureFlagAction(flags)

    @pytest.fixture
    def valid_params(self) -> Mapping[str, Mapping[str, Any]]:
        return {"feature_flag": {"flag": "checkout", "enabled": False}}

    @pytest.fixture
    def side_effects(self, flags: InMemoryFlagClient) -> Callable[[], object]:
        return flags.snapshot


class TestJsonFileFlagContract(MitigationActionContract):
    @pytest.fixture
    def action_plugin(self, tmp_path: Path) -> FeatureFlagAction:
        return FeatureFlagAction(JsonFileFlagClient(tmp_path / "flags.json"), name="file_flag")

    @pytest.fixture
    def valid_params(self) -> Mapping[str, Mapping[str, Any]]:
        return {"file_flag": {"flag": "checkout", "enabled": False}}

    @pytest.fixture
    def side_effects(self, tmp_path: Path) -> Callable[[], object]:
        return lambda: sorted(p.name for p in tmp_path.iterdir())


class TestScaleContract(MitigationActionContract):
    @pytest.fixture
    def action_plugin(self) -> ScaleAction:
        return ScaleAction(lambda p: f"scaled {p.resource}")

    @pytest.fixture
    def valid_params(self) -> Mapping[str, Mapping[str, Any]]:
        return {"scale": {"resource": "api", "delta": 2}}


class TestMaintenanceContract(MitigationActionContract):
    @pytest.fixture
    def action_plugin(self) -> MaintenanceModeAction:
        return MaintenanceModeAction(lambda p: None)

    @pytest.fixture
    def valid_params(self) -> Mapping[str, Mapping[str, Any]]:
        return {"maintenance_mode": {"message": "Back soon", "estimated_duration": "30m"}}


class TestCircuitBreakerContract(MitigationActionContract):
    @pytest.fixture
    def registry(self) -> CircuitBreakerRegistry:
        registry = CircuitBreakerRegistry()
        registry.get("payments")
        return registry

    @pytest.fixture
    def action_plugin(self, registry: CircuitBreakerRegistry) -> CircuitBreakerAction:
        return CircuitBreakerAction(registry)

    @pytest.fixture
    def valid_params(self) -> Mapping[str, Mapping[str, Any]]:
        return {"circuit_breaker": {"name": "payments", "state": "open"}}

    @pytest.fixture
    def side_effects(self, registry: CircuitBreakerRegistry) -> Callable[[], object]:
        return registry.snapshot


class TestRecordingActionContract(MitigationActionContract):
    @pytest.fixture
    def action_plugin(self) -> RecordingAction:
        return RecordingAction()

    @pytest.fixture
    def valid_params(self) -> Mapping[str, Mapping[str, Any]]:
        return {"record": {"note": "contract"}}
