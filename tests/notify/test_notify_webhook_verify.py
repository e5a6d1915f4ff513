"""The receiver side of the signed webhook: a real HTTP server on 127.0.0.1 that verifies.

The server answers 200 for a verified request, 400 for :class:`SignatureInvalid`
and 500 for anything else, so "never a 500" is checked the way a host sees it.
Captured requests are replayed byte for byte with ``http.client``, which lets
the tests choose header case, duplicates and hostile values.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import urllib.parse
from collections.abc import Iterator, Sequence
from datetime import timedelta
from email.message import Message

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentkit.clock import ManualClock
from incidentkit.errors import SignatureInvalid
from incidentkit.notify import (
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    sign,
    signed_payload,
    verify_webhook,
)
from incidentkit.testing import SAMPLE_TIME, sample_notification

from .http_receiver import Received, Receiver, Reply

T0 = SAMPLE_TIME
SECRET = "whsec-receiver-side"
SIGNED = (TIMESTAMP_HEADER, IDEMPOTENCY_HEADER, EVENT_HEADER, SIGNATURE_HEADER)


@pytest.fixture
def verifying(clock: ManualClock) -> Iterator[Receiver]:
    """A receiver that checks every request with ``verify_webhook`` as a host would."""

    def check(headers: Message, body: bytes) -> Reply:
        try:
            verified = verify_webhook(headers, body, secret=SECRET, now=clock.now())
        except SignatureInvalid as err:
            return Reply(400, body=f"{err.field}|{err.reason}".encode())
        except Exception as err:  # a host would answer 500: the tests fail on it
            return Reply(500, body=repr(err).encode())
        return Reply(200, body=verified.key.encode())

    server = Receiver(check)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def send(url: str, headers: Sequence[tuple[str, str]], body: bytes) -> tuple[int, str]:
    """POST ``body`` with exactly these header lines (case and duplicates kept)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("POST", parts.path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def captured(receiver: Receiver, clock: ManualClock) -> Received:
    """Deliver one notification through the real notifier; return the request as received."""
    WebhookNotifier(receiver.url, secret=SECRET, clock=clock).deliver(sample_notification())
    return receiver.requests[-1]


def lines(request: Received, **changes: str) -> list[tuple[str, str]]:
    """The captured request's header lines, with some values replaced (by header name)."""
    wanted = {name.lower(): value for name, value in changes.items()}
    return [
        (name, wanted.get(name.lower().replace("-", "_"), value))
        for name, value in request.headers.items()
        if name.lower() not in ("content-length", "host", "accept-encoding", "connection")
    ]


def test_the_notifier_is_accepted_by_the_verifying_receiver(
    verifying: Receiver, clock: ManualClock
) -> None:
    request = captured(verifying, clock)
    assert {h.lower() for h in request.headers} >= {h.lower() for h in SIGNED}
    status, text = send(verifying.url, lines(request), request.body)
    assert (status, text) == (200, sample_notification().key)


def test_a_replay_with_a_new_idempotency_key_is_refused(
    verifying: Receiver, clock: ManualClock
) -> None:
    request = captured(verifying, clock)
    status, text = send(
        verifying.url, lines(request, idempotency_key="INC-1:1:page-again"), request.body
    )
    assert (status, text) == (400, "X-Incidentkit-Signature|does not match")


def test_a_replay_with_another_event_kind_is_refused(
    verifying: Receiver, clock: ManualClock
) -> None:
    request = captured(verifying, clock)
    status, text = send(verifying.url, lines(request, x_incidentkit_event="resolved"), request.body)
    assert (status, text) == (400, "X-Incidentkit-Signature|does not match")


def test_a_replay_outside_the_window_is_refused(verifying: Receiver, clock: ManualClock) -> None:
    request = captured(verifying, clock)
    clock.advance(timedelta(minutes=5, seconds=1))
    status, text = send(verifying.url, lines(request), request.body)
    assert status == 400
    assert text.startswith("X-Incidentkit-Timestamp|") and "replayed" in text


def test_an_identical_replay_inside_the_window_carries_the_same_key(
    verifying: Receiver, clock: ManualClock
) -> None:
    request = captured(verifying, clock)
    clock.advance(timedelta(minutes=4))
    first = send(verifying.url, lines(request), request.body)
    again = send(verifying.url, lines(request), request.body)
    assert first == again == (200, request.headers["Idempotency-Key"])  # dedupe on this key


@pytest.mark.parametrize("case", [str.lower, str.upper, str.swapcase])
def test_header_names_match_in_any_case(
    verifying: Receiver, clock: ManualClock, case: object
) -> None:
    request = captured(verifying, clock)
    recased = [(case(name), value) for name, value in lines(request)]  # type: ignore[operator]
    assert send(verifying.url, recased, request.body)[0] == 200
    # and in-process with a plain dict of other-cased names
    verify_webhook(dict(recased), request.body, secret=SECRET, now=T0)


@pytest.mark.parametrize(
    "reencode",
    [
        lambda data: json.dumps(data),
        lambda data: json.dumps(data, indent=2),
        lambda data: (
            json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=True) + "\n"
        ),
    ],
)
def test_a_re_encoded_body_is_refused(
    verifying: Receiver, clock: ManualClock, reencode: object
) -> None:
    request = captured(verifying, clock)
    body = reencode(json.loads(request.body)).encode()  # type: ignore[operator]
    assert body != request.body and json.loads(body) == json.loads(request.body)
    assert send(verifying.url, lines(request), body) == (
        400,
        "X-Incidentkit-Signature|does not match",
    )


