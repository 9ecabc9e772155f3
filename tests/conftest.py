"""Shared fixtures: where the public evaluation data lives, and skipping when it doesn't."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SAMPLES = ROOT / "sample_telemetry"


def shared(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"evaluation data not available: {path} (see ../shared/data/SOURCES.md)")
    return path


def process_running(pid: int) -> bool:
    """Is ``pid`` a live process? A zombie has exited (nobody may reap it in a container)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


LOGHUB_FORMATS = {
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Zookeeper": "<Date> <Time> - <Level>  \\[<Node>:<Component>@<Id>\\] - <Content>",
    "Linux": "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>",
    "Apache": "\\[<Time>\\] \\[<Level>\\] <Content>",
    "HealthApp": "<Time>\\|<Component>\\|<Pid>\\|<Content>",
    "OpenSSH": "<Date> <Day> <Time> <Component> sshd\\[<Pid>\\]: <Content>",
    "Proxifier": "\\[<Time>\\] <Program> - <Content>",
}
