"""The Slack channel opener against a local server imitating Slack's Web API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import incidentkit as ik
from incidentkit.errors import PermanentFailure, TransientFailure, ValidationError
from incidentkit.events import ChannelOpened
from incidentkit.testing import SAMPLE_TIME
from incidentkit.web.slack_channels import SlackChannelOpener, slack_channel_name, slack_topic

TOKEN = "xoxb-test-token"


class FakeSlack:
    """Channels by name, a call log, and errors to answer per method."""

    def __init__(self) -> None:
        self.channels: dict[str, dict[str, Any]] = {}
        self.topics: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, str] = {}  # method -> Slack error
        self.ratelimit: dict[str, str] = {}  # method -> Retry-After
        self.page = 1  # channels per conversations.list page

    def answer(self, method: str, auth: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append((method, params))
        if method in self.ratelimit:
            return 429, {"ok": False, "error": "ratelimited"}
        if auth != f"Bearer {TOKEN}":
            return 200, {"ok": False, "error": "invalid_auth"}
        if method in self.fail:
            return 200, {"ok": False, "error": self.fail[method]}
        if method == "conversations.create":
            name = params["name"]
            if name in self.channels:
                return 200, {"ok": False, "error": "name_taken"}
            channel = {"id": f"C{len(self.channels) + 100}", "name": name}
            self.channels[name] = channel
            return 200, {"ok": True, "channel": channel}
        if method == "conversations.setTopic":
            self.topics[params["channel"]] = params["topic"]
            return 200, {"ok": True}
        if method == "conversations.invite":
            users = set(params["users"].split(","))
            have = self.members.setdefault(params["channel"], set())
            if users <= have:
                return 200, {"ok": False, "error": "already_in_channel"}
            have |= users
            return 200, {"ok": True}
        if method == "conversations.list":
            every = list(self.channels.values())
            start = int(params.get("cursor") or 0)
            page = every[start : start + self.page]
            nxt = str(start + self.page) if start + self.page < len(every) else ""
            return 200, {"ok": True, "channels": page, "response_metadata": {"next_cursor": nxt}}
        return 404, {"ok": False, "error": "unknown_method"}


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, str]]:
    fake = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            params = json.loads(self.rfile.read(length) or b"{}")
            method = self.path.rsplit("/", 1)[-1]
            status, body = fake.answer(method, self.headers.get("Authorization", ""), params)
            data = json.dumps(body).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", fake.ratelimit[method])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def incident() -> ik.Incident:
    kit = ik.IncidentKit.open(
        "memory://", clock=ik.ManualClock(SAMPLE_TIME), autoload_plugins=False
    )
    return kit.declare("Login API returning 500 errors", severity="SEV1", by="alice")


def opener(url: str, **kwargs: Any) -> SlackChannelOpener:
    return SlackChannelOpener(TOKEN, api_url=url, clock=lambda: SAMPLE_TIME, **kwargs)


def test_creates_the_channel_sets_the_topic_and_invites(
    slack: tuple[FakeSlack, str], incident: ik.Incident
) -> None:
    fake, url = slack
    reference = opener(url, invite=["U01", "W02"]).incidentkit_open_channel(incident)
    name = incident.channel.lstrip("#")
    assert reference == incident.channel == f"#{name}"
    channel_id = fake.channels[name]["id"]
    assert fake.topics[channel_id] == f"{incident.id} [SEV1] Login API returning 500 errors"
    assert fake.members[channel_id] == {"U01", "W02"}
    assert [m for m, _ in fake.calls] == [
        "conversations.create",
        "conversations.setTopic",
        "conversations.invite",
    ]
    assert fake.calls[0][1] == {"name": name, "is_private": False}


def test_name_taken_finds_the_existing_channel_across_pages(
    slack: tuple[FakeSlack, str], incident: ik.Incident
) -> None:
    fake, url = slack
    fake.channels["general"] = {"id": "C1", "name": "general"}
    fake.channels["random"] = {"id": "C2", "name": "random"}
    plugin = opener(url, invite=["U01"])
    first = plugin.incidentkit_open_channel(incident)
    fake.calls.clear()
    again = plugin.incidentkit_open_channel(incident)  # a retried delivery
    assert again == first
    assert len(fake.channels) == 3
    methods = [m for m, _ in fake.calls]
    assert methods[0] == "conversations.create"
    assert methods.count("conversations.list") == 3  # one channel per page, third is ours
    assert methods[-1] == "conversations.invite"  # already_in_channel is fine


def test_name_taken_but_not_listed_is_permanent(
    slack: tuple[FakeSlack, str], incident: ik.Incident
) -> None:
    fake, url = slack
    fake.fail["conversations.create"] = "name_taken"
    with pytest.raises(PermanentFailure, match="taken"):
        opener(url).incidentkit_open_channel(incident)


def test_ratelimited_is_transient_with_retry_after(
    slack: tuple[FakeSlack, str], incident: ik.Incident
) -> None:
    fake, url = slack
    fake.ratelimit["conversations.create"] = "30"
    with pytest.raises(TransientFailure) as info:
        opener(url).incidentkit_open_channel(incident)
    assert info.value.retry_after == timedelta(seconds=30)
    assert info.value.status == 429


def test_invalid_auth_is_permanent(slack: tuple[FakeSlack, str], incident: ik.Incident) -> None:
    fake, url = slack
    plugin = SlackChannelOpener("xoxb-wrong", api_url=url)
    with pytest.raises(PermanentFailure, match="invalid_auth"):
        plugin.incidentkit_open_channel(incident)
    assert fake.channels == {}


@pytest.mark.parametrize(
    ("method", "error", "kind"),
    [
        ("conversations.setTopic", "missing_scope", PermanentFailure),
        ("conversations.invite", "user_not_found", PermanentFailure),
        ("conversations.create", "internal_error", TransientFailure),
        ("conversations.create", "service_unavailable", TransientFailure),
    ],
)
def test_slack_errors_are_classified(
    slack: tuple[FakeSlack, str],
    incident: ik.Incident,
    method: str,
    error: str,
    kind: type[Exception],
) -> None:
    fake, url = slack
    fake.fail[method] = error
    with pytest.raises(kind, match=error):
        opener(url, invite=["U01"]).incidentkit_open_channel(incident)


def test_unreachable_slack_is_transient(incident: ik.Incident) -> None:
    plugin = opener("http://127.0.0.1:9/api/", timeout=timedelta(seconds=2))
    with pytest.raises(TransientFailure, match="unreachable"):
        plugin.incidentkit_open_channel(incident)


def test_delivery_records_the_slack_channel(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    kit = ik.IncidentKit.open(
        "memory://", clock=ik.ManualClock(SAMPLE_TIME), autoload_plugins=False
    )
    kit.plugins.register(opener(url))
    inc = kit.declare("Checkout slow", severity="SEV2", by="alice")
    assert kit.deliver().delivered >= 1
    opened = [r.event for r in kit.timeline(inc.id) if isinstance(r.event, ChannelOpened)]
    assert opened == [ChannelOpened(by="incidentkit", channel=inc.channel)]
    assert inc.channel.lstrip("#") in fake.channels


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"token": ""}, "token"),
        ({"token": "xoxb bad"}, "token"),
        ({"invite": "U01"}, "invite"),
        ({"invite": ["U01", "alice"]}, "invite[1]"),
        ({"private": "yes"}, "private"),
        ({"api_url": "ftp://slack.com/api/"}, "api_url"),
        ({"timeout": timedelta(0)}, "timeout"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    settings: dict[str, Any] = {"token": TOKEN, **kwargs}
    with pytest.raises(ValidationError) as info:
        SlackChannelOpener(**settings)
    assert info.value.field == field


def test_the_token_is_not_in_the_repr() -> None:
    assert TOKEN not in repr(SlackChannelOpener(TOKEN))


@pytest.mark.parametrize(
    ("channel", "name"),
    [
        ("#incident-2024-11-20-api", "incident-2024-11-20-api"),
        ("#Incident--Big  Outage!!", "incident-big-outage"),
        ("#" + "a" * 100, "a" * 80),
        ("#zürich-down", "zürich-down"),
    ],
)
def test_channel_names_follow_slack_rules(channel: str, name: str) -> None:
    assert slack_channel_name(channel) == name


def test_an_unusable_channel_name_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        slack_channel_name("#!!!")
    assert info.value.field == "channel"


def test_the_topic_is_cut_to_slacks_limit(incident: ik.Incident) -> None:
    import attrs

    long = attrs.evolve(incident, title="x" * 400)
    topic = slack_topic(long)
    assert len(topic) == 250 and topic.endswith("…")
