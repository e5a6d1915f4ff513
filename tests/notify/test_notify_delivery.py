"""call_with_timeout, retry_delay, classify_http_status, parse_retry_after."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidentkit.errors import ValidationError
from incidentkit.notify import (
    call_with_timeout,
    classify_http_status,
    parse_retry_after,
    retry_delay,
    run_with_timeout,
)

NOW = datetime(2024, 11, 20, 22, 30, tzinfo=UTC)
SHORT = timedelta(milliseconds=50)
LONG = timedelta(seconds=10)


# -- call_with_timeout --------------------------------------------------------------------------


def test_call_passes_the_argument_and_returns() -> None:
    seen: list[str] = []
    assert call_with_timeout(seen.append, "page", LONG) is None
    assert seen == ["page"]


def test_run_returns_the_result() -> None:
    assert run_with_timeout(lambda: 41 + 1, LONG) == 42


def test_the_notifiers_exception_is_reraised_unchanged() -> None:
    boom = ConnectionError("receiver down")

    def fail(_: object) -> None:
        raise boom

    with pytest.raises(ConnectionError) as caught:
        call_with_timeout(fail, None, LONG)
    assert caught.value is boom


def test_a_hung_call_times_out_and_is_abandoned() -> None:
    release = threading.Event()
    finished = threading.Event()

    def hang(_: object) -> None:
        release.wait()
        finished.set()

    with pytest.raises(TimeoutError, match="abandoned"):
        call_with_timeout(hang, None, SHORT)
    # the caller got control back while the call is still blocked
    assert not finished.is_set()
    release.set()
    assert finished.wait(5)


def test_calls_run_on_daemon_threads() -> None:
    flags = run_with_timeout(
        lambda: (threading.current_thread().daemon, threading.current_thread().name), LONG
    )
    assert flags == (True, "incidentkit-delivery")


def test_hung_calls_do_not_starve_later_calls() -> None:
    release = threading.Event()
    try:
        for _ in range(5):
            with pytest.raises(TimeoutError):
                call_with_timeout(lambda _: release.wait(), None, SHORT)
        assert run_with_timeout(lambda: "still served", LONG) == "still served"
    finally:
        release.set()


def test_concurrent_callers_each_get_their_own_result() -> None:
    results: dict[int, int] = {}

    def caller(n: int) -> None:
        results[n] = run_with_timeout(lambda: n * n, LONG)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {n: n * n for n in range(16)}


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(seconds=-1), 5])
def test_timeout_must_be_a_positive_timedelta(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        call_with_timeout(print, None, bad)  # type: ignore[arg-type]
    assert caught.value.field == "timeout"


# -- retry_delay --------------------------------------------------------------------------------


@settings(max_examples=200)
@given(attempt=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_delay_lies_within_the_full_jitter_window(attempt: int, seed: int) -> None:
    base, cap = timedelta(seconds=5), timedelta(minutes=10)
    delay = retry_delay(attempt, base=base, cap=cap, rng=random.Random(seed))
    ceiling = min(cap, base * 2 ** min(attempt - 1, 30))
    assert timedelta(0) <= delay <= ceiling


def test_same_seed_same_delays() -> None:
    first = [retry_delay(n, rng=random.Random(3)) for n in range(1, 10)]
    again = [retry_delay(n, rng=random.Random(3)) for n in range(1, 10)]
    assert first == again


def test_the_window_doubles_until_the_cap() -> None:
    rng = random.Random(11)
    base = timedelta(seconds=1)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (8, 60), (30, 60)]:
        draws = [
            retry_delay(attempt, base=base, cap=timedelta(seconds=60), rng=rng).total_seconds()
            for _ in range(400)
        ]
        assert max(draws) <= ceiling
        # full jitter: draws spread over the whole window, not stuck near one end
        assert min(draws) < ceiling * 0.1
        assert max(draws) > ceiling * 0.9


@pytest.mark.parametrize("attempt", [0, -1, 1.5, True])
def test_attempt_must_be_a_positive_integer(attempt: object) -> None:
    with pytest.raises(ValidationError) as caught:
        retry_delay(attempt, rng=random.Random(1))  # type: ignore[arg-type]
    assert caught.value.field == "attempt"


def test_base_and_cap_must_be_positive() -> None:
    with pytest.raises(ValidationError) as caught:
        retry_delay(1, base=timedelta(0), rng=random.Random(1))
    assert caught.value.field == "base"
    with pytest.raises(ValidationError) as caught:
        retry_delay(1, cap=timedelta(seconds=-1), rng=random.Random(1))
    assert caught.value.field == "cap"


# -- HTTP status classes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (200, "ok"),
        (202, "ok"),
        (204, "ok"),
        (299, "ok"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (599, "retry"),
        (400, "permanent"),
        (401, "permanent"),
        (403, "permanent"),
        (404, "permanent"),
        (410, "permanent"),
        (422, "permanent"),
        (301, "permanent"),
        (100, "permanent"),
    ],
)
def test_classify(code: int, expected: str) -> None:
    assert classify_http_status(code) == expected


@pytest.mark.parametrize("bad", [99, 600, "200", True, None])
def test_classify_refuses_non_codes(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        classify_http_status(bad)  # type: ignore[arg-type]
    assert caught.value.field == "code"


# -- Retry-After --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0", timedelta(0)),
        ("30", timedelta(seconds=30)),
        (" 120 ", timedelta(seconds=120)),
        ("Wed, 20 Nov 2024 22:31:00 GMT", timedelta(seconds=60)),
        ("Wed, 20 Nov 2024 22:00:00 GMT", timedelta(0)),  # in the past: retry now
        (None, None),
        ("soon", None),
        ("-5", None),
        ("", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_parse_retry_after_refuses_naive_now() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_retry_after("5", now=datetime(2024, 11, 20))
    assert caught.value.field == "now"
