"""Helpers for the detector tests: real evaluation data, skipped when absent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def data_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip with the reason when it is absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"evaluation data not available: {path} (see ../shared/data/SOURCES.md)")
    return path


def nab_frame(name: str) -> pd.DataFrame:
    return pd.read_csv(data_path("nab", "data", "realKnownCause", f"{name}.csv"),
                       parse_dates=["timestamp"])


def epoch(ts: pd.Series) -> np.ndarray:
    return ts.to_numpy().astype("datetime64[ns]").astype(np.int64) / 1e9


def at(minutes: float, start: datetime = datetime(2024, 1, 1, tzinfo=timezone.utc)) -> datetime:
    return start + timedelta(minutes=minutes)
