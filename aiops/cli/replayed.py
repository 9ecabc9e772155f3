"""Which files a store has already replayed, so that running a replay twice counts nothing twice.

``aiops replay FILE --store S`` run again (a retried cron job, a shell's history) read the whole
file again into the same store: every record counted twice, the KPIs skewed, and the second
copy all "late". The store now remembers each input it replayed, as log shippers do
(Filebeat's registry, Promtail's positions), by a fingerprint that renaming and rotation keep:
a hash of its first KiB, its size, and a hash of the KiB before that size (two logs that
open with the same banner differ there; a log that was appended to does not). Then:

* the same file again: skipped, and the summary says so;
* a file that grew since: refused, naming the byte it was replayed up to and how to replay
  only the rest (``tail -c +N FILE | aiops replay - --store S``), since a replay reads whole
  files;
* a file whose replay was interrupted: refused (its first records are in the store);
* ``--again`` replays any of them anyway.

The registry lives in the engine's state, so the checkpoint that stores a file's records also
records the file: a replay killed before its first checkpoint leaves no entry behind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ingest.errors import ParseError
from ingest.files import InputSpec

#: bytes hashed at each end of the replayed part (Filebeat's fingerprint reads as many)
SPAN = 1024


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


@dataclass(frozen=True)
class Fingerprint:
    head: str   # hash of the first min(size, SPAN) bytes
    size: int
    tail: str   # hash of the SPAN bytes before ``size``

    @classmethod
    def of(cls, path: Path) -> "Fingerprint":
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            head = fh.read(SPAN)
            fh.seek(max(0, size - SPAN))
            return cls(_hash(head), size, _hash(fh.read(SPAN)))

    def covers(self, entry: dict[str, Any], path: Path) -> bool:
        """Is the file behind this fingerprint the one ``entry`` recorded, or that file grown?"""
        if entry["size"] > self.size:
            return False
        if entry["size"] == self.size:
            return entry["tail"] == self.tail
        with open(path, "rb") as fh:  # grown: the bytes that were its end are still there
            fh.seek(max(0, entry["size"] - SPAN))
            return _hash(fh.read(min(SPAN, entry["size"]))) == entry["tail"]


class ReplayedInputs:
    """The store's record of replayed inputs (head hash -> entries), kept in engine state."""

    def __init__(self, entries: dict[str, list[dict[str, Any]]]) -> None:
        self.entries = entries  # the engine's own dict: its checkpoints write it

    def select(self, specs: list[InputSpec], *, again: bool, store: Path
               ) -> tuple[list[InputSpec], list[dict[str, Any]]]:
        """The inputs to replay, and those skipped as replayed already; raises, naming the
        input, where replaying would count records twice."""
        fresh: list[InputSpec] = []
        skipped: list[dict[str, Any]] = []
        given: dict[Fingerprint, str] = {}
        for spec in specs:
            fp = Fingerprint.of(spec.path)
            if fp in given:
                raise ParseError(f"each input once (it is the same file as {given[fp]})",
                                 source=spec.label, field="paths")
            given[fp] = spec.label
            entry = None if again else self._find(fp, spec.path)
            if entry is None:
                fresh.append(spec)
                continue
            when = entry["replayed_at"]
            if not entry["complete"]:
                raise ParseError(
                    f"an input not replayed into {store} before (its replay there, started "
                    f"{when}, was interrupted: its first records are in the store; --again "
                    f"replays it all anyway, or use another --store)",
                    source=spec.label, field="paths")
            if fp.size > entry["size"]:
                raise ParseError(
                    f"an input not replayed into {store} before (its first {entry['size']:,} "
                    f"bytes were, at {when}; a replay reads whole files. Only the rest: tail -c "
                    f"+{entry['size'] + 1} {spec.label} | aiops replay - --store {store}; or "
                    f"--again)", source=spec.label, field="paths")
            skipped.append({"path": spec.label, "replayed_at": when,
                            "reason": f"replayed into {store} already"})
        return fresh, skipped

    def mark(self, specs: list[InputSpec], *, complete: bool) -> None:
        """Record ``specs`` as being replayed (``complete=False``) or replayed."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        for spec in specs:
            fp = Fingerprint.of(spec.path)
            rows = self.entries.setdefault(fp.head, [])
            rows[:] = [row for row in rows if not fp.covers(row, spec.path)]
            rows.append({"path": spec.label, "size": fp.size, "tail": fp.tail,
                         "replayed_at": now, "complete": complete})

    def _find(self, fp: Fingerprint, path: Path) -> dict[str, Any] | None:
        for row in self.entries.get(fp.head, ()):
            if fp.covers(row, path):
                return row
        # replayed when shorter than SPAN: its whole content then is a prefix of it now
        small = [(key, row) for key, rows in self.entries.items() for row in rows
                 if row["size"] < min(SPAN, fp.size)]
        if not small:
            return None
        with open(path, "rb") as fh:
            head = fh.read(SPAN)
        for key, row in small:
            if _hash(head[:row["size"]]) == key and fp.covers(row, path):
                return row
        return None
