"""Load check of ``incidentkit serve``: 8 concurrent clients on 127.0.0.1, p50/p99, 0 errors.

The subject is ``incidentkit serve`` (uvicorn, the embedded SQLite store, its
timer thread on) answering three workloads:

* ``GET /incidents/INC-42`` for the guide's login incident: the page loads the
  incident, its timeline, verifies the hash chain and renders the template;
* ``GET /status/api/v2/summary.json`` of the public status page (three
  components, one with a partial outage from an open incident);
* ``POST /alerts/alertmanager``: Alertmanager webhook v4 payloads of one
  alert each, every one a new alert (8 groups, one per client, so 8
  incidents), every one answered 202 and found afterwards (0 lost alerts).

The baseline is a bare Starlette handler on uvicorn, in its own process,
returning the same bytes (for the posts: reading the body and answering the
same 202 body), measured in the same run with the same client. Each of 8
client threads keeps one HTTP/1.1 connection and sends its share of the
requests. Every answer must be the expected one, or the run fails.

A fourth row is wave2-specs §5.3 test 6, "an incident with 200 events renders
in under 1 s server-side": ``GET /incidents/INC-…`` of the dashboard, in
process through Starlette's test client, for an incident of 200 events on a
SQLite file (load, verify the hash chain, render), against a bare Starlette
route returning the same bytes through the same client; its notes give the
absolute p50/p99 and whether the slowest render stayed under 1 s (a reading,
not a test assertion).
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from _harness import Result, report, scaled

import incidentkit as ik
from incidentkit._demo import run_demo

CLIENTS = 8
REQUESTS = scaled(1_000, 200)
SUMMARIES = scaled(10_000, 400)
ALERTS = scaled(1_000, 200)
PATH = "/incidents/INC-42"
SUMMARY = "/status/api/v2/summary.json"
ALERTMANAGER = "/alerts/alertmanager"

POLICY = """
[[status.pages]]
id = "main"
name = "Example status"
url = "https://status.example.com"

[[status.components]]
id = "login"
name = "Login"
position = 1

[[status.components]]
id = "api"
name = "API"
position = 2

[[status.components]]
id = "billing"
name = "Billing"
position = 3
"""

AM_ALERT = {
    "version": "4",
    "groupKey": "{}:{alertname}",
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "oncall",
    "groupLabels": {},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://am:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "ProbeFailure", "severity": "critical"},
            "annotations": {"summary": "Probe failed"},
            "startsAt": "2023-02-06T13:08:45.828Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom:9090/graph",
            "fingerprint": "0",
        }
    ],
}

BARE = """
import sys
from pathlib import Path
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
page = Path(sys.argv[2]).read_bytes()
summary = Path(sys.argv[3]).read_bytes()
accepted = Path(sys.argv[4]).read_bytes()
async def html(request):
    return Response(page, media_type="text/html; charset=utf-8")
async def doc(request):
    return Response(summary, media_type="application/json")
async def alert(request):
    await request.body()
    return Response(accepted, status_code=202, media_type="application/json")
app = Starlette(routes=[
    Route("/incidents/INC-42", html),
    Route("/status/api/v2/summary.json", doc),
    Route("/alerts/alertmanager", alert, methods=["POST"]),
])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off")
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str = PATH) -> bytes:
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path)
            body = conn.getresponse().read()
            conn.close()
            return body
        except OSError:
            time.sleep(0.1)


def alert_body(client: int, n: int) -> bytes:
    """One Alertmanager payload: a new alert (fingerprint) in the client's own group."""
    body = copy.deepcopy(AM_ALERT)
    alert = body["alerts"][0]  # type: ignore[index]
    alert["labels"] = {"alertname": f"Bench{client}", "severity": "critical", "n": str(n)}
    alert["fingerprint"] = f"bench-{client}-{n}"
    return json.dumps(body).encode()


Check = Callable[[int, bytes], str | None]
"""``check(status, body)``: an accepted alert's dedup key, ``""`` if fine, ``None`` if wrong."""


def _load(
    port: int,
    total: int,
    request: Callable[[int, int], tuple[str, str, bytes | None]],
    check: Check,
) -> tuple[list[float], int, list[str]]:
    latencies: list[float] = []
    errors = [0]
    keys: list[str] = []
    lock = threading.Lock()
    share = total // CLIENTS

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        found: list[str] = []
        bad = 0
        for n in range(share):
            method, path, body = request(number, n)
            headers = {"Content-Type": "application/json"} if body is not None else {}
            start = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            mine.append(time.perf_counter() - start)
            verdict = check(response.status, data)
            if verdict is None:
                bad += 1
            elif verdict:
                found.append(verdict)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad
            keys.extend(found)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0], keys


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _page_check(expected: bytes) -> Check:
    def check(status: int, body: bytes) -> str | None:
        ok = status == 200 and b"INC-42" in body and len(body) >= len(expected) // 2
        return "" if ok else None

    return check


SUMMARY_KEYS = {"page", "components", "incidents", "scheduled_maintenances", "status"}


