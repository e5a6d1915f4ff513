"""Who is on call, across a daylight-saving change, from a TOML policy.

Run it: ``python examples/scripts/oncall_schedule.py``
"""

from __future__ import annotations

from datetime import UTC, datetime

import incidentkit as ik

POLICY = """
[[oncall.schedules]]
name = "platform"

[[oncall.schedules.layers]]
name = "primary"

[[oncall.schedules.layers.rotations]]
participants = ["ana", "bo", "cy"]
start = "2025-03-03T09:00:00+00:00"
zone = "Europe/London"
handoff_weekday = "monday"
handoff_time = "09:00"

[[oncall.schedules.layers]]
name = "secondary"

[[oncall.schedules.layers.rotations]]
participants = ["di", "ed"]
start = "2025-03-03T09:00:00+00:00"
zone = "Europe/London"
every = "day"
handoff_time = "09:00"
"""


def main() -> int:
    policy = ik.Policy.from_toml(POLICY, source="inline")
    schedule = policy.oncall.schedule("platform")
    # London moves from GMT to BST on 30 March 2025; handoffs stay at 09:00 local.
    for shift in schedule.shifts(
        datetime(2025, 3, 24, tzinfo=UTC), datetime(2025, 4, 8, tzinfo=UTC), layer="primary"
    ):
        print(f"primary  {shift.person:<3} {shift.start.isoformat()} → {shift.end.isoformat()}")
    now = schedule.on_call(datetime(2025, 3, 31, 8, 30, tzinfo=UTC))
    print("on call at 2025-03-31 08:30Z:", ", ".join(f"{h.layer}={h.person}" for h in now.holders))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
