"""Loading schedules and escalation policies from TOML."""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incidentkit.errors import NotFound, PolicyError
from incidentkit.oncall import (
    Action,
    EscalationPolicies,
    Target,
    configure_oncall_converter,
    load_oncall,
)
from incidentkit.serialization import make_converter
from incidentkit.severity import Severity

TOML = """
[[oncall.schedules]]
name = "platform"

[[oncall.schedules.layers]]
name = "primary"

[[oncall.schedules.layers.rotations]]
participants = ["ana", "bo", "cy"]
start = 2025-01-06T09:00:00+00:00
zone = "Europe/London"
handoff_weekday = "monday"
handoff_time = "09:00"

[[oncall.schedules.layers]]
name = "secondary"

[[oncall.schedules.layers.rotations]]
participants = ["di", "ed"]
start = 2025-01-06T09:00:00+00:00
zone = "Europe/London"
every = "day"
handoff_time = 09:00:00

[[oncall.schedules.overrides]]
layer = "primary"
person = "zed"
start = 2025-02-01T00:00:00Z
end = 2025-02-02T00:00:00Z

[[escalation.policies]]
name = "critical"
severities = ["SEV1", "SEV2"]

[[escalation.policies.steps]]
targets = ["layer:primary"]
delay = "0m"
action = "page"

[[escalation.policies.steps]]
targets = ["layer:secondary", { kind = "role", name = "incident_commander" }]
delay = "5m"
action = "page"
repeat = 2
repeat_interval = "10m"
"""


def data() -> dict[str, Any]:
    return tomllib.loads(TOML)


def test_loads_schedules_and_policies() -> None:
    config = load_oncall(data(), source="oncall.toml")
    schedule = config.schedule("platform")
    assert config.schedule() is schedule
    assert schedule.layer_names == ("primary", "secondary")
    assert schedule.on_call(datetime(2025, 2, 1, 12, tzinfo=UTC)).person("primary") == "zed"
    policy = config.escalation.for_severity(Severity.SEV2)
    assert policy is not None and policy.name == "critical"
    step = policy.steps[1]
    assert step.targets == (Target.layer("secondary"), Target.role("incident_commander"))
    assert (step.delay, step.action, step.repeat, step.repeat_interval) == (
        timedelta(minutes=5),
        Action.PAGE,
        2,
        timedelta(minutes=10),
    )
    assert config.escalation.for_severity(Severity.SEV4) is None
    assert config.schedule_for(policy) is schedule
    with pytest.raises(NotFound):
        config.schedule("nope")


def test_missing_escalation_table_gives_the_guide_defaults() -> None:
    raw = data()
    del raw["escalation"]
    assert load_oncall(raw).escalation == EscalationPolicies.default()


def test_round_trips_through_the_converter() -> None:
    converter = make_converter()
    configure_oncall_converter(converter)
    config = load_oncall(data())
    raw = converter.unstructure(config)
    assert raw["escalation"]["policies"][0]["steps"][1]["targets"] == [
        "layer:secondary",
        "role:incident_commander",
    ]
    again = load_oncall(
        {"oncall": {"schedules": raw["schedules"]}, "escalation": raw["escalation"]}
    )
    assert again == config


ROT = ("oncall", "schedules", 0, "layers", 0, "rotations", 0)
ROT_PATH = "$.oncall.schedules[0].layers[0].rotations[0]"


def _set(raw: dict[str, Any], path: tuple[Any, ...], key: str, value: Any) -> None:
    node: Any = raw
    for part in path:
        node = node[part]
    node[key] = value


@pytest.mark.parametrize(
    ("path", "key", "value", "where", "reason"),
    [
        (ROT, "zone", "Mars/Olympus", f"{ROT_PATH}.zone", "unknown IANA time zone"),
        (ROT, "participants", [], f"{ROT_PATH}.participants", "at least one participant"),
        (ROT, "handoff_time", "nine", f"{ROT_PATH}.handoff_time", "not a time of day"),
        (ROT, "start", datetime(2025, 1, 6, 9), f"{ROT_PATH}.start", "naive datetime"),
        (ROT, "handoff_weekday", "someday", f"{ROT_PATH}.handoff_weekday", "someday"),
        (ROT, "shift", "weekly", f"{ROT_PATH}.shift", "unknown key"),
        (
            ("oncall", "schedules", 0, "overrides", 0),
            "end",
            "2025-02-03T00:00:00Z",
            "$.oncall.schedules[0].overrides",
            None,
        ),
        (
            ("escalation", "policies", 0, "steps", 0),
            "delay",
            -60,
            "$.escalation.policies[0].steps[0].delay",
            "must not be negative",
        ),
        (
            ("escalation", "policies", 0, "steps", 0),
            "targets",
            ["team:sre"],
            "$.escalation.policies[0].steps[0].targets[0]",
            "not a target",
        ),
        (
            ("escalation", "policies", 0),
            "severities",
            ["SEV9"],
            "$.escalation.policies[0].severities[0]",
            "not a valid Severity",
        ),
    ],
)
def test_errors_name_the_key(
    path: tuple[Any, ...], key: str, value: Any, where: str, reason: str | None
) -> None:
    raw = data()
    if key == "end" and path[-2] == "overrides":
        # A second override overlapping the first one.
        raw["oncall"]["schedules"][0]["overrides"].append(
            {
                "layer": "primary",
                "person": "q",
                "start": "2025-02-01T12:00:00Z",
                "end": "2025-02-03T00:00:00Z",
            }
        )
        where = "$.oncall.schedules[0].overrides[1]"
        reason = "overlaps overrides[0]"
    else:
        _set(raw, path, key, value)
    before = copy.deepcopy(raw)
    with pytest.raises(PolicyError) as info:
        load_oncall(raw, source="oncall.toml")
    assert info.value.source == "oncall.toml"
    problem_paths = [p for p, _ in info.value.problems]
    assert where in problem_paths, info.value.problems
    assert reason is not None
    assert any(reason in r for p, r in info.value.problems if p == where), info.value.problems
    assert raw == before  # input untouched


def test_duplicate_schedule_names_and_unknown_policy_schedule() -> None:
    raw = data()
    raw["oncall"]["schedules"].append(copy.deepcopy(raw["oncall"]["schedules"][0]))
    with pytest.raises(PolicyError) as info:
        load_oncall(raw)
    assert info.value.problems[0][0] == "$.oncall.schedules[1].name"
    raw = data()
    raw["escalation"]["policies"][0]["schedule"] = "nope"
    with pytest.raises(PolicyError) as info:
        load_oncall(raw)
    assert info.value.problems[0][0] == "$.escalation.policies[0].schedule"


def test_unknown_top_level_keys() -> None:
    with pytest.raises(PolicyError) as info:
        load_oncall({"oncall": {"rotas": []}})
    assert info.value.problems[0][0] == "$.oncall.rotas"
    with pytest.raises(PolicyError) as info:
        load_oncall({"paging": {}})
    assert info.value.problems[0][0] == "$.paging"
