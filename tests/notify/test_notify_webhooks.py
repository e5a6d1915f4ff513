"""The signed webhook and the Slack notifier against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from incidentkit.clock import ManualClock
from incidentkit.errors import PermanentFailure, SignatureInvalid, ValidationError
from incidentkit.notify import (
    IncidentRef,
    NotificationKind,
    SlackWebhookNotifier,
    TransientFailure,
    VerifiedWebhook,
    WebhookNotifier,
    verify_webhook,
)
from incidentkit.serialization import make_converter
from incidentkit.testing import SAMPLE_TIME, sample_notification
from incidentkit.testing.notifier_contract import NotifierContract

from .http_receiver import Received, Receiver, Reply

T0 = SAMPLE_TIME
SECRET = "s3cret-signing-key"


# -- webhook: the happy path and the signature ----------------------------------------------------


def test_posts_the_notification_as_canonical_json(receiver: Receiver, clock: ManualClock) -> None:
    note = sample_notification()
    WebhookNotifier(receiver.url, secret=SECRET, clock=clock).deliver(note)
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hook"
    assert json.loads(request.body) == make_converter().unstructure(note)
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["Idempotency-Key"] == note.key
    assert request.headers["X-Incidentkit-Timestamp"] == str(int(T0.timestamp()))


def _verify(request: Received, now: datetime, **kwargs: object) -> VerifiedWebhook:
    return verify_webhook(request.headers, request.body, secret=SECRET, now=now, **kwargs)  # type: ignore[arg-type]


def test_the_signature_verifies_on_the_receiving_side(
    receiver: Receiver, clock: ManualClock
) -> None:
    note = sample_notification()
    WebhookNotifier(receiver.url, secret=SECRET, clock=clock).deliver(note)
    [request] = receiver.requests
    signature = request.headers["X-Incidentkit-Signature"]
    assert signature.startswith("v1=") and len(signature) == len("v1=") + 64
    assert request.headers["X-Incidentkit-Event"] == note.kind.value
    verified = _verify(request, T0 + timedelta(seconds=3))
    assert verified == VerifiedWebhook(note.key, note.kind.value, T0, request.body)


def test_a_replayed_request_is_rejected(receiver: Receiver, clock: ManualClock) -> None:
    WebhookNotifier(receiver.url, secret=SECRET, clock=clock).deliver(sample_notification())
    [request] = receiver.requests
    with pytest.raises(SignatureInvalid) as caught:
        _verify(request, T0 + timedelta(minutes=6))
    assert caught.value.field == "X-Incidentkit-Timestamp"
    assert "replayed" in caught.value.reason
    # a timestamp from the future is refused too
    with pytest.raises(SignatureInvalid):
        _verify(request, T0 - timedelta(minutes=6))
    # a custom tolerance widens the window
    _verify(request, T0 + timedelta(minutes=6), tolerance=timedelta(minutes=10))


def test_a_tampered_body_or_forged_header_is_rejected(
    receiver: Receiver, clock: ManualClock
) -> None:
    WebhookNotifier(receiver.url, secret=SECRET, clock=clock).deliver(sample_notification())
    [request] = receiver.requests
    ts = request.headers["X-Incidentkit-Timestamp"]
    tampered = request.body.replace(b"SEV1", b"SEV4")
    for body, changes, secret in [
        (tampered, {}, SECRET),
        (request.body, {"X-Incidentkit-Timestamp": str(int(ts) + 1)}, SECRET),
        (request.body, {"Idempotency-Key": "INC-1:1:other"}, SECRET),
        (request.body, {"X-Incidentkit-Event": "resolved"}, SECRET),
        (request.body, {}, "another-secret"),
        (request.body, {"X-Incidentkit-Signature": "v1=" + "0" * 64}, SECRET),
    ]:
        with pytest.raises(SignatureInvalid) as caught:
            verify_webhook({**request.headers, **changes}, body, secret=secret, now=T0)
        assert caught.value.field == "X-Incidentkit-Signature"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Incidentkit-Timestamp", "yesterday"),
        ("X-Incidentkit-Timestamp", ""),
        ("X-Incidentkit-Signature", "sha256=" + "0" * 64),
        ("X-Incidentkit-Signature", "v1=00"),
        ("X-Incidentkit-Signature", ""),
        ("Idempotency-Key", ""),
        ("X-Incidentkit-Event", "page page"),
    ],
)
def test_malformed_headers_are_rejected(header: str, value: str) -> None:
    headers = {
        "X-Incidentkit-Timestamp": "1732141800",
        "Idempotency-Key": "INC-1:1:page",
        "X-Incidentkit-Event": "page",
        "X-Incidentkit-Signature": "v1=" + "0" * 64,
        header: value,
    }
    with pytest.raises(SignatureInvalid) as caught:
        verify_webhook(headers, b"{}", secret=SECRET, now=T0)
    assert caught.value.field == header


def test_verify_refuses_a_naive_now() -> None:
    with pytest.raises(ValidationError) as caught:
        verify_webhook({}, b"", secret=SECRET, now=datetime(2024, 1, 1))
    assert caught.value.field == "now"


def test_without_a_secret_there_is_no_signature_header(
    receiver: Receiver, clock: ManualClock
) -> None:
    WebhookNotifier(receiver.url, clock=clock).deliver(sample_notification())
    [request] = receiver.requests
    assert "X-Incidentkit-Signature" not in request.headers
    assert request.headers["Idempotency-Key"] == "INC-1:1:page"


# -- webhook: failures ----------------------------------------------------------------------------


def test_429_with_retry_after_then_success(receiver: Receiver, clock: ManualClock) -> None:
    receiver.reply(Reply(429, (("Retry-After", "7"),), b"slow down"))
    hook = WebhookNotifier(receiver.url, secret=SECRET, clock=clock)
    note = sample_notification()
    with pytest.raises(TransientFailure) as caught:
        hook.deliver(note)
    assert caught.value.status == 429
    assert caught.value.retry_after == timedelta(seconds=7)
    assert "slow down" in str(caught.value)
    hook.deliver(note)
    assert receiver.keys == [note.key, note.key]  # the same key on the retry


def test_retry_after_as_an_http_date(receiver: Receiver, clock: ManualClock) -> None:
    receiver.reply(Reply(503, (("Retry-After", "Wed, 20 Nov 2024 22:32:00 GMT"),)))
    with pytest.raises(TransientFailure) as caught:
        WebhookNotifier(receiver.url, clock=clock).deliver(sample_notification())
    assert caught.value.retry_after == timedelta(minutes=2)


def test_500_is_retryable(receiver: Receiver, clock: ManualClock) -> None:
    receiver.reply(Reply(500, body=b"internal error"))
    with pytest.raises(TransientFailure) as caught:
        WebhookNotifier(receiver.url, clock=clock).deliver(sample_notification())
    assert caught.value.status == 500
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_other_4xx_are_permanent(receiver: Receiver, clock: ManualClock, status: int) -> None:
    receiver.reply(Reply(status, body=b"bad payload"))
    with pytest.raises(PermanentFailure, match=f"HTTP {status}: bad payload"):
        WebhookNotifier(receiver.url, clock=clock).deliver(sample_notification())


def test_a_redirect_is_not_followed(receiver: Receiver, clock: ManualClock) -> None:
    receiver.reply(Reply(302, (("Location", receiver.url + "/elsewhere"),)))
    with pytest.raises(PermanentFailure, match="HTTP 302"):
        WebhookNotifier(receiver.url, clock=clock).deliver(sample_notification())
    assert len(receiver.requests) == 1  # urllib did not re-send it as a GET


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_retryable(clock: ManualClock) -> None:
    hook = WebhookNotifier(f"http://127.0.0.1:{_closed_port()}/", clock=clock)
    with pytest.raises(TransientFailure, match="unreachable"):
        hook.deliver(sample_notification())


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections (through the backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    sock.close()


def test_a_silent_server_times_out_as_retryable(silent_server: str, clock: ManualClock) -> None:
    hook = WebhookNotifier(silent_server, timeout=timedelta(milliseconds=200), clock=clock)
    with pytest.raises(TransientFailure):
        hook.deliver(sample_notification())


# -- webhook: configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "/relative"}, "url"),
        ({"url": ""}, "url"),
        ({"url": "https://x.example", "secret": ""}, "secret"),
        ({"url": "https://x.example", "name": ""}, "name"),
        ({"url": "https://x.example", "name": " padded "}, "name"),
        ({"url": "https://x.example", "kinds": ["page", "fax"]}, "kinds"),
        ({"url": "https://x.example", "kinds": "page"}, "kinds"),
        ({"url": "https://x.example", "timeout": timedelta(0)}, "timeout"),
        ({"url": "https://x.example", "max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookNotifier(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_kinds_limit_what_the_spec_wants() -> None:
    hook = WebhookNotifier("https://x.example", kinds=["page", "resolved"])
    [spec] = hook.incidentkit_notifiers()
    assert spec.kinds == {NotificationKind.PAGE, NotificationKind.RESOLVED}
    assert spec.wants(NotificationKind.PAGE)
    assert not spec.wants(NotificationKind.TICKET)


# -- Slack ---------------------------------------------------------------------------------------


def _slack_request(receiver: Receiver) -> dict[str, object]:
    [request] = receiver.requests
    payload = json.loads(request.body)
    assert isinstance(payload, dict)
    return payload


def test_slack_payload_has_header_fields_and_context(receiver: Receiver) -> None:
    slack = SlackWebhookNotifier(receiver.url, link_template="https://inc.example.com/{id}")
    note = sample_notification()
    slack.deliver(note)
    payload = _slack_request(receiver)
    blocks = payload["blocks"]
    assert isinstance(blocks, list)
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context"]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": "[SEV1] INC-1 API returning 500 errors",
        "emoji": True,
    }
    # Slack's mrkdwn control characters are escaped
    assert "&lt;&amp;&gt;" in blocks[1]["text"]["text"]
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert fields == [
        "*Severity*\nSEV1",
        "*Status*\ndeclared",
        "*Incident commander*\nalice",
        "*Channel*\n#incident-2024-11-20-api-500s",
        "*When*\n2024-11-20 22:30 UTC",
        "*Paged*\nalice",
        "*Link*\n<https://inc.example.com/INC-1|INC-1>",
    ]
    assert note.key in blocks[3]["elements"][0]["text"]
    assert str(payload["text"]).startswith("[SEV1] INC-1 API returning 500 errors: ")


def test_slack_prefers_the_incident_url_and_clips_long_titles(receiver: Receiver) -> None:
    note = sample_notification()
    incident = IncidentRef(
        "INC-2", "x" * 400, note.incident.severity, note.incident.status, url="https://u.example/2"
    )
    from attrs import evolve

    SlackWebhookNotifier(receiver.url, link_template="https://t.example/{id}").deliver(
        evolve(note, incident=incident)
    )
    blocks = _slack_request(receiver)["blocks"]
    assert isinstance(blocks, list)
    assert len(blocks[0]["text"]["text"]) == 150
    assert blocks[2]["fields"][-1]["text"] == "*Link*\n<https://u.example/2|INC-2>"
    assert blocks[2]["fields"][2]["text"] == "*Incident commander*\nunassigned"


def test_slack_without_a_link_has_no_link_field(receiver: Receiver) -> None:
    SlackWebhookNotifier(receiver.url).deliver(sample_notification())
    blocks = _slack_request(receiver)["blocks"]
    assert isinstance(blocks, list)
    labels = [f["text"].split("\n")[0] for f in blocks[2]["fields"]]
    assert labels == [
        "*Severity*",
        "*Status*",
        "*Incident commander*",
        "*Channel*",
        "*When*",
        "*Paged*",
    ]


def test_slack_429_then_success_and_permanent_400(receiver: Receiver) -> None:
    receiver.reply(
        Reply(429, (("Retry-After", "30"),), b"rate_limited"),
        Reply(200, body=b"ok"),
        Reply(400, body=b"invalid_payload"),
        Reply(500, body=b"rollup_error"),
    )
    slack = SlackWebhookNotifier(receiver.url)
    with pytest.raises(TransientFailure) as caught:
        slack.deliver(sample_notification())
    assert caught.value.retry_after == timedelta(seconds=30)
    slack.deliver(sample_notification())
    with pytest.raises(PermanentFailure, match="invalid_payload"):
        slack.deliver(sample_notification())
    with pytest.raises(TransientFailure, match="rollup_error"):
        slack.deliver(sample_notification())


@pytest.mark.parametrize("template", ["https://x.example/{nope}", "not a url {id}", "{0}"])
def test_slack_refuses_a_bad_link_template(template: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SlackWebhookNotifier("https://hooks.example.com/x", link_template=template)
    assert caught.value.field == "link_template"


# -- the contract, against the real receiver -----------------------------------------------------


class TestWebhookContract(NotifierContract):
    @pytest.fixture
    def notifier_plugin(self, receiver: Receiver) -> WebhookNotifier:
        return WebhookNotifier(receiver.url, secret=SECRET)

    @pytest.fixture
    def observed_keys(self, receiver: Receiver) -> object:
        return lambda: receiver.keys


class TestWebhookContractWhenTheReceiverRefuses(NotifierContract):
    @pytest.fixture
    def notifier_plugin(self, receiver: Receiver) -> WebhookNotifier:
        receiver.reply(*[Reply(403, body=b"forbidden")] * 50)
        return WebhookNotifier(receiver.url, name="refused")


class TestSlackContract(NotifierContract):
    @pytest.fixture
    def notifier_plugin(self, receiver: Receiver) -> SlackWebhookNotifier:
        return SlackWebhookNotifier(receiver.url, kinds=["page", "resolved"])
