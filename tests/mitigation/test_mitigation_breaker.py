"""Circuit breakers: the state machine, thread safety, the registry and the action."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidentkit.clock import ManualClock
from incidentkit.errors import NotFound, ValidationError
from incidentkit.mitigation import (
    BreakerState,
    CircuitBreaker,
    CircuitBreakerAction,
    CircuitBreakerRegistry,
    CircuitOpen,
    MitigationOutcome,
    execute_action,
)
from incidentkit.serialization import make_converter
from incidentkit.testing import SAMPLE_TIME, sample_context

T0 = SAMPLE_TIME
RESET = timedelta(seconds=30)


class Down(Exception):
    pass


def _fail() -> None:
    raise Down("dependency down")


def _ok() -> str:
    return "ok"


def _breaker(clock: ManualClock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker("payments", failure_threshold=threshold, reset_timeout=RESET, clock=clock)


def _fail_through(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(Down):
            breaker.call(_fail)


def test_starts_closed_and_passes_results_through() -> None:
    breaker = _breaker(ManualClock(T0))
    assert breaker.state is BreakerState.CLOSED
    assert breaker.call(lambda a, b=0: a + b, 2, b=3) == 5


def test_opens_after_the_threshold_of_consecutive_failures() -> None:
    clock = ManualClock(T0)
    breaker = _breaker(clock)
    _fail_through(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    _fail_through(breaker, 1)
    assert breaker.state is BreakerState.OPEN
    calls: list[int] = []
    with pytest.raises(CircuitOpen) as caught:
        breaker.call(calls.append, 1)
    assert calls == []
    assert caught.value.name == "payments"
    assert caught.value.retry_at == T0 + RESET


def test_a_success_resets_the_failure_count() -> None:
    breaker = _breaker(ManualClock(T0))
    _fail_through(breaker, 2)
    breaker.call(_ok)
    _fail_through(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().failures == 2


def test_half_open_after_the_reset_timeout_then_closed_by_a_success() -> None:
    clock = ManualClock(T0)
    breaker = _breaker(clock)
    _fail_through(breaker, 3)
    clock.advance(RESET - timedelta(seconds=1))
    assert breaker.state is BreakerState.OPEN
    clock.advance(timedelta(seconds=1))
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.call(_ok) == "ok"
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().failures == 0


def test_a_failed_trial_reopens_for_another_timeout() -> None:
    clock = ManualClock(T0)
    breaker = _breaker(clock)
    _fail_through(breaker, 3)
    clock.advance(RESET)
    _fail_through(breaker, 1)
    assert breaker.state is BreakerState.OPEN
    assert breaker.snapshot().opened_at == T0 + RESET
    clock.advance(RESET)
    assert breaker.state is BreakerState.HALF_OPEN


def test_half_open_admits_only_the_allowed_trials() -> None:
    clock = ManualClock(T0)
    breaker = _breaker(clock)
    _fail_through(breaker, 3)
    clock.advance(RESET)
    inside = threading.Event()
    release = threading.Event()

    def slow() -> str:
        inside.set()
        release.wait(5)
        return "slow"

    trial = threading.Thread(target=breaker.call, args=(slow,))
    trial.start()
    assert inside.wait(5)
    with pytest.raises(CircuitOpen):
        breaker.call(_ok)  # a second caller while the trial runs
    release.set()
    trial.join()
    assert breaker.state is BreakerState.CLOSED


def test_exceptions_outside_failure_types_do_not_count() -> None:
    breaker = CircuitBreaker(
        "search", failure_threshold=1, failure_types=(ConnectionError,), clock=ManualClock(T0)
    )
    with pytest.raises(KeyError):
        breaker.call(lambda: {}["x"])
    assert breaker.state is BreakerState.CLOSED
    with pytest.raises(ConnectionError):
        breaker.call(lambda: (_ for _ in ()).throw(ConnectionError("down")))
    assert breaker.state is BreakerState.OPEN


def test_a_non_failure_exception_in_a_trial_frees_the_trial_slot() -> None:
    clock = ManualClock(T0)
    breaker = CircuitBreaker(
        "search", failure_threshold=1, failure_types=(ConnectionError,), clock=clock
    )
    with pytest.raises(ConnectionError):
        breaker.call(lambda: (_ for _ in ()).throw(ConnectionError("down")))
    clock.advance(timedelta(seconds=30))
    with pytest.raises(KeyError):
        breaker.call(lambda: {}["x"])
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.call(_ok) == "ok"  # the slot was given back


def test_forced_open_stays_open_until_closed() -> None:
    clock = ManualClock(T0)
    breaker = _breaker(clock)
    breaker.force_open()
    clock.advance(timedelta(hours=2))
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as caught:
        breaker.call(_ok)
    assert caught.value.retry_at is None
    assert "until closed by hand" in str(caught.value)
    breaker.close()
    assert breaker.call(_ok) == "ok"
    assert breaker.snapshot().forced is False


def test_protect_decorates_a_function() -> None:
    breaker = _breaker(ManualClock(T0), threshold=1)

    @breaker.protect
    def charge(amount: int) -> str:
        if amount < 0:
            raise Down("refused")
        return f"charged {amount}"

    assert charge(5) == "charged 5"
    assert charge.__name__ == "charge"
    with pytest.raises(Down):
        charge(-1)
    with pytest.raises(CircuitOpen):
        charge(5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"failure_threshold": True}, "failure_threshold"),
        ({"half_open_calls": 0}, "half_open_calls"),
        ({"reset_timeout": timedelta(0)}, "reset_timeout"),
        ({"reset_timeout": 30}, "reset_timeout"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CircuitBreaker("x", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_concurrent_failures_open_exactly_once_and_count_every_failure() -> None:
    breaker = CircuitBreaker("db", failure_threshold=1000, clock=ManualClock(T0))
    barrier = threading.Barrier(8)

    def hammer() -> None:
        barrier.wait()
        for _ in range(100):
            with contextlib.suppress(Down):
                breaker.call(_fail)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = breaker.snapshot()
    assert snap.failures == 800
    assert snap.state is BreakerState.CLOSED


# -- a model-based property: the breaker matches a four-line reference model ------------------

ops = st.lists(
    st.one_of(
        st.just(("ok", 0)),
        st.just(("fail", 0)),
        st.tuples(st.just("advance"), st.integers(0, 45)),
        st.just(("force", 0)),
        st.just(("close", 0)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops=ops, threshold=st.integers(1, 4))
def test_matches_the_reference_model(ops: list[tuple[str, int]], threshold: int) -> None:
    clock = ManualClock(T0)
    breaker = _breaker(clock, threshold=threshold)
    state, failures, opened_at, forced = "closed", 0, T0, False
    for op, seconds in ops:
        if op == "advance":
            clock.advance(timedelta(seconds=seconds))
            continue
        if op == "force":
            breaker.force_open()
            state, opened_at, forced = "open", clock.now(), True
            continue
        if op == "close":
            breaker.close()
            state, failures, forced = "closed", 0, False
            continue
        if state == "open" and not forced and clock.now() - opened_at >= RESET:
            state = "half_open"
        admitted = state != "open"
        try:
            breaker.call(_ok if op == "ok" else _fail)
            assert admitted and op == "ok"
        except CircuitOpen:
            assert not admitted
        except Down:
            assert admitted and op == "fail"
        if admitted:
            if op == "ok":
                state, failures = "closed", 0
            else:
                failures += 1
                if state == "half_open" or failures >= threshold:
                    state, opened_at = "open", clock.now()
        expected = state
        if state == "open" and not forced and clock.now() - opened_at >= RESET:
            expected = "half_open"
        assert breaker.state.value == expected


# -- registry and action -------------------------------------------------------------------------


def test_registry_creates_on_first_use_and_shares_by_name() -> None:
    registry = CircuitBreakerRegistry(failure_threshold=2, clock=ManualClock(T0))
    assert registry.get("api") is registry.get("api")
    assert registry.get("api").failure_threshold == 2
    assert "api" in registry
    assert registry.names() == ("api",)
    with pytest.raises(NotFound) as caught:
        registry.find("apj")
    assert caught.value.known == ("api",)


def test_registry_add_refuses_a_duplicate() -> None:
    registry = CircuitBreakerRegistry()
    registry.add(CircuitBreaker("api"))
    with pytest.raises(ValidationError):
        registry.add(CircuitBreaker("api"))


def test_registry_refuses_bad_defaults() -> None:
    with pytest.raises(ValidationError) as caught:
        CircuitBreakerRegistry(failure_threshold=0)
    assert caught.value.field == "failure_threshold"


def test_registry_call_and_protect() -> None:
    registry = CircuitBreakerRegistry(failure_threshold=1)

    @registry.protect("payments")
    def pay() -> str:
        return "paid"

    assert pay() == "paid"
    assert registry.call("payments", lambda: "direct") == "direct"
    registry.get("payments").force_open()
    with pytest.raises(CircuitOpen):
        pay()
    assert [s.state for s in registry.snapshot()] == [BreakerState.OPEN]


def test_the_action_opens_and_closes_a_breaker_host_code_uses() -> None:
    registry = CircuitBreakerRegistry()

    @registry.protect("external-payment-api")
    def charge() -> str:
        return "charged"

    action = CircuitBreakerAction(registry).action()
    conv = make_converter()
    opened = execute_action(
        action, sample_context(), {"name": "external-payment-api", "state": "open"}, conv
    )
    assert opened.outcome is MitigationOutcome.APPLIED
    assert opened.data == {
        "breaker": "external-payment-api",
        "previous": "closed",
        "current": "open",
    }
    with pytest.raises(CircuitOpen):
        charge()
    closed = execute_action(
        action, sample_context(), {"name": "external-payment-api", "state": "closed"}, conv
    )
    assert closed.detail == "circuit breaker external-payment-api closed (was open)"
    assert charge() == "charged"


def test_the_action_refuses_an_unknown_breaker_unless_told_to_create() -> None:
    registry = CircuitBreakerRegistry()
    registry.get("payments")
    conv = make_converter()
    params = {"name": "paymnets", "state": "open"}
    result = execute_action(CircuitBreakerAction(registry).action(), sample_context(), params, conv)
    assert result.outcome is MitigationOutcome.FAILED
    assert "known: payments" in result.detail
    assert "paymnets" not in registry
    created = CircuitBreakerAction(registry, create_missing=True).action()
    assert execute_action(created, sample_context(), params, conv).outcome is (
        MitigationOutcome.APPLIED
    )
    assert registry.get("paymnets").state is BreakerState.OPEN


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"name": "payments", "state": "half_open"}, "$.state"),
        ({"name": "", "state": "open"}, "$.name"),
        ({"state": "open"}, "$.name"),
    ],
)
def test_the_action_params_are_checked(params: dict[str, str], path: str) -> None:
    from incidentkit.errors import PolicyError

    registry = CircuitBreakerRegistry()
    with pytest.raises(PolicyError) as caught:
        execute_action(
            CircuitBreakerAction(registry).action(), sample_context(), params, make_converter()
        )
    assert path in [p for p, _ in caught.value.problems]
    assert registry.names() == ()
