"""Which files a store has already replayed, so that running a replay twice counts nothing twice.

``aiops replay FILE --store S`` run again (a retried cron job, a shell's history) read the whole
file again into the same store: every record counted twice, the KPIs skewed, and the second
copy all "late". The store now remembers each input replayed into it: its path (absolute; for
``-`` and pipes the name they are given) and a fingerprint of what was read, as log shippers
keep (Filebeat's registry): its size, a hash of its first KiB and a hash of the KiB before
that size. A replay reads an input up to the size it fingerprinted, not whatever a writer
appends meanwhile. Then, for the same path:

* the same content again: skipped, and the summary says so;
* the content grown at its end since (the old head and old last KiB where they were): the
  new part is replayed, from the byte where the store's copy ends (line numbers go on from
  there), for log files and metric CSVs; a line that was being written when the store read
  it was read as it stood, so its rest is skipped. Other grown inputs (gzip, JSON documents,
  Prometheus text) are refused, naming the byte the store holds;
* an interrupted replay of it: refused (its first records are in the store);
* other content (rotated, rewritten): a new input, replayed;
* ``--again`` replays any of them whole anyway.

Identity is the path with the content, not the content alone: a metrics CSV names its series
after its file, so two files with the same lines are two inputs. A rotated file under a new
name is a new input, as before.

The registry lives in the engine's state, so the checkpoint that stores a file's records also
records the file: a replay killed before its first checkpoint leaves no entry behind.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ingest.errors import ParseError
from ingest.files import InputSpec, kind_and_format, resumable

#: bytes hashed at each end of the replayed part (Filebeat's fingerprint reads as many)
SPAN = 1024


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _key(spec: InputSpec) -> str:
    """What names an input across runs: its absolute path, or the name a pipe was given."""
    return spec.source or str(Path(spec.path).resolve())


def _fingerprint(path: Path, size: int | None = None) -> dict[str, Any]:
    """Size, first-KiB hash and last-KiB hash of ``path``'s first ``size`` bytes (all of it)."""
    with open(path, "rb") as fh:
        end = fh.seek(0, 2) if size is None else size
        fh.seek(0)
        head = fh.read(min(SPAN, end))
        fh.seek(max(0, end - SPAN))
        tail = fh.read(min(SPAN, end))
    return {"size": end, "head": _hash(head), "tail": _hash(tail)}


class ReplayedInputs:
    """The store's record of replayed inputs (input key -> entry), kept in engine state."""

    def __init__(self, entries: dict[str, dict[str, Any]]) -> None:
        self.entries = entries  # the engine's own dict: its checkpoints write it

    def select(self, specs: list[InputSpec], *, again: bool, store: Path
               ) -> tuple[list[InputSpec], list[dict[str, Any]]]:
        """The inputs to replay, and those skipped as replayed already; raises, naming the
        input, where replaying would count records twice."""
        fresh: list[InputSpec] = []
        skipped: list[dict[str, Any]] = []
        given: dict[str, str] = {}
        for spec in specs:
            key = _key(spec)
            if key in given:
                raise ParseError(f"each input once (given twice, also as {given[key]})",
                                 source=spec.label, field="paths")
            given[key] = spec.label
            entry = None if again else self.entries.get(key)
            if entry is None:
                fresh.append(spec)
                continue
            size = Path(spec.path).stat().st_size
            if size < entry["size"] or not entry["size"] or \
                    _fingerprint(spec.path, entry["size"]) != {k: entry[k] for k in
                                                               ("size", "head", "tail")}:
                fresh.append(spec)  # other content under the same name: a new input
                continue
            when = entry["replayed_at"]
            if not entry["complete"]:
                raise ParseError(
                    f"an input not replayed into {store} before (its replay there, started "
                    f"{when}, was interrupted: its first records are in the store; --again "
                    f"replays it all anyway, or use another --store)",
                    source=spec.label, field="paths")
            if size > entry["size"]:
                if not resumable(spec, *kind_and_format(spec)):
                    raise ParseError(
                        f"an input not replayed into {store} before (its first "
                        f"{entry['size']:,} bytes were, at {when}, and it has grown since; only "
                        f"log files and metric CSVs are replayed from where they were left: "
                        f"replay it into a new --store, or pass --again to count those bytes' "
                        f"records twice)", source=spec.label, field="paths")
                _resume(spec, entry["size"])
                fresh.append(spec)
                continue
            skipped.append({"path": spec.label, "replayed_at": when,
                            "reason": f"replayed into {store} already"})
        return fresh, skipped

    def begin(self, specs: list[InputSpec]) -> None:
        """Record ``specs`` as being replayed: fingerprinted now, before they are read, and
        read up to the size fingerprinted (a writer may append while they are read)."""
        now = _now()
        for spec in specs:
            entry = self.entries[_key(spec)] = {**_fingerprint(spec.path), "path": spec.label,
                                                "replayed_at": now, "complete": False}
            spec.end = entry["size"]

    def finish(self, specs: list[InputSpec]) -> None:
        """Record the replay of ``specs`` (begun with :meth:`begin`) as complete. The
        fingerprint stays the one taken before reading: one taken now could cover lines
        appended after the reader reached the end, which a later replay would then skip."""
        now = _now()
        for spec in specs:
            self.entries[_key(spec)].update(replayed_at=now, complete=True)


def _resume(spec: InputSpec, replayed: int) -> None:
    """Point ``spec`` at the part of its file after the first ``replayed`` bytes, and count
    the lines before it (the records' line numbers go on from there)."""
    newlines, start = 0, replayed
    with open(spec.path, "rb") as fh:
        fh.seek(replayed - 1)
        if fh.read(1) != b"\n":  # read part way through a line, as it stood: skip its rest
            while chunk := fh.read(1 << 20):
                cut = chunk.find(b"\n")
                if cut >= 0:
                    start += cut + 1
                    break
                start += len(chunk)
        fh.seek(0)
        left = start
        while left and (chunk := fh.read(min(left, 1 << 20))):
            newlines += chunk.count(b"\n")
            left -= len(chunk)
    spec.start, spec.lines_before = start, newlines


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
