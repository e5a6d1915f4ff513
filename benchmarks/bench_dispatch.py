"""Notifier dispatch overhead: per-notifier isolation vs a plain loop vs a pluggy broadcast.

The kit delivers to each notifier on its own (try/except around each call, so
one failing plugin cannot stop the rest; pluggy stops at the first raising
hookimpl). This measures what that isolation costs against

* a plain loop calling the same functions (the floor), and
* one ``pm.hook.<spec>()`` broadcast over the same number of hookimpls,

for 1, 5 and 20 notifiers, plus the cost of one bounded call through
:func:`incidentkit.notify.call_with_timeout` (a hop to a pooled thread)
against calling the notifier directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pluggy
from _harness import Result, compare, report

from incidentkit.notify import Notification, NotifierSpec, call_with_timeout
from incidentkit.testing import sample_notification

SIZES = (1, 5, 20)
NUMBER = 2000
REPEATS = 7

spec_marker = pluggy.HookspecMarker("bench_dispatch")
impl_marker = pluggy.HookimplMarker("bench_dispatch")
log = logging.getLogger("bench_dispatch")


class _Specs:
    @spec_marker
    def bench_deliver(self, notification: Notification) -> None:
        """One notification to every plugin."""


def _deliver_fn(counter: list[int]) -> Callable[[Notification], None]:
    def deliver(notification: Notification) -> None:
        counter[0] += 1

    return deliver


class _Plugin:
    def __init__(self, fn: Callable[[Notification], None]) -> None:
        self.fn = fn

    @impl_marker
    def bench_deliver(self, notification: Notification) -> None:
        self.fn(notification)


def _setup(n: int) -> tuple[list[NotifierSpec], pluggy.PluginManager, list[int]]:
    counter = [0]
    fns = [_deliver_fn(counter) for _ in range(n)]
    specs = [NotifierSpec(name=f"n{i}", deliver=fn) for i, fn in enumerate(fns)]
    pm = pluggy.PluginManager("bench_dispatch")
    pm.add_hookspecs(_Specs)
    for fn in fns:
        pm.register(_Plugin(fn))
    return specs, pm, counter


def _isolated(specs: list[NotifierSpec], note: Notification) -> None:
    """What the kit's relay does per message: filter by kind, isolate each notifier."""
    for spec in specs:
        if not spec.wants(note.kind):
            continue
        try:
            spec.deliver(note)
        except Exception:
            log.exception("notifier %s failed", spec.name)


def main() -> None:
    note = sample_notification()
    results: list[Result] = []
    for n in SIZES:
        specs, pm, counter = _setup(n)
        fns = [spec.deliver for spec in specs]
        hook = pm.hook.bench_deliver

        def isolated(specs: list[NotifierSpec] = specs) -> None:
            _isolated(specs, note)

        def plain(fns: list[Callable[[Notification], None]] = fns) -> None:
            for fn in fns:
                fn(note)

        def broadcast(hook: pluggy.HookCaller = hook) -> None:
            hook(notification=note)

        sub, base = compare(isolated, plain, repeats=REPEATS, number=NUMBER)
        results.append(Result(f"isolated_vs_plain_loop_n{n}", sub, base, target="informational"))
        sub, base = compare(isolated, broadcast, repeats=REPEATS, number=NUMBER)
        results.append(Result(f"isolated_vs_pluggy_broadcast_n{n}", sub, base, target="<= 1.5"))
        assert counter[0] > 0

    specs, _, _ = _setup(1)
    [spec] = specs
    bound = timedelta(seconds=10)
    sub, base = compare(
        lambda: call_with_timeout(spec.deliver, note, bound),
        lambda: spec.deliver(note),
        repeats=REPEATS,
        number=500,
    )
    results.append(
        Result(
            "call_with_timeout_vs_direct_call",
            sub,
            base,
            target="informational (thread hop)",
            notes={"per_call_us": round(sub * 1e6, 1)},
        )
    )
    report("dispatch", results)


if __name__ == "__main__":
    main()