@pytest.mark.parametrize(
    "stamp",
    ["²", "9" * 5000, str(10**20), "-1", "-1732141800", "", "   ", "\t", "1e9", "0x10", "+17"],
)
def test_hostile_timestamps_get_a_400(verifying: Receiver, clock: ManualClock, stamp: str) -> None:
    request = captured(verifying, clock)
    status, text = send(verifying.url, lines(request, x_incidentkit_timestamp=stamp), request.body)
    assert status == 400, text
    assert text.startswith("X-Incidentkit-Timestamp|")


@pytest.mark.parametrize("stamp", ["١٧٣٢١٤١٨٠٠", "²", "9" * 5000, str(10**20), "-5", " ", "1.5"])
def test_hostile_timestamps_in_process(stamp: str) -> None:
    headers = {
        TIMESTAMP_HEADER: stamp,
        IDEMPOTENCY_HEADER: "k",
        EVENT_HEADER: "page",
        SIGNATURE_HEADER: "v1=" + "0" * 64,
    }
    with pytest.raises(SignatureInvalid) as caught:
        verify_webhook(headers, b"{}", secret=SECRET, now=T0)
    assert caught.value.field == TIMESTAMP_HEADER


def test_a_correctly_signed_far_future_timestamp_is_a_typed_refusal() -> None:
    """With an unbounded window, a year past 9999 is refused, not an OverflowError."""
    stamp, body = "999999999999999", b"{}"
    headers = {
        TIMESTAMP_HEADER: stamp,
        IDEMPOTENCY_HEADER: "k",
        EVENT_HEADER: "page",
        SIGNATURE_HEADER: sign(SECRET, timestamp=stamp, key="k", event="page", body=body),
    }
    with pytest.raises(SignatureInvalid) as caught:
        verify_webhook(headers, body, secret=SECRET, now=T0, tolerance=timedelta.max)
    assert caught.value.field == TIMESTAMP_HEADER


@pytest.mark.parametrize("missing", SIGNED)
def test_a_missing_header_is_refused(verifying: Receiver, clock: ManualClock, missing: str) -> None:
    request = captured(verifying, clock)
    kept = [(n, v) for n, v in lines(request) if n.lower() != missing.lower()]
    assert send(verifying.url, kept, request.body) == (400, f"{missing}|missing")


