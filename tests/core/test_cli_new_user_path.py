"""Issue 17's acceptance: the new user's path from the shell alone.

A policy file with a Slack-style webhook notifier (its URL in an environment
variable), ``incidentkit declare``, ``incidentkit run`` delivering the page
to a local HTTP receiver with the paged person's name in it, ``show`` and
``list`` in Europe/Berlin time, and ``close`` refused while recovery items
are open. Every command is a subprocess of the installed ``incidentkit``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from incidentkit import IncidentKit, Severity

BERLIN = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? CES?T$")  # Berlin, winter or summer
INCIDENTKIT = str(Path(sys.executable).parent / "incidentkit")

POLICY = """\
zone = "Europe/Berlin"

[[oncall.schedules]]
name = "platform"

[[oncall.schedules.layers]]
name = "primary"

[[oncall.schedules.layers.rotations]]
participants = ["Ana Berg"]
start = 2025-01-06T09:00:00+01:00
zone = "Europe/Berlin"
handoff_weekday = "monday"
handoff_time = "09:00"

[[escalation.policies]]
name = "critical"
severities = ["SEV1"]

[[escalation.policies.steps]]
targets = ["layer:primary"]
delay = "0m"
action = "page"

[notifiers.team-slack]
type = "slack"
url_env = "TEAM_SLACK_URL"
kinds = ["page"]
"""


class _Receiver:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.got = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(self.rfile.read(length))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")
                receiver.got.set()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T1/B1/x"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    yield server
    server.close()


def _env(tmp_path: Path, receiver: _Receiver) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTKIT_")}
    env.update(
        INCIDENTKIT_DB=f"sqlite:///{tmp_path}/incidents.db",
        INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD="1",
        TEAM_SLACK_URL=receiver.url,
    )
    return env


def _ik(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INCIDENTKIT, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )


def test_the_new_users_path_from_the_shell(tmp_path: Path, receiver: _Receiver) -> None:
    (tmp_path / "incidentkit.toml").write_text(POLICY, encoding="utf-8")
    env = _env(tmp_path, receiver)

    declared = _ik(
        tmp_path, env, "declare", "Login failures", "-s", "SEV1", "--by", "ana", "--id", "INC-1"
    )
    assert declared.returncode == 0, declared.stderr
    assert declared.stdout.startswith("INC-1 declared (SEV1)")

    worker = subprocess.Popen(
        [INCIDENTKIT, "run", "--interval", "1s"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.got.wait(120), "the worker never delivered the page"
    finally:
        worker.send_signal(signal.SIGTERM)
        _, worker_err = worker.communicate(timeout=120)
    assert worker.returncode == 0, worker_err
    payload = json.loads(receiver.bodies[0])
    assert payload["text"].startswith("[SEV1] INC-1 Login failures: You are paged")
    assert payload["text"].count("Login failures") == 1  # the subject is not repeated
    fields = [f["text"] for f in payload["blocks"][2]["fields"]]
    assert "*Paged*\nAna Berg" in fields
    assert any(f.startswith("*When*\n") and BERLIN.search(f) for f in fields), fields

    shown = _ik(tmp_path, env, "show", "INC-1")
    assert shown.returncode == 0, shown.stderr
    assert "INC-1  SEV1  declared  Login failures" in shown.stdout
    declared_line = next(x for x in shown.stdout.splitlines() if x.strip().startswith("declared "))
    assert BERLIN.search(declared_line), declared_line
    assert "[ ] verify-root-cause-fix (required)" in shown.stdout
    as_json = json.loads(_ik(tmp_path, env, "show", "INC-1", "--json").stdout)
    assert as_json["declared_at"].endswith("+00:00")  # JSON stays UTC

    listed = _ik(tmp_path, env, "list")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert "DECLARED (Europe/Berlin)" in header
    assert row.startswith("INC-1  SEV1  declared")
    assert BERLIN.search(row.removesuffix("Login failures").rstrip()), row

    assert (
        _ik(tmp_path, env, "assign", "INC-1", "incident_commander", "ana", "--by", "ana").returncode
        == 0
    )
    resolved = _ik(tmp_path, env, "resolve", "INC-1", "--by", "ana", "--force", "--reason", "drill")
    assert resolved.returncode == 0, resolved.stderr
    refused = _ik(tmp_path, env, "close", "INC-1", "--by", "ana")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "open required recovery items" in refused.stderr
    forced = _ik(tmp_path, env, "close", "INC-1", "--by", "ana", "--force", "--reason", "drill")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(_ik(tmp_path, env, "show", "INC-1", "--json").stdout)["closed_at"]


def test_piping_list_to_head_prints_no_traceback(tmp_path: Path, receiver: _Receiver) -> None:
    env = _env(tmp_path, receiver)
    # more output than a pipe buffers (64 KiB), so `head` closes the pipe mid-write
    with IncidentKit.open(env["INCIDENTKIT_DB"], autoload_plugins=False) as kit:
        for number in range(500):
            title = f"incident number {number} " + "x" * 170
            kit.declare(title, severity=Severity.SEV3, by="ana", incident_id=f"INC-{number}")
    piped = subprocess.run(
        f"'{INCIDENTKIT}' list | head -n 1",
        shell=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.stdout.startswith("ID ")
    assert piped.stderr == ""