def _summary_check(expected: bytes) -> Check:
    # Not byte-equal: a component never changed reports ``now`` as its updated_at.
    want = json.loads(expected)

    def check(status: int, body: bytes) -> str | None:
        if status != 200:
            return None
        doc = json.loads(body)
        same = (
            set(doc) == SUMMARY_KEYS
            and doc["status"] == want["status"]
            and [c["status"] for c in doc["components"]]
            == [c["status"] for c in want["components"]]
            and [i["id"] for i in doc["incidents"]] == [i["id"] for i in want["incidents"]]
        )
        return "" if same else None

    return check


def _alert_check(status: int, body: bytes) -> str | None:
    if status != 202:
        return None
    answer = json.loads(body)
    key = answer.get("dedup_key")
    return key if answer.get("status") == "success" and key else None


def _bare_alert_check(status: int, body: bytes) -> str | None:
    return "" if status == 202 and b'"dedup_key"' in body else None


def _row(
    title: str,
    subject: list[float],
    baseline: list[float],
    measures: str,
    against: str,
    **notes: object,
) -> Result:
    return Result(
        title,
        statistics.median(subject),
        statistics.median(baseline),
        measures=measures,
        against=against,
        notes={
            "requests": len(subject),
            **notes,
            "serve_p50_ms": round(_p(subject, 0.50) * 1e3, 2),
            "serve_p99_ms": round(_p(subject, 0.99) * 1e3, 2),
            "bare_p50_ms": round(_p(baseline, 0.50) * 1e3, 2),
            "bare_p99_ms": round(_p(baseline, 0.99) * 1e3, 2),
        },
    )


def _setup(folder: str) -> tuple[str, Path]:
    url = f"sqlite:///{folder}/incidents.db"
    policy_file = Path(folder) / "policy.toml"
    policy_file.write_text(POLICY, encoding="utf-8")

    def make(clock: ik.ManualClock, policy: ik.Policy, console: object) -> ik.IncidentKit:
        return ik.IncidentKit.open(url, policy=policy, clock=clock, autoload_plugins=False)

    run_demo(open(os.devnull, "w"), make, None).shutdown()  # noqa: SIM115
    with ik.IncidentKit.open(
        url, policy=ik.Policy.from_toml(POLICY), autoload_plugins=False
    ) as kit:
        iid = kit.declare("Checkout errors", severity="SEV2", by="alice").id
        kit.status.post(
            iid,
            "investigating",
            "Some logins fail",
            "We are investigating.",
            by="charlie",
            components={"login": "partial_outage"},
        )
    return url, policy_file


T0 = datetime(2024, 11, 20, 22, 30, tzinfo=UTC)
TIMELINE_EVENTS = 200
TIMELINE_RENDERS = scaled(50, 10)


def timeline_row(folder: str) -> Result:
    """§5.3 test 6: the dashboard page of an incident with 200 events, in process."""
    import warnings

    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route
    from starlette.testclient import TestClient

    import incidentkit.web

    kit = ik.IncidentKit.open(
        f"sqlite:///{folder}/timeline.db", clock=ik.ManualClock(T0), autoload_plugins=False
    )
    iid = kit.declare("Login failures", severity="SEV2", by="alice").id
    while len(kit.timeline(iid)) < TIMELINE_EVENTS:
        kit.add_note(iid, f"Checked shard {len(kit.timeline(iid))}: error rate 15 %", by="bob")
    assert len(kit.timeline(iid)) == TIMELINE_EVENTS
    path = f"/incidents/{iid}"
    with TestClient(incidentkit.web.app(kit, authorize=incidentkit.web.allow_all)) as client:
        first = client.get(path)
        assert first.status_code == 200, first
        assert f"Hash chain verified ({TIMELINE_EVENTS} events)".encode() in first.content
        body = first.content

        async def same(request: object) -> Response:
            return Response(body, media_type="text/html; charset=utf-8")

        with TestClient(Starlette(routes=[Route(path, same)])) as bare:
            assert bare.get(path).content == body
            subject, baseline = [], []
            for _ in range(TIMELINE_RENDERS):
                started = time.perf_counter()
                answer = client.get(path)
                subject.append(time.perf_counter() - started)
                assert answer.status_code == 200
                started = time.perf_counter()
                bare.get(path)
                baseline.append(time.perf_counter() - started)
    kit.shutdown()
    return Result(
        f"GET incident page, {TIMELINE_EVENTS} events, in process: p50 ÷ bare p50",
        statistics.median(subject),
        statistics.median(baseline),
        measures=f"median of {TIMELINE_RENDERS} GET /incidents/{iid} through Starlette's "
        f"test client: an incident of {TIMELINE_EVENTS} events on a SQLite file, loaded, "
        "chain verified, template rendered (wave2-specs §5.3 test 6)",
        against="a bare Starlette route returning the same bytes through the same client",
        notes={
            "requests": TIMELINE_RENDERS,
            "page_bytes": len(body),
            "render_p50_ms": round(_p(subject, 0.50) * 1e3, 2),
            "render_p99_ms": round(_p(subject, 0.99) * 1e3, 2),
            "slowest_under_1s": max(subject) < 1.0,
            "bare_p50_ms": round(_p(baseline, 0.50) * 1e3, 2),
        },
    )


