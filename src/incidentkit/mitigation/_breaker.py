"""Circuit breakers the host wraps its calls with, and the action that opens or closes them."""

from __future__ import annotations

import enum
import functools
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal, ParamSpec, TypeVar

import attrs

from incidentkit._names import check_name
from incidentkit.clock import Clock, SystemClock
from incidentkit.errors import CircuitOpen, NotFound, ValidationError
from incidentkit.mitigation._base import ActionPlugin, Verify
from incidentkit.mitigation._model import MitigationContext, MitigationResult

__all__ = [
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakerAction",
    "CircuitBreakerParams",
    "CircuitBreakerRegistry",
    "CircuitOpen",
]

P = ParamSpec("P")
R = TypeVar("R")


class BreakerState(enum.StrEnum):
    """A breaker's state: calls flow when closed, fail fast when open, trickle when half-open."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@attrs.frozen
class BreakerSnapshot:
    """A breaker's state at one instant (for dashboards and the timeline)."""

    name: str
    state: BreakerState
    failures: int
    forced: bool
    opened_at: datetime | None


class CircuitBreaker:
    """A thread-safe circuit breaker (closed → open → half-open → closed).

    * **closed**: calls run; ``failure_threshold`` consecutive failures open it;
    * **open**: calls raise :class:`CircuitOpen` without running; after
      ``reset_timeout`` it turns half-open (unless opened by hand with
      :meth:`force_open`, which holds it open until :meth:`close`);
    * **half-open**: up to ``half_open_calls`` trial calls run at once; a
      success closes it, a failure opens it again for another ``reset_timeout``.

    Only exceptions that are instances of ``failure_types`` count as
    failures; others pass through and leave the count alone. Time comes from
    ``clock``, so tests drive it with :class:`~incidentkit.clock.ManualClock`.

    >>> from datetime import datetime, timedelta, timezone
    >>> from incidentkit.clock import ManualClock
    >>> clock = ManualClock(datetime(2024, 11, 20, tzinfo=timezone.utc))
    >>> breaker = CircuitBreaker("payments", failure_threshold=2,
    ...                          reset_timeout=timedelta(seconds=30), clock=clock)
    >>> def flaky():
    ...     raise ConnectionError("payment API down")
    >>> for _ in range(2):
    ...     try:
    ...         breaker.call(flaky)
    ...     except ConnectionError:
    ...         pass
    >>> breaker.state
    <BreakerState.OPEN: 'open'>
    >>> breaker.call(print, "not called")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    incidentkit.mitigation.CircuitOpen: (detail: open until 00:00:30)
    >>> _ = clock.advance(timedelta(seconds=30))
    >>> breaker.call(lambda: "ok"), breaker.state
    ('ok', <BreakerState.CLOSED: 'closed'>)
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: timedelta = timedelta(seconds=30),
        half_open_calls: int = 1,
        failure_types: tuple[type[BaseException], ...] = (Exception,),
        clock: Clock | None = None,
    ) -> None:
        self.name = check_name(name)
        for field, value in (
            ("failure_threshold", failure_threshold),
            ("half_open_calls", half_open_calls),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(field, f"must be an integer >= 1, got {value!r}")
        if not isinstance(reset_timeout, timedelta) or reset_timeout <= timedelta(0):
            raise ValidationError("reset_timeout", "expected a positive timedelta")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.half_open_calls = half_open_calls
        self.failure_types = failure_types
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at: datetime | None = None
        self._forced = False
        self._trials = 0

    # -- state (call with the lock held) --------------------------------------------------------

    def _current(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and not self._forced
            and self._opened_at is not None
            and self.clock.now() - self._opened_at >= self.reset_timeout
        ):
            self._state = BreakerState.HALF_OPEN
            self._trials = 0
        return self._state

    def _trip(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self.clock.now()
        self._trials = 0

    # -- public ---------------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The state now (an expired open breaker reads half-open)."""
        with self._lock:
            return self._current()

    def snapshot(self) -> BreakerSnapshot:
        """Name, state, consecutive failures, forced flag and when it opened."""
        with self._lock:
            return BreakerSnapshot(
                self.name, self._current(), self._failures, self._forced, self._opened_at
            )

    def force_open(self) -> None:
        """Open by hand (a mitigation): calls fail fast until :meth:`close`."""
        with self._lock:
            self._trip()
            self._forced = True

    def close(self) -> None:
        """Close and forget failures (also ends a forced open)."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._opened_at = None
            self._forced = False
            self._trials = 0

    def before_call(self) -> None:
        """Admit one call or raise :class:`CircuitOpen` (for hosts that cannot wrap a call).

        Pair it with :meth:`record_success` or :meth:`record_failure`.
        """
        with self._lock:
            state = self._current()
            if state is BreakerState.CLOSED:
                return
            if state is BreakerState.HALF_OPEN and self._trials < self.half_open_calls:
                self._trials += 1
                return
            retry_at = (
                None
                if self._forced or self._opened_at is None
                else max(self._opened_at + self.reset_timeout, self.clock.now())
            )
        raise CircuitOpen(self.name, retry_at)

    def record_success(self) -> None:
        """Report that an admitted call succeeded."""
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                self._state = BreakerState.CLOSED
                self._opened_at = None
                self._trials = 0
            if self._state is BreakerState.CLOSED:
                self._failures = 0

    def record_failure(self) -> None:
        """Report that an admitted call failed."""
        with self._lock:
            state = self._state
            if state is BreakerState.HALF_OPEN:
                self._failures += 1
                self._trip()
            elif state is BreakerState.CLOSED:
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    self._trip()

    def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` through the breaker.

        :raises CircuitOpen: without calling ``fn`` while the breaker is open.
        """
        self.before_call()
        try:
            result = fn(*args, **kwargs)
        except self.failure_types:
            self.record_failure()
            raise
        except BaseException:
            self._release_trial()
            raise
        self.record_success()
        return result

    def _release_trial(self) -> None:
        with self._lock:
            if self._state is BreakerState.HALF_OPEN and self._trials > 0:
                self._trials -= 1

    def protect(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn`` so every call goes through :meth:`call`."""

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return self.call(fn, *args, **kwargs)

        return wrapper

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state.value})"


class CircuitBreakerRegistry:
    """Named breakers shared by the host's code and :class:`CircuitBreakerAction`.

    :meth:`get` creates a breaker on first use with the registry's defaults,
    so host code and the mitigation action agree on names without setup.

    >>> registry = CircuitBreakerRegistry()
    >>> @registry.protect("external-payment-api")
    ... def charge(amount: int) -> str:
    ...     return f"charged {amount}"
    >>> charge(5)
    'charged 5'
    >>> registry.get("external-payment-api").force_open()
    >>> charge(5)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    incidentkit.mitigation.CircuitOpen: circuit breaker 'external-payment-api' is open
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout: timedelta = timedelta(seconds=30),
        half_open_calls: int = 1,
        clock: Clock | None = None,
    ) -> None:
        self._defaults = {
            "failure_threshold": failure_threshold,
            "reset_timeout": reset_timeout,
            "half_open_calls": half_open_calls,
        }
        self.clock: Clock = clock if clock is not None else SystemClock()
        CircuitBreaker("defaults", clock=self.clock, **self._defaults)  # type: ignore[arg-type]
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> CircuitBreaker:
        """The breaker called ``name``, created with the defaults on first use."""
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = CircuitBreaker(name, clock=self.clock, **self._defaults)  # type: ignore[arg-type]
                self._breakers[name] = breaker
            return breaker

    def add(self, breaker: CircuitBreaker) -> CircuitBreaker:
        """Register a breaker configured by hand; refuse a second one with its name."""
        with self._lock:
            if breaker.name in self._breakers:
                raise ValidationError("name", f"a circuit breaker {breaker.name!r} exists")
            self._breakers[breaker.name] = breaker
            return breaker

    def find(self, name: str) -> CircuitBreaker:
        """The existing breaker ``name``; raise :class:`NotFound` listing known names."""
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                raise NotFound("circuit breaker", name, sorted(self._breakers))
            return breaker

    def names(self) -> tuple[str, ...]:
        """Every breaker's name, sorted."""
        with self._lock:
            return tuple(sorted(self._breakers))

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._breakers

    def snapshot(self) -> tuple[BreakerSnapshot, ...]:
        """Every breaker's snapshot, by name."""
        with self._lock:
            breakers = sorted(self._breakers.values(), key=lambda b: b.name)
        return tuple(b.snapshot() for b in breakers)

    def call(self, name: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` through breaker ``name``."""
        return self.get(name).call(fn, *args, **kwargs)

    def protect(self, name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorator: route every call of the function through breaker ``name``.

        The breaker is created when the function is decorated, so the
        mitigation action can open it before the first call.
        """
        breaker = self.get(name)

        def decorate(fn: Callable[P, R]) -> Callable[P, R]:
            return breaker.protect(fn)

        return decorate


def _check_breaker_name(_inst: object, _attr: object, value: str) -> None:
    check_name(value, "name")


@attrs.frozen
class CircuitBreakerParams:
    """Open or close the breaker ``name`` (``state`` is ``"open"`` or ``"closed"``)."""

    name: str = attrs.field(validator=_check_breaker_name)
    state: Literal["open", "closed"]


class CircuitBreakerAction(ActionPlugin):
    """Open a circuit breaker by hand (stop calling a failing dependency), or close it.

    An opened breaker stays open until closed (no automatic half-open).
    With ``create_missing=False`` (the default) an unknown breaker name fails
    the result, listing the known ones, so a typo cannot silently open
    nothing.
    """

    params_type = CircuitBreakerParams
    description = "Open or close a named circuit breaker."

    def __init__(
        self,
        registry: CircuitBreakerRegistry,
        *,
        name: str = "circuit_breaker",
        create_missing: bool = False,
        timeout: timedelta = timedelta(seconds=10),
        verify: Verify | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(name=name, timeout=timeout, verify=verify, description=description)
        if not isinstance(registry, CircuitBreakerRegistry):
            raise ValidationError("registry", "expected a CircuitBreakerRegistry")
        self.registry = registry
        self.create_missing = create_missing

    def execute(self, context: MitigationContext, params: CircuitBreakerParams) -> MitigationResult:
        """Open or close the breaker and report its previous and current state."""
        try:
            breaker = (
                self.registry.get(params.name)
                if self.create_missing
                else self.registry.find(params.name)
            )
        except NotFound as err:
            return MitigationResult.failed(str(err), breaker=params.name)
        previous = breaker.state
        if params.state == "open":
            breaker.force_open()
        else:
            breaker.close()
        current = breaker.state
        data = {"breaker": params.name, "previous": previous.value, "current": current.value}
        if current.value != params.state:
            return MitigationResult.failed(
                f"breaker {params.name} reads {current.value} after setting it {params.state}",
                **data,
            )
        return MitigationResult.applied(
            f"circuit breaker {params.name} {params.state} (was {previous.value})", **data
        )
