"""Profile the 30-command incident of ``bench_incident`` on SQLite under cProfile.

``python benchmarks/profile_incident.py [incidents] [NORMAL|FULL]`` runs the
scenario ``incidents`` times (default 20) on a warm kit and prints the
functions with the most own time and the most cumulative time, in
microseconds per command, plus how often each is called per command.
Not part of ``make bench`` (profiling distorts the timings it reports).
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_incident import COMMANDS, T0, make_kit, scenario

from incidentkit import ManualClock
from incidentkit.store.sqlite import SqliteStore


def _short(func: tuple[str, int, str]) -> str:
    path, line, name = func
    marker = "/src/"
    if marker in path:
        path = path.split(marker, 1)[1]
    elif "/lib/python" in path:
        path = path.split("/lib/python", 1)[1].split("/", 1)[-1]
    return f"{path}:{line}({name})"


def main(argv: list[str]) -> None:
    incidents = int(argv[0]) if argv else 20
    synchronous = argv[1] if len(argv) > 1 else "NORMAL"
    root = Path(tempfile.mkdtemp(prefix="incidentkit-profile-"))
    try:
        store = SqliteStore(root / "profile.db", synchronous=synchronous)
        store.migrate()
        clock = ManualClock(T0)
        kit = make_kit(store, clock)
        scenario(kit, clock, "WARM-00000")  # imports, caches, prepared statements
        profiler = cProfile.Profile()
        profiler.enable()
        for n in range(incidents):
            scenario(kit, clock, f"PROF-{n:05d}")
        profiler.disable()
        kit.shutdown()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    commands = incidents * COMMANDS
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    print(f"{commands} commands, SQLite {synchronous}: {total / commands * 1e6:.0f} us/command")
    for title, index in (("own time (tottime)", 2), ("cumulative time", 3)):
        print(f"\n-- top 30 by {title}, per command --")
        print(f"{'us/cmd':>8} {'calls/cmd':>9}  function")
        ranked = sorted(raw.items(), key=lambda kv: kv[1][index], reverse=True)[:30]
        for func, (_cc, nc, tt, ct, _callers) in ranked:
            value = tt if index == 2 else ct
            print(f"{value / commands * 1e6:>8.1f} {nc / commands:>9.2f}  {_short(func)}")


if __name__ == "__main__":
    main(sys.argv[1:])
