"""The NAB evaluation protocol of benchmarks/detector_quality.py reproduces SOURCES.md."""

from __future__ import annotations

import numpy as np
import pytest
from detect_helpers import data_path

from benchmarks import detector_quality as dq


@pytest.fixture(scope="module")
def nab():
    root = data_path("nab")
    return dq.nab_series(root), dq.nab_windows(root), root


@pytest.mark.parametrize("detector, precision, recall", [
    ("numenta", 0.27, 0.84), ("randomCutForest", 0.43, 0.63)])
def test_published_detectors_match_the_documented_numbers(nab, detector, precision, recall):
    series, windows, root = nab
    r = dq.nab_score(dq.published(series, detector, root), series, windows)
    assert round(r["precision"], 2) == precision and round(r["recall"], 2) == recall


def test_plain_iforest_baseline_matches(nab):
    series, windows, _ = nab
    r = dq.nab_score(dq.plain_iforest(series), series, windows)
    assert (round(r["precision"], 2), round(r["recall"], 2)) == (0.14, 0.74)


def test_flags_skip_probation_and_prefer_later_ties():
    scores = np.zeros(2000)
    scores[10] = 5.0  # inside probation: never flagged
    idx = dq.flags(scores, budget=0.002)
    assert dq.probation(2000) == 300 and len(idx) == 4
    assert list(idx) == [1996, 1997, 1998, 1999]