def _lost(url: str, keys: list[str]) -> int:
    with ik.IncidentKit.open(url, autoload_plugins=False) as kit:
        return sum(1 for key in keys if kit.alerts.holder(key) is None)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="incidentkit-bench-web-") as folder:
        url, policy_file = _setup(folder)
        serve_port, bare_port = _port(), _port()
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "incidentkit.cli",
                "--db",
                url,
                "--policy",
                str(policy_file),
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
            summary = _get(serve_port, SUMMARY)
            assert b'"indicator":"minor"' in summary, summary[:200]
            conn = http.client.HTTPConnection("127.0.0.1", serve_port, timeout=30)
            conn.request("POST", ALERTMANAGER, body=alert_body(99, 0))
            accepted = conn.getresponse().read()
            conn.close()
            files = []
            for name, data in (
                ("page.html", body),
                ("summary.json", summary),
                ("202.json", accepted),
            ):
                files.append(Path(folder) / name)
                files[-1].write_bytes(data)
            bare = subprocess.Popen(
                [sys.executable, "-c", BARE, str(bare_port), *map(str, files)],
                stdout=subprocess.DEVNULL,
            )
            assert _get(bare_port) == body

            def page(client: int, n: int) -> tuple[str, str, bytes | None]:
                return "GET", PATH, None

            def doc(client: int, n: int) -> tuple[str, str, bytes | None]:
                return "GET", SUMMARY, None

            def post(client: int, n: int) -> tuple[str, str, bytes | None]:
                return "POST", ALERTMANAGER, alert_body(client, n)

            _load(serve_port, CLIENTS * 4, page, _page_check(body))  # warm up both
            _load(bare_port, CLIENTS * 4, page, _page_check(body))
            subject, subject_errors, _ = _load(serve_port, REQUESTS, page, _page_check(body))
            baseline, baseline_errors, _ = _load(bare_port, REQUESTS, page, _page_check(body))
            doc_s, doc_s_err, _ = _load(serve_port, SUMMARIES, doc, _summary_check(summary))
            doc_b, doc_b_err, _ = _load(bare_port, SUMMARIES, doc, _summary_check(summary))
            post_s, post_s_err, keys = _load(serve_port, ALERTS, post, _alert_check)
            post_b, post_b_err, _ = _load(bare_port, ALERTS, post, _bare_alert_check)
        finally:
            serve.terminate()
            serve_code = serve.wait(timeout=60)
            if bare is not None:
                bare.terminate()
                bare.wait(timeout=60)
        sent = (ALERTS // CLIENTS) * CLIENTS
        lost = sent - len(set(keys)) + _lost(url, sorted(set(keys)))
    errors = {
        "page": (subject_errors, baseline_errors),
        "summary.json": (doc_s_err, doc_b_err),
        "alertmanager": (post_s_err, post_b_err),
    }
    if any(a or b for a, b in errors.values()) or lost:
        raise AssertionError(f"errors (serve, bare): {errors}; lost alerts: {lost}")
    if serve_code != 0:
        raise AssertionError(f"incidentkit serve exited {serve_code} on SIGTERM")
    bare_note = "a bare Starlette handler on uvicorn returning the same bytes, same client"
    rows = [
        _row(
            f"GET incident page, {CLIENTS} clients x {REQUESTS // CLIENTS}: serve p50 ÷ bare p50",
            subject,
            baseline,
            "median latency of GET /incidents/INC-42 (the login incident, 30+ events, chain "
            "verified, template rendered) against `incidentkit serve` on SQLite, timers on",
            bare_note,
            errors=subject_errors,
            serve_exit_on_sigterm=serve_code,
        ),
        _row(
            f"GET summary.json, {CLIENTS} clients x {SUMMARIES // CLIENTS}: serve p50 ÷ bare p50",
            doc_s,
            doc_b,
            "median latency of GET /status/api/v2/summary.json (3 components, 1 open "
            "incident on the page) against `incidentkit serve` on SQLite, timers on",
            bare_note,
            errors=doc_s_err,
        ),
        _row(
            f"POST Alertmanager, {CLIENTS} clients x {ALERTS // CLIENTS}: serve p50 ÷ bare p50",
            post_s,
            post_b,
            "median latency of POST /alerts/alertmanager (one new alert each, 8 groups: 8 "
            "incidents) against `incidentkit serve` on SQLite, timers on; 202 each",
            "a bare Starlette handler reading the body and answering the same 202 bytes",
            errors=post_s_err,
            lost_alerts=lost,
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="incidentkit-bench-timeline-") as folder:
        rows.append(timeline_row(folder))
    report("web", rows)
    for row in rows:
        print(f"  {row.bench}")
        for key, value in row.notes.items():
            print(f"    {key}: {value}")


if __name__ == "__main__":
    main()
