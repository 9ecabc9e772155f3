"""Shared fixtures: where the public evaluation data lives, and skipping when it doesn't."""

from __future__ import annotations

import os
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


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid``, from the kernel's lists (Linux)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def process_running(pid: int) -> bool:
    """Is ``pid`` a live process? A zombie has exited (nobody may reap it in a container)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def assert_processes_exit(pids: list[int], outlived: str, timeout: float = 20.0) -> None:
    """Wait for ``pids`` to exit; kill and fail on any left (it ``outlived`` something)."""
    import signal
    import time

    deadline = time.monotonic() + timeout
    while any(process_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in pids if process_running(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"processes {left} outlived {outlived}"


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
