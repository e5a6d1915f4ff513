"""Helpers for the delivery tests: a local HTTP receiver, a file-appending notifier, child scripts.

Not fixtures (see ``conftest.py``); also imported by ``delivery_child.py`` in
child processes, so it depends on nothing but incidentkit and the stdlib.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs

from incidentkit.notify import Notification, NotifierSpec
from incidentkit.plugins import hookimpl
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME
"""The guide's example instant; every kit here runs on a ManualClock from it."""

TESTS = Path(__file__).resolve().parents[1]
"""The ``tests`` directory: on ``PYTHONPATH`` in children, so ``delivery`` imports as a package."""

BEYOND_BACKOFF = timedelta(minutes=11)
"""Longer than the largest retry delay (the backoff cap is 10 minutes)."""


# --- a real HTTP receiver on 127.0.0.1 ------------------------------------------------------


@attrs.frozen
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes


class Receiver:
    """Records POSTs; answers each with the next scripted ``(status, headers)``, then 200."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append(Received(dict(self.headers.items()), body))
                    status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def reply(self, *replies: tuple[int, dict[str, str]]) -> None:
        """Queue scripted replies for the next requests."""
        with self.lock:
            self.script.extend(replies)

    def keys(self) -> list[str]:
        """The ``Idempotency-Key`` of every request, in arrival order."""
        with self.lock:
            return [r.headers.get("Idempotency-Key", "") for r in self.requests]

    def bodies(self, key: str) -> list[bytes]:
        """The bodies of every request carrying ``key``."""
        with self.lock:
            return [r.body for r in self.requests if r.headers.get("Idempotency-Key") == key]


# --- notifiers that work across processes -------------------------------------------------


class AppendNotifier:
    """Appends ``"<notifier> <key>"`` lines to a file with one ``O_APPEND`` write per delivery.

    Several processes may share the file: each line is one ``write(2)`` well
    under ``PIPE_BUF``, so lines never interleave.
    """

    def __init__(self, name: str, path: Path | str, timeout: timedelta = timedelta(seconds=30)):
        self.name = name
        self.path = str(path)
        self.timeout = timeout

    def deliver(self, notification: Notification) -> None:
        line = f"{self.name} {notification.key}\n".encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    @hookimpl
    def incidentkit_notifiers(self) -> list[NotifierSpec]:
        return [NotifierSpec(self.name, self.deliver, timeout=self.timeout)]


def read_lines(path: Path) -> list[tuple[str, str]]:
    """The ``(notifier, key)`` pairs an :class:`AppendNotifier` wrote (``[]`` if none)."""
    if not path.exists():
        return []
    return [tuple(line.split(" ", 1)) for line in path.read_text().splitlines()]  # type: ignore[misc]


def duplicates(pairs: Iterable[object]) -> dict[object, int]:
    """Items seen more than once, with their counts."""
    return {item: n for item, n in Counter(pairs).items() if n > 1}


# --- child processes ----------------------------------------------------------------------


def start_child(*args: str) -> subprocess.Popen[str]:
    """Run ``delivery_child.py`` with ``args``; its stdout is a pipe of text lines."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.Popen(
        [sys.executable, "-m", "delivery.delivery_child", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_line(proc: subprocess.Popen[str], seconds: float = 60.0) -> str:
    """The child's next stdout line; fails (with its stderr) if it exits or stays silent.

    The limit only keeps a broken child from hanging the suite; nothing is
    asserted about how long the child took.
    """
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(seconds):
            proc.kill()
            raise AssertionError(f"child said nothing for {seconds:g}s")
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        stderr = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"child exited ({proc.returncode}) early:\n{stderr}")
    return line.strip()


def read_json(proc: subprocess.Popen[str]) -> Any:
    """The child's next stdout line, parsed as JSON."""
    return json.loads(read_line(proc))
