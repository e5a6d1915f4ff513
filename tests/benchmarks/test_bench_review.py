"""The review benchmark's string-join baseline gives the document's rows, else the ratio is moot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_review

from incidentkit.review.render import render_markdown


def test_review_baseline_rows_are_the_document_rows() -> None:
    kit, inc = bench_review.build(events=60, items=8)
    state, review, timeline = bench_review.inputs(kit, inc)
    assert len(review.pins) == 60 and len(timeline) == 61 and len(review.items) == 8
    document = render_markdown(state, review, timeline, kit.policy)
    baseline = bench_review.joined(kit, review, timeline)
    assert bench_review.check_same(document, baseline) == len(review.pins) + 8


def test_review_check_has_teeth() -> None:
    kit, inc = bench_review.build(events=30, items=3)
    state, review, timeline = bench_review.inputs(kit, inc)
    document = render_markdown(state, review, timeline, kit.policy)
    wrong = bench_review.joined(kit, review, timeline).replace("| P0 |", "| P1 |", 1)
    with pytest.raises(AssertionError, match="disagrees"):
        bench_review.check_same(document, wrong)
