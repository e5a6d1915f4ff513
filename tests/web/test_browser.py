"""The dashboard in headless Chromium (Debian's package, driven by Playwright).

The browser is ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run``
installs it). Without it these tests skip with the reason, except under CI
(``CI=true``), where a missing browser fails.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import incidentkit as ik
import incidentkit.web

from ._helpers import RESOLUTION, make_kit

CHROMIUM = os.environ.get("INCIDENTKIT_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = os.environ.get("INCIDENTKIT_WEB_SCREENSHOTS", "")

pytestmark = pytest.mark.slow


def _require_browser() -> None:
    if Path(CHROMIUM).is_file():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run must install Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); not in CI, so skipped")


class LiveServer:
    def __init__(self, kit: ik.IncidentKit, asgi: Any = None, **options: Any) -> None:
        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        web = asgi or incidentkit.web.app(kit, authorize=incidentkit.web.allow_all, **options)
        self.server = uvicorn.Server(
            uvicorn.Config(
                web, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()


@pytest.fixture
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class Console:
    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda err: self.errors.append(str(err)))


A11Y = "\n".join(
    line
    for line in (Path(__file__).parent / "a11y.js").read_text(encoding="utf-8").splitlines()
    if not line.startswith("//")
)


def submit(page: Any, selector: str) -> None:
    """Click ``selector`` and wait for the page the form leads to (a 303 to the incident)."""
    with page.expect_navigation():
        page.click(selector)
    assert page.query_selector("p.alert") is None, page.inner_text("p.alert")


def check_page(page: Any) -> None:
    assert page.evaluate(A11Y) == []


def test_the_login_incident_walks_to_resolved_in_a_browser(browser: Any) -> None:
    kit = make_kit()
    with LiveServer(kit, actor=lambda request: "alice", refresh_seconds=1) as base:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        console = Console(page)
        page.goto(base + "/")
        check_page(page)
        page.fill("#d-title", "Login API returning 500 errors")
        page.select_option("#d-severity", "SEV1")
        page.fill("#d-services", "login-api")
        submit(page, "button:has-text('Declare')")
        page.wait_for_selector("h1:has-text('Login API returning 500 errors')")
        iid = page.url.rsplit("/", 1)[1]
        check_page(page)
        submit(page, "button:has-text('Acknowledge')")
        page.select_option("#r-role", "incident_commander")
        page.fill("#r-person", "alice")
        submit(page, "button:has-text('Assign')")
        page.select_option("#r-role", "technical_lead")
        page.fill("#r-person", "bob")
        submit(page, "button:has-text('Assign')")
        # keyboard only: type the note and submit it with Enter on the button
        page.focus("#n-text")
        page.keyboard.type("Checking dashboards... seeing 15% error rate")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.wait_for_selector("text=seeing 15% error rate")
        page.select_option("#u-status", "identified")
        page.fill(
            "#u-message",
            "We have identified the root cause as database connection pool exhaustion.",
        )
        submit(page, "button:has-text('Post update')")
        page.wait_for_selector("text=connection pool exhaustion")
        for item in RESOLUTION:
            text = kit.policy.checklist("resolution").item(item).text
            submit(page, f"button[aria-label='Check: {text}']")
        page.fill("#s-summary", "Connection pool size raised from 10 to 20")
        if SCREENSHOTS:
            page.screenshot(path=str(Path(SCREENSHOTS) / "web-incident.png"), full_page=True)
        submit(page, "button:has-text('Resolve')")
        page.wait_for_selector(".status-resolved")
        check_page(page)
        assert page.is_visible("text=Hash chain verified")
        page.goto(base + "/metrics")
        check_page(page)
        page.goto(base + "/oncall")
        check_page(page)
        assert console.errors == []
    state = kit.get(iid)
    assert state.status is ik.Status.RESOLVED
    assert state.roles == {"incident_commander": "alice", "technical_lead": "bob"}
    assert state.resolution_summary == "Connection pool size raised from 10 to 20"


def test_the_accessibility_rules_catch_what_they_look_for(browser: Any) -> None:
    page = browser.new_page()
    page.set_content(
        '<html><body><div><h1>a</h1><h1>b</h1><input name="x">'
        '<p style="color:#bbb">faint</p><button></button></div></body></html>'
    )
    found = " | ".join(page.evaluate(A11Y))
    for problem in (
        "main landmark",
        "banner",
        "labelled navigation",
        "lang",
        "one h1",
        "unlabelled INPUT x",
        "button without a name",
        "contrast",
    ):
        assert problem in found, problem


def test_an_open_incident_refreshes_itself(browser: Any) -> None:
    kit = make_kit()
    iid = kit.declare("Checkout slow", severity="SEV2", by="alice").id
    with LiveServer(kit, refresh_seconds=1) as base:
        page = browser.new_page()
        console = Console(page)
        page.goto(f"{base}/incidents/{iid}")
        kit.add_note(iid, "note written elsewhere", by="bob")
        page.wait_for_selector("text=note written elsewhere")
        assert console.errors == []


def test_reading_works_without_javascript_and_on_a_phone(browser: Any) -> None:
    kit = make_kit()
    iid = kit.declare("Login API returning 500 errors", severity="SEV1", by="alice").id
    with LiveServer(kit) as base:
        context = browser.new_context(
            java_script_enabled=False, viewport={"width": 375, "height": 700}
        )
        page = context.new_page()
        page.goto(f"{base}/incidents/{iid}")
        assert page.is_visible("text=Incident declared")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375
        if SCREENSHOTS:
            page.screenshot(path=str(Path(SCREENSHOTS) / "web-incident-phone.png"), full_page=False)
        context.close()


def test_a_major_outage_declared_on_the_dashboard_shows_on_the_status_page(browser: Any) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from .test_public import status_kit

    kit = status_kit()
    host = Starlette(
        routes=[
            Mount("/status", app=incidentkit.web.public_app(kit)),
            Mount(
                "",
                app=incidentkit.web.app(
                    kit, authorize=incidentkit.web.allow_all, actor=lambda request: "alice"
                ),
            ),
        ]
    )
    with LiveServer(kit, host) as base:
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        console = Console(page)
        page.goto(base + "/status/")
        assert page.is_visible("text=All Systems Operational")
        check_page(page)
        page.goto(base + "/")
        page.fill("#d-title", "API returning 500 errors")
        page.select_option("#d-severity", "SEV1")
        submit(page, "button:has-text('Declare')")
        iid = page.url.rsplit("/", 1)[1]
        kit.status.post(
            iid,
            "investigating",
            "Users may experience login failures",
            "We are investigating reports of login failures affecting all users.",
            by="charlie",
            components={"login": "major_outage", "api": "major_outage", "billing": "major_outage"},
        )
        assert isinstance(kit.clock, ik.ManualClock)
        kit.clock.advance(timedelta(minutes=20))  # 20 min of it on today's uptime bar
        page.goto(base + "/status/")
        page.reload()
        assert page.is_visible("text=Major System Outage")
        assert page.is_visible("text=Users may experience login failures")
        check_page(page)
        if SCREENSHOTS:
            page.screenshot(path=str(Path(SCREENSHOTS) / "web-status.png"), full_page=True)
        with page.expect_navigation():  # the incident's own page
            page.click("main a:has-text('API returning 500 errors')")
        page.wait_for_selector("h1:has-text('API returning 500 errors')")
        check_page(page)
        page.goto(base + "/status/history")
        check_page(page)
        assert console.errors == []
