"""Every raw line of the eight loghub systems parses, and the message equals loghub's Content."""

from __future__ import annotations

import csv

import pytest

from ingest.errors import ErrorPolicy
from ingest.files import InputSpec, read_input
from tests.conftest import LOGHUB_FORMATS, shared


@pytest.mark.parametrize("system", sorted(LOGHUB_FORMATS))
def test_header_format_reproduces_loghub_content(system):
    folder = shared("loghub_2k", system)
    with open(folder / f"{system}_2k.log_structured.csv", newline="", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    policy = ErrorPolicy(strict=True)
    spec = InputSpec(path=folder / f"{system}_2k.log", kind="log",
                     format=LOGHUB_FORMATS[system], year=2017)
    records = list(read_input(spec, policy))
    assert len(records) == len(truth) == 2000
    mismatches = [(r.line, r.message, row["Content"]) for r, row in zip(records, truth)
                  if r.message != row["Content"]]
    assert mismatches == []
    assert [r.line for r in records] == [int(row["LineId"]) for row in truth]
    # timestamps are aware UTC and every header field is kept
    assert all(r.ts.tzinfo is not None and r.ts.utcoffset().total_seconds() == 0 for r in records)
    header_fields = [k for k in truth[0] if k not in ("LineId", "Content", "EventId",
                                                       "EventTemplate")]
    for r, row in zip(records[:50], truth[:50]):
        for name in header_fields:
            if row[name]:
                assert r.attributes.get(name) == row[name]


def test_levels_are_normalised_from_header_fields():
    folder = shared("loghub_2k", "Apache")
    spec = InputSpec(path=folder / "Apache_2k.log", kind="log", format=LOGHUB_FORMATS["Apache"])
    from collections import Counter

    levels = Counter(r.level for r in read_input(spec, ErrorPolicy()))
    assert levels == {"NOTICE": 1405, "ERROR": 595}


def test_auto_detection_reads_loghub_files_with_timestamps():
    for system in ("HDFS", "Spark", "Zookeeper", "Apache", "OpenSSH", "Linux", "HealthApp"):
        folder = shared("loghub_2k", system)
        policy = ErrorPolicy(strict=False)
        spec = InputSpec(path=folder / f"{system}_2k.log", kind="log", year=2017)
        records = list(read_input(spec, policy))
        assert len(records) + policy.count >= 1990, (system, policy.first[:2])
        assert records[0].ts.year in (2005, 2008, 2015, 2017), system
