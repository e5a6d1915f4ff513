"""Trackers over real transports (a GitHub-style server on 127.0.0.1, a file); the invite."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import incidentkit as ik
from incidentkit.review import ExternalRef
from incidentkit.review.trackers import GitHubIssuesTracker, JsonFileTracker
from incidentkit.severity import Severity
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME


class Issues:
    """The server's state: issues by number, the requests seen, failures to inject."""

    def __init__(self) -> None:
        self.issues: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.lose_next_create_reply = False
        self.lock = threading.Lock()


def _handler(state: Issues) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def _reply(self, code: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else None

        def _handle(self) -> None:
            body = self._body()
            with state.lock:
                state.requests.append((self.command, self.path, body))
                if self.headers.get("Authorization") != "Bearer s3cret":
                    self._reply(401, {"message": "Bad credentials"})
                    return
                base = "/repos/acme/web/issues"
                if self.command == "GET" and self.path.startswith(base + "?"):
                    self._reply(200, list(state.issues.values()))
                elif self.command == "POST" and self.path == base:
                    assert body is not None
                    number = len(state.issues) + 1
                    issue = {
                        **body,
                        "number": number,
                        "state": "open",
                        "html_url": f"http://github.test/acme/web/issues/{number}",
                    }
                    state.issues[number] = issue
                    if state.lose_next_create_reply:
                        state.lose_next_create_reply = False
                        self._reply(502, {"message": "bad gateway"})
                        return
                    self._reply(201, issue)
                elif self.command == "PATCH" and self.path.startswith(base + "/"):
                    number = int(self.path.rsplit("/", 1)[1])
                    if number not in state.issues:
                        self._reply(404, {"message": "Not Found"})
                        return
                    assert body is not None
                    state.issues[number].update(body)
                    self._reply(200, state.issues[number])
                else:
                    self._reply(404, {"message": "Not Found"})

        do_GET = do_POST = do_PATCH = _handle

    return Handler


@pytest.fixture
def github() -> Iterator[tuple[Issues, str]]:
    state = Issues()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _kit(tracker: object) -> tuple[ik.IncidentKit, str]:
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), plugins=[tracker], autoload_plugins=False)
    inc = kit.declare("Login API returning 500 errors", severity=Severity.SEV1, by="alice")
    kit.assign_role(inc.id, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.resolve(inc.id, by="alice", force=True, reason="test")
    return kit, inc.id


def _add(kit: ik.IncidentKit, inc: str, title: str, priority: str = "P0") -> str:
    item = kit.reviews.add_action(
        inc, title, owner="@bob", priority=priority, type="detective", due=date(2024, 11, 22),
        by="alice",
    )  # fmt: skip
    return item.id


def _later(kit: ik.IncidentKit, minutes: int) -> None:
    kit.clock.set(kit.engine.now() + timedelta(minutes=minutes))  # type: ignore[attr-defined]


def test_github_tracker_create_update_close_over_http(github: tuple[Issues, str]) -> None:
    server, url = github
    kit, inc = _kit(GitHubIssuesTracker("acme/web", token="s3cret", api_url=url))
    _add(kit, inc, "Add connection pool metrics to dashboard")
    report = kit.deliver()
    assert report.delivered == 1
    assert list(server.issues) == [1]
    issue = server.issues[1]
    assert issue["title"] == "Add connection pool metrics to dashboard"
    assert issue["assignees"] == ["bob"] and issue["labels"] == ["incident-follow-up", "P0"]
    assert f"<!-- incidentkit:{inc}/A1 -->" in issue["body"]
    item = kit.reviews.get(inc).item("A1")
    assert item is not None
    assert item.external_ref == ExternalRef("github", "1", "http://github.test/acme/web/issues/1")
    assert any(r.event.tag == "reviews_action_item_exported" for r in kit.timeline(inc))

    kit.reviews.set_action_status(inc, "A1", "in_progress", by="bob")
    kit.deliver()
    assert server.issues[1]["state"] == "open"
    kit.reviews.set_action_status(inc, "A1", "done", by="bob")
    kit.deliver()
    assert (server.issues[1]["state"], server.issues[1]["state_reason"]) == ("closed", "completed")
    patches = [r for r in server.requests if r[0] == "PATCH"]
    assert [p[1] for p in patches] == ["/repos/acme/web/issues/1"] * 2
    assert len(server.issues) == 1


def test_github_tracker_is_idempotent_by_key_when_the_reply_is_lost(
    github: tuple[Issues, str],
) -> None:
    server, url = github
    kit, inc = _kit(GitHubIssuesTracker("acme/web", token="s3cret", api_url=url))
    server.lose_next_create_reply = True
    _add(kit, inc, "Implement connection pool auto-scaling", "P1")
    first = kit.deliver()
    assert (first.delivered, first.retried) == (0, 1)
    assert len(server.issues) == 1  # created, but the reply was lost
    _later(kit, 60)
    assert kit.deliver().delivered == 1
    assert len(server.issues) == 1  # found by its key marker, not created twice
    item = kit.reviews.get(inc).item("A1")
    assert item is not None and item.external_ref is not None and item.external_ref.key == "1"
    _later(kit, 60)
    assert kit.deliver().claimed == 0  # nothing left over
    exported = [r for r in kit.timeline(inc) if r.event.tag == "reviews_action_item_exported"]
    assert len(exported) == 1


def test_github_tracker_refusal_is_permanent(github: tuple[Issues, str]) -> None:
    server, url = github
    kit, inc = _kit(GitHubIssuesTracker("acme/web", token="wrong", api_url=url))
    _add(kit, inc, "Add load tests for new features", "P1")
    report = kit.deliver()
    assert (report.delivered, report.dead) == (0, 1)
    assert server.issues == {}
    item = kit.reviews.get(inc).item("A1")
    assert item is not None and item.external_ref is None


def test_json_file_tracker_create_update_and_reference(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    kit, inc = _kit(JsonFileTracker(path))
    _add(kit, inc, "Add connection pool metrics to dashboard")
    _add(kit, inc, "Document connection pool tuning", "P2")
    kit.deliver()
    data = json.loads(path.read_text())
    assert sorted(data) == [f"{inc}/A1", f"{inc}/A2"]
    assert data[f"{inc}/A1"]["status"] == "open" and data[f"{inc}/A2"]["priority"] == "P2"
    review = kit.reviews.get(inc)
    refs = [i.external_ref for i in review.items]
    assert [r.key for r in refs if r is not None] == ["1", "2"]
    assert all(r is not None and r.url.startswith("file://") for r in refs)
    kit.reviews.set_action_status(inc, "A2", "wont_do", reason="runbook covers it", by="bob")
    kit.deliver()
    data = json.loads(path.read_text())
    assert (data[f"{inc}/A2"]["status"], data[f"{inc}/A2"]["reason"]) == (
        "wont_do",
        "runbook covers it",
    )
    again = JsonFileTracker(path).create(review.items[0], inc, f"{inc}/A1")
    assert again.key == "1" and len(json.loads(path.read_text())) == 2


def test_ical_invite_parses_back() -> None:
    icalendar = pytest.importorskip("icalendar")
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), autoload_plugins=False)
    inc = kit.declare("Login API returning 500 errors", severity=Severity.SEV1, by="alice")
    kit.assign_role(inc.id, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.assign_role(inc.id, ik.Role.TECHNICAL_LEAD, "bob", by="alice")
    kit.resolve(inc.id, by="alice", force=True, reason="test")
    with pytest.raises(ik.NotFound, match="meeting"):
        kit.reviews.ical(inc.id)
    meeting = datetime(2024, 11, 22, 17, 0, tzinfo=UTC)
    kit.reviews.schedule(inc.id, meeting, by="alice", extra=["erin"])
    text = kit.reviews.ical(inc.id)
    assert text == kit.reviews.ical(inc.id)
    calendar = icalendar.Calendar.from_ical(text)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert event.decoded("dtstart") == meeting
    assert event.decoded("duration") == timedelta(hours=1)
    assert str(event["uid"]) == f"review-{inc.id}@incidentkit"
    assert str(event["summary"]) == f"Post-incident review: {inc.id} Login API returning 500 errors"
    attendees = event["attendee"]
    assert [str(a) for a in attendees] == ["MAILTO:alice", "MAILTO:bob", "MAILTO:erin"]
