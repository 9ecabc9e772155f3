"""Correlation: a pipeline of stages (dedup -> silence -> inhibit -> flapping ->
group -> lifecycle) turning alerts into explained incidents. ``build_correlator``
is the engine's entry point; the README ("Correlation") documents the rules.
"""

from aiops.correlate.config import CorrelateConfig
from aiops.correlate.correlator import Correlator, build_correlator
from aiops.correlate.state import Changes

__all__ = ["Changes", "CorrelateConfig", "Correlator", "build_correlator"]
