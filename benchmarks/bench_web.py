"""Load check of ``incidentkit serve``: 8 concurrent clients on 127.0.0.1, p50/p99, 0 errors.

The subject is ``incidentkit serve`` (uvicorn, the embedded SQLite store, its
timer thread on) answering ``GET /incidents/INC-42`` for the guide's login
incident: the page loads the incident, its timeline, verifies the hash
chain and renders the template. The baseline is a bare Starlette handler on
uvicorn, in its own process, returning the same bytes, measured in the same
run with the same client. Each of 8 client threads keeps one HTTP/1.1
connection and sends its share of 1,000 requests (200 with --quick). Every
answer must be 200 with the expected body, or the run fails.
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _harness import Result, report, scaled

import incidentkit as ik
from incidentkit._demo import run_demo

CLIENTS = 8
REQUESTS = scaled(1_000, 200)
PATH = "/incidents/INC-42"

BARE = """
import sys
from pathlib import Path
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
body = Path(sys.argv[2]).read_bytes()
async def page(request):
    return Response(body, media_type="text/html; charset=utf-8")
app = Starlette(routes=[Route("/incidents/INC-42", page)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off")
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int) -> bytes:
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", PATH)
            body = conn.getresponse().read()
            conn.close()
            return body
        except OSError:
            time.sleep(0.1)


def _load(port: int, check: bytes) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    share = REQUESTS // CLIENTS

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        bad = 0
        for _ in range(share):
            start = time.perf_counter()
            conn.request("GET", PATH)
            response = conn.getresponse()
            body = response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200 or b"INC-42" not in body or len(body) < len(check) // 2:
                bad += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="incidentkit-bench-web-") as folder:
        url = f"sqlite:///{folder}/incidents.db"

        def make(clock: ik.ManualClock, policy: ik.Policy, console: object) -> ik.IncidentKit:
            return ik.IncidentKit.open(url, policy=policy, clock=clock, autoload_plugins=False)

        run_demo(open(os.devnull, "w"), make, None).shutdown()  # noqa: SIM115
        serve_port, bare_port = _port(), _port()
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "incidentkit.cli",
                "--db",
                url,
                "serve",
                "--port",
                str(serve_port),
                "--interval",
                "1s",
            ],
            stdout=subprocess.DEVNULL,
        )
        bare = None
        try:
            body = _get(serve_port)
            page = Path(folder) / "page.html"
            page.write_bytes(body)
            bare = subprocess.Popen(
                [sys.executable, "-c", BARE, str(bare_port), str(page)], stdout=subprocess.DEVNULL
            )
            assert _get(bare_port) == body
            _load(serve_port, body)  # warm up both
            _load(bare_port, body)
            subject, subject_errors = _load(serve_port, body)
            baseline, baseline_errors = _load(bare_port, body)
        finally:
            serve.terminate()
            serve_code = serve.wait(timeout=60)
            if bare is not None:
                bare.terminate()
                bare.wait(timeout=60)
    if subject_errors or baseline_errors:
        raise AssertionError(f"errors: serve {subject_errors}, bare {baseline_errors}")
    if serve_code != 0:
        raise AssertionError(f"incidentkit serve exited {serve_code} on SIGTERM")
    result = Result(
        f"GET incident page, {CLIENTS} clients x {REQUESTS // CLIENTS}: serve p50 ÷ bare p50",
        statistics.median(subject),
        statistics.median(baseline),
        measures=(
            "median latency of GET /incidents/INC-42 (the login incident, 30+ events, chain "
            "verified, template rendered) against `incidentkit serve` on SQLite, timers on"
        ),
        against="a bare Starlette handler on uvicorn returning the same bytes, same client",
        notes={
            "requests": len(subject),
            "errors": subject_errors,
            "serve_p50_ms": round(_p(subject, 0.50) * 1e3, 2),
            "serve_p99_ms": round(_p(subject, 0.99) * 1e3, 2),
            "bare_p50_ms": round(_p(baseline, 0.50) * 1e3, 2),
            "bare_p99_ms": round(_p(baseline, 0.99) * 1e3, 2),
            "serve_exit_on_sigterm": serve_code,
        },
    )
    report("web", [result])
    for key, value in result.notes.items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
