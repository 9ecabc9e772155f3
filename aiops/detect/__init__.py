"""Anomaly detectors (placeholder until the detection work lands): none yet."""


def build_detectors(config: dict) -> list:
    if config:
        raise TypeError(f"unexpected [detect] keys: {', '.join(config)}")
    return []
