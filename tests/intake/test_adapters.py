"""The adapters: the senders' shapes in, a valid Alert or a typed error out (spec §1.1–1.3)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentkit.errors import PayloadInvalid, UnsupportedPayload, ValidationError
from incidentkit.intake import Alert, AlertStatus, parse
from incidentkit.intake.adapters import (
    parse_alertmanager,
    parse_generic,
    parse_grafana,
    parse_pagerduty,
)

from .conftest import AM_SAMPLE, T0, pd_event


def test_alertmanager_sample_parses_to_one_alert() -> None:  # acceptance 1
    payload = Alert.from_payload(json.dumps(AM_SAMPLE), now=T0)
    assert payload.format == "alertmanager" and payload.truncated == 0
    [alert] = payload.alerts
    assert alert.source == "alertmanager"
    assert alert.fingerprint == alert.dedup_key == "1a30ba71cca2921f"
    assert alert.starts_at == datetime(2023, 2, 6, 13, 8, 45, 828000, tzinfo=UTC)
    assert alert.starts_at.utcoffset() is not None
    assert alert.ends_at is None  # the Go zero time
    assert alert.labels["severity"] == "critical" and alert.severity == "critical"
    assert alert.summary == "Probe failed for the login API"
    assert alert.generator_url == "http://prom:9090/graph?g0.expr=probe_success"
    assert alert.status is AlertStatus.FIRING
    assert json.loads(alert.raw)["fingerprint"] == "1a30ba71cca2921f"


def test_nanosecond_start_times_are_read() -> None:
    body = copy.deepcopy(AM_SAMPLE)
    body["alerts"][0]["startsAt"] = "2023-02-06T13:08:45.828123456+01:00"
    [alert] = parse_alertmanager(body, T0).alerts
    assert alert.starts_at == datetime(2023, 2, 6, 12, 8, 45, 828123, tzinfo=UTC)


@pytest.mark.parametrize("version", ["3", 4, None, "5"])
def test_alertmanager_version_other_than_4_is_unsupported(version: Any) -> None:  # acceptance 2
    body = {**copy.deepcopy(AM_SAMPLE), "version": version}
    with pytest.raises(UnsupportedPayload) as caught:
        parse(body, "alertmanager", now=T0)
    assert caught.value.problems[0][0] == "$.version"


def test_alertmanager_bad_status_lists_every_problem() -> None:  # acceptance 2
    body = copy.deepcopy(AM_SAMPLE)
    body["status"] = "pending"
    body["alerts"][0]["status"] = "weird"
    body["alerts"][0]["startsAt"] = "yesterday"
    body["alerts"].append({"status": "firing", "labels": {"a": 1}})
    with pytest.raises(PayloadInvalid) as caught:
        parse(body, now=T0)
    paths = [path for path, _ in caught.value.problems]
    assert paths == [
        "$.status",
        "$.alerts[0].status",
        "$.alerts[0].startsAt",
        "$.alerts[1].labels.a",
        "$.alerts[1].startsAt",
    ]
    assert isinstance(caught.value, ValidationError) and caught.value.field == "$.status"


def test_grafana_payload_keeps_values_and_urls() -> None:
    body = copy.deepcopy(AM_SAMPLE)
    body["version"] = "1"
    body["orgId"] = 1
    body["title"] = "[FIRING:1] HighErrorRate"
    body["alerts"][0].update(
        silenceURL="http://grafana/silence",
        dashboardURL="http://grafana/d/x",
        values={"B": 0.15, "C": 1},
    )
    body["alerts"][0]["annotations"]["metric"] = "error_rate"
    payload = parse(json.dumps(body).encode(), now=T0)
    assert payload.format == "grafana"
    [alert] = payload.alerts
    assert alert.source == "grafana" and alert.value == 0.15 and alert.metric == "error_rate"


def test_grafana_bad_values_are_refused_by_path() -> None:
    body = {**copy.deepcopy(AM_SAMPLE), "orgId": "one"}
    body["alerts"][0]["values"] = [1, 2]
    with pytest.raises(PayloadInvalid) as caught:
        parse_grafana(body, T0)
    assert [p for p, _ in caught.value.problems] == ["$.orgId", "$.alerts[0].values"]


def test_pagerduty_trigger() -> None:
    [alert] = parse(pd_event(key="srv01/HTTP"), now=T0).alerts
    assert alert.source == "pagerduty" and alert.dedup_key == "srv01/HTTP"
    assert alert.status is AlertStatus.FIRING and alert.severity == "critical"
    assert alert.starts_at == T0 and alert.delivery_key is None


def test_pagerduty_missing_fields_are_all_listed() -> None:  # acceptance 10
    event = pd_event()
    event["payload"] = {"custom_details": {}}
    with pytest.raises(PayloadInvalid) as caught:
        parse_pagerduty(event, T0)
    assert [p for p, _ in caught.value.problems] == [
        "$.payload.summary",
        "$.payload.source",
        "$.payload.severity",
    ]


def test_pagerduty_fatal_severity_is_refused() -> None:  # acceptance 10
    with pytest.raises(PayloadInvalid) as caught:
        parse_pagerduty(pd_event(severity="fatal"), T0)
    assert caught.value.problems == (
        ("$.payload.severity", "must be one of critical, error, warning, info, got 'fatal'"),
    )


def test_pagerduty_key_rules() -> None:  # acceptance 9
    with pytest.raises(PayloadInvalid) as caught:
        parse_pagerduty(pd_event(key="k" * 256), T0)
    assert caught.value.field == "$.dedup_key"
    [generated] = parse_pagerduty(pd_event(key=None), T0).alerts
    assert len(generated.dedup_key) == 32
    for action in ("acknowledge", "resolve"):
        with pytest.raises(PayloadInvalid) as caught:
            parse_pagerduty(pd_event(action, key=None), T0)
        assert caught.value.problems == (("$.dedup_key", f"required for {action}"),)
    with pytest.raises(PayloadInvalid) as caught:
        parse_pagerduty({**pd_event(), "event_action": "explode", "routing_key": None}, T0)
    assert [p for p, _ in caught.value.problems] == ["$.routing_key", "$.event_action"]


def test_generic_json() -> None:
    payload = parse_generic(
        {
            "alerts": [
                {"key": "disk-full", "summary": "disk full", "severity": "warning"},
                {"key": "cpu", "status": "resolved", "starts_at": "2023-02-06T13:00:00Z"},
            ]
        },
        T0,
    )
    first, second = payload.alerts
    assert (first.dedup_key, first.status, first.starts_at) == ("disk-full", "firing", T0)
    assert second.status is AlertStatus.RESOLVED and second.delivery_key is not None
    with pytest.raises(PayloadInvalid) as caught:
        parse_generic({"alerts": [{"status": "firing"}, 3]}, T0)
    assert [p for p, _ in caught.value.problems] == ["$.alerts[0].key", "$.alerts[1]"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"\xff\xfe", "$"),
        ("{not json", "$"),
        ("[1, 2]", "$"),
        ("[" * 5000 + "]" * 5000, "$"),
    ],
)
def test_undecodable_bodies_are_payload_errors(body: Any, path: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        parse(body, now=T0)
    assert caught.value.problems[0][0].startswith(path)


def test_unknown_format_is_unsupported() -> None:
    with pytest.raises(UnsupportedPayload) as caught:
        parse(AM_SAMPLE, "datadog", now=T0)
    assert caught.value.field == "format"


# --- fuzz: a typed error or a valid alert, never another exception --------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        ["4", "firing", "resolved", "trigger", "resolve", "2023-02-06T13:08:45Z", "0001-01-01"]
    ),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
_keys = st.sampled_from(
    [
        "version",
        "status",
        "alerts",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "fingerprint",
        "truncatedAlerts",
        "orgId",
        "values",
        "event_action",
        "dedup_key",
        "routing_key",
        "payload",
        "summary",
        "source",
        "severity",
        "timestamp",
        "key",
        "starts_at",
        "links",
    ]
)
_shaped = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=8)),
    max_leaves=30,
)


def _mutated_sample(data: st.DataObject) -> Any:
    body = copy.deepcopy(AM_SAMPLE)
    alert = body["alerts"][0]
    target = data.draw(st.sampled_from([body, alert, alert["labels"], alert["annotations"]]))
    key = data.draw(st.sampled_from([*target.keys(), "extra"]))
    target[key] = data.draw(_json)
    return body


@pytest.mark.parametrize("fmt", [None, "alertmanager", "grafana", "pagerduty", "generic"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_payloads_give_a_typed_error_or_valid_alerts(
    fmt: str | None, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(["any", "shaped", "sample", "pd"]))
    if kind == "any":
        body: Any = data.draw(_json)
    elif kind == "shaped":
        body = data.draw(_shaped)
    elif kind == "sample":
        body = _mutated_sample(data)
    else:
        body = pd_event()
        body[data.draw(st.sampled_from([*body, "payload"]))] = data.draw(_shaped)
    as_text = data.draw(st.booleans())
    try:
        result = parse(json.dumps(body) if as_text else body, fmt, now=T0)
    except PayloadInvalid as err:
        assert err.problems and all(path.startswith(("$", "format")) for path, _ in err.problems)
        return
    for alert in result.alerts:
        assert isinstance(alert, Alert) and 1 <= len(alert.dedup_key) <= 255
        assert alert.starts_at is None or alert.starts_at.utcoffset() is not None
        json.loads(alert.raw)


# --- the quick readings give what the full ones give -------------------------------------


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    """Two digits, mostly in ``low``..``high`` (a field's range), sometimes any."""
    return st.one_of(st.integers(low, high), st.integers(0, 99)).map(lambda n: f"{n:02d}")


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.integers(1900, 2100), st.integers(0, 9999)).map(lambda n: f"{n:04d}"),
    _two(1, 12),
    _two(1, 31),
    _two(0, 23),
    _two(0, 59),
    _two(0, 59),
    st.one_of(st.just(""), st.from_regex(r"\A\.[0-9]{1,9}\Z")),
    st.one_of(
        st.sampled_from(["Z", "+00:00", "-00:00", "+05:30"]),
        st.from_regex(r"\A[+-][0-9]{2}:[0-9]{2}\Z"),
    ),
)
def test_a_start_time_reads_as_the_dateutil_parser_reads_it(
    year: str, month: str, day: str, hour: str, minute: str, second: str, fraction: str, zone: str
) -> None:
    """The C parser takes the common form; what it reads equals ``isoparse``'s reading."""
    from dateutil.parser import isoparse

    from incidentkit.intake.adapters import _FRACTION, _Problems

    text = f"{year}-{month}-{day}T{hour}:{minute}:{second}{fraction}{zone}"
    problems = _Problems("generic")
    got = problems.time_text(text, "$.starts_at")
    try:
        slow = isoparse(_FRACTION.sub(r"\1", text))
    except (ValueError, OverflowError):
        assert got is None and problems.items
        return
    if slow.tzinfo is None or not (
        datetime(1900, 1, 1, tzinfo=UTC) <= slow.astimezone(UTC) < datetime(9000, 1, 1, tzinfo=UTC)
    ):
        assert got is None and problems.items
        return
    assert got == slow and got is not None and got.tzinfo is UTC and not problems.items


