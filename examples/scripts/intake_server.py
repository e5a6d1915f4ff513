"""A stdlib HTTP receiver for Alertmanager, Grafana and PagerDuty-style senders.

``POST /alerts`` takes any payload the kit's adapters read (detected), or
``POST /alerts/<format>`` names the adapter. The answer is what the sender
expects: 202 with ``{"status": "success", "message": "Event processed",
"dedup_key": …}``, or 400 with every problem in ``errors`` (never retried by
the sender); anything else is a 500, which Alertmanager retries — and a
retried payload is recorded once.

Run it as a script and it serves on 127.0.0.1 (an ephemeral port), posts the
payload files of ``examples/payloads`` to itself, prints each answer and the
incidents they opened, and stops. Serve for real with ``--serve PORT``.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import incidentkit as ik
from incidentkit.errors import PayloadInvalid
from incidentkit.intake.section import error_response

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
MAX_BODY = 4 * 1024 * 1024


def make_handler(kit: ik.IncidentKit) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``kit``."""

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = [p for p in self.path.split("/") if p]
            if not parts or parts[0] != "alerts" or len(parts) > 2:
                self._answer(404, {"status": "not found"})
                return
            fmt = parts[1] if len(parts) == 2 else None
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413, {"status": "too large"})
                return
            body = self.rfile.read(length)
            try:
                result = kit.alerts.ingest(body, fmt)
            except PayloadInvalid as err:
                self._answer(400, error_response(err))
                return
            except ik.IncidentKitError as err:  # the store failed: let the sender retry
                self._answer(500, {"status": "error", "message": str(err)})
                return
            self._answer(result.http_status, result.response())

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet

    return Receiver


def post(url: str, data: bytes) -> tuple[int, dict[str, object]]:
    """POST ``data`` as JSON; the status and the decoded answer."""
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def main() -> None:
    kit = ik.IncidentKit(autoload_plugins=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(kit))
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), make_handler(kit))
        server.serve_forever()
        return
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    try:
        for name in (
            "alertmanager-firing.json",
            "alertmanager-firing.json",  # an Alertmanager retry: recorded once
            "grafana-firing.json",
            "pagerduty-trigger.json",
            "pagerduty-invalid.json",
            "alertmanager-resolved.json",
        ):
            status, answer = post(url, (PAYLOADS / name).read_bytes())
            shown = answer.get("errors") or answer.get("dedup_key")
            print(f"{name}: {status} {answer['status']} {shown}")
    finally:
        server.shutdown()
        server.server_close()
    for summary in kit.store.summaries():
        state = kit.get(summary.incident_id)
        mitigated = "mitigated" if state.mitigated_at else "open"
        print(f"{state.severity} {state.title}: {mitigated}, {len(kit.timeline(state.id))} events")


if __name__ == "__main__":
    main()