def test_a_signed_header_sent_twice_is_refused(verifying: Receiver, clock: ManualClock) -> None:
    request = captured(verifying, clock)
    doubled = [*lines(request), ("idempotency-key", "INC-1:1:other")]
    status, text = send(verifying.url, doubled, request.body)
    assert status == 400 and text.startswith("Idempotency-Key|")


def test_rotation_any_listed_v1_signature_may_match(clock: ManualClock) -> None:
    stamp, body = str(int(T0.timestamp())), b"{}"
    good = sign(SECRET, timestamp=stamp, key="k", event="page", body=body)
    headers = {
        TIMESTAMP_HEADER: stamp,
        IDEMPOTENCY_HEADER: "k",
        EVENT_HEADER: "page",
        SIGNATURE_HEADER: f"v2=abc, v1={'0' * 64}, {good}",
    }
    assert verify_webhook(headers, body, secret=SECRET, now=T0).key == "k"
    headers[SIGNATURE_HEADER] = "v2=" + good[3:]  # an unknown scheme never counts
    with pytest.raises(SignatureInvalid):
        verify_webhook(headers, body, secret=SECRET, now=T0)


def test_asgi_style_byte_pairs_are_accepted() -> None:
    stamp, body = str(int(T0.timestamp())), b"{}"
    pairs = [
        (b"x-incidentkit-timestamp", stamp.encode()),
        (b"idempotency-key", b"k"),
        (b"x-incidentkit-event", b"page"),
        (
            b"x-incidentkit-signature",
            sign(SECRET, timestamp=stamp, key="k", event="page", body=body).encode(),
        ),
    ]
    assert verify_webhook(pairs, body, secret=SECRET, now=T0).event == "page"


def test_the_signed_string_is_the_documented_one() -> None:
    stamp, body = "1732141800", b'{"a": 1}'
    assert signed_payload(stamp, "INC-1:1:page", "page", body) == (
        b"v1\n1732141800\nINC-1:1:page\npage\n" + body
    )


# -- hypothesis: arbitrary header values give acceptance or SignatureInvalid, nothing else ----

_VALUES = st.one_of(
    st.text(),
    st.text(alphabet="0123456789²³¹١٢-+ \t.eE"),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.binary(),
    st.none(),
    st.integers(),
)
_NAMES = st.sampled_from([*SIGNED, *(h.upper() for h in SIGNED), *(h.lower() for h in SIGNED)])


def _valid(stamp: str, body: bytes) -> dict[str, object]:
    return {
        TIMESTAMP_HEADER: stamp,
        IDEMPOTENCY_HEADER: "INC-1:1:page",
        EVENT_HEADER: "page",
        SIGNATURE_HEADER: sign(
            SECRET, timestamp=stamp, key="INC-1:1:page", event="page", body=body
        ),
    }


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(
    changes=st.dictionaries(st.one_of(_NAMES, st.text()), _VALUES, max_size=6),
    body=st.binary(max_size=64),
    drop=st.sets(st.sampled_from(SIGNED)),
)
def test_arbitrary_header_values_never_raise_anything_else(
    changes: dict[str, object], body: bytes, drop: set[str]
) -> None:
    headers = {k: v for k, v in _valid(str(int(T0.timestamp())), body).items() if k not in drop}
    headers.update(changes)
    try:
        verified = verify_webhook(headers, body, secret=SECRET, now=T0)  # type: ignore[arg-type]
    except SignatureInvalid as err:
        assert err.field in (*SIGNED, "headers")
    else:
        assert verified.body == body and verified.key == "INC-1:1:page"


@settings(max_examples=200)
@given(pairs=st.lists(st.tuples(st.one_of(_NAMES, st.binary(), st.text()), _VALUES), max_size=8))
def test_arbitrary_header_pairs_never_raise_anything_else(
    pairs: list[tuple[object, object]],
) -> None:
    with contextlib.suppress(SignatureInvalid):
        verify_webhook(pairs, b"{}", secret=SECRET, now=T0)  # type: ignore[arg-type]
