"""Log template mining (placeholder until the templates work lands): plain drain3 per source."""

from __future__ import annotations

import pickle
from typing import Any

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from aiops.schema import LogRecord, iso


class Miner:
    def __init__(self) -> None:
        self.miners_: dict[str, TemplateMiner] = {}
        self.rows_: dict[tuple[str, int], dict[str, Any]] = {}

    def _miner(self, source: str) -> TemplateMiner:
        miner = self.miners_.get(source)
        if miner is None:
            config = TemplateMinerConfig()
            config.profiling_enabled = False
            miner = self.miners_[source] = TemplateMiner(config=config)
        return miner

    def mine(self, records: list[LogRecord]) -> None:
        for r in records:
            source = r.service or r.source
            result = self._miner(source).add_log_message(r.message)
            tid = f"{source}:{result['cluster_id']}"
            r.template_id = tid
            row = self.rows_.setdefault((source, result["cluster_id"]), {
                "id": tid, "source": source, "count": 0, "first_seen": iso(r.ts)})
            row.update(template=result["template_mined"], last_seen=iso(r.ts))
            row["count"] += 1

    def templates(self) -> list[dict[str, Any]]:
        return list(self.rows_.values())

    def get_state(self) -> bytes:
        return pickle.dumps(self.__dict__)

    def set_state(self, state: bytes) -> None:
        self.__dict__.update(pickle.loads(state))


def build_miner(config: dict) -> Miner:
    if config:
        raise TypeError(f"unexpected [templates] keys: {', '.join(config)}")
    return Miner()