@pytest.mark.parametrize("text", ["2024-01-01T10:00:00+03:60", "2024-01-01T24:00:00Z"])
def test_start_times_the_c_parser_reads_otherwise_keep_their_reading(text: str) -> None:
    """``fromisoformat`` takes 60 offset minutes (``isoparse`` refuses them) and refuses 24:00
    (``isoparse`` reads the next midnight): both go the old way."""
    body = {"key": "k", "starts_at": text}
    if text.endswith("Z"):
        [alert] = parse_generic(body, T0).alerts
        assert alert.starts_at == datetime(2024, 1, 2, tzinfo=UTC)
    else:
        with pytest.raises(PayloadInvalid) as caught:
            parse_generic(body, T0)
        assert caught.value.problems[0][0] == "$.starts_at"


def test_nesting_is_measured_unless_too_few_brackets_to_be_deep() -> None:
    from incidentkit._validate import MAX_NESTING
    from incidentkit.intake.adapters import decode

    def nested(depth: int) -> str:
        return '{"key": "k", "labels": ' + "[" * depth + "]" * depth + "}"

    assert decode(nested(MAX_NESTING - 1))["key"] == "k"  # as many brackets as levels allowed
    assert decode(nested(MAX_NESTING))["key"] == "k"  # one more bracket: measured, deep enough
    with pytest.raises(PayloadInvalid) as caught:
        decode(nested(MAX_NESTING + 1))
    assert caught.value.problems[0] == ("$.labels" + "[0]" * MAX_NESTING, "nested too deep")
    brackets = json.dumps({"key": "k", "summary": "[{" * 100})  # in strings: no nesting
    assert decode(brackets)["summary"] == "[{" * 100
    assert decode(brackets.encode())["summary"] == "[{" * 100
