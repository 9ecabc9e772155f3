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
  there), for line by line inputs (logs, metric CSVs, JSON lines); a line that was being
  written when the store read it was read as it stood, so its rest is skipped. Other grown
  inputs (JSON documents, Prometheus text) are refused, naming the byte the store holds;
* an interrupted replay of it: refused (its first records are in the store);
* other content (rotated, rewritten): a new input, replayed;
* ``--again`` replays any of them whole anyway.

A file under a new name whose content the store replayed under another name that no longer
holds it (logrotate's ``app.log`` -> ``app.log.1`` -> ``app.log.2.gz``) is that input moved:
skipped, or resumed where the store left it. Fingerprints are of the content, a gzip file's
decompressed. Identity is otherwise the path with the content, not the content alone: a
metrics CSV names its series after its file, so two files with the same lines, both still
there, are two inputs; a log whose whole content is another replayed log's, still there, is
that log again (logrotate compressing app.log.1 into app.log.2.gz has both for a moment).

The registry lives in the engine's state, so the checkpoint that stores a file's records also
records the file: a replay killed before its first checkpoint leaves no entry behind.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ingest.errors import ParseError
from ingest.files import InputSpec, is_gzip, kind_and_format, open_content, resumable

#: bytes hashed at each end of the replayed part (Filebeat's fingerprint reads as many)
SPAN = 1024
#: joins a path and a tag in the key of an entry whose path has other content since
_HELD = "\0"
#: such entries kept per path (the oldest go): a few rotations' worth
HELD_PER_PATH = 8
_FINGERPRINT = ("size", "head", "tail")


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _key(spec: InputSpec) -> str:
    """What names an input across runs: its absolute path, or the name a pipe was given."""
    return spec.source or str(Path(spec.path).resolve())


def _fingerprint(path: str | Path, size: int | None = None) -> dict[str, Any]:
    """Size, first-KiB hash and last-KiB hash of the first ``size`` bytes of ``path``'s
    content (all of it; a gzip file's decompressed content, read through once)."""
    with open_content(path) as fh:
        if isinstance(fh, gzip.GzipFile):
            head = tail = b""
            end = 0
            while size is None or end < size:
                chunk = fh.read(1 << 20 if size is None else min(1 << 20, size - end))
                if not chunk:
                    break
                if len(head) < SPAN:
                    head += chunk[:SPAN - len(head)]
                tail = (tail + chunk)[-SPAN:]
                end += len(chunk)
        else:
            end, head, tail = _ends(fh, size)
    return {"size": end, "head": _hash(head), "tail": _hash(tail), "of": "content"}


def _ends(fh, size: int | None) -> tuple[int, bytes, bytes]:
    """A seekable file's size (at most ``size``), first KiB and KiB before that size."""
    end = fh.seek(0, 2) if size is None else min(size, fh.seek(0, 2))
    fh.seek(0)
    head = fh.read(min(SPAN, end))
    fh.seek(max(0, end - SPAN))
    return end, head, fh.read(min(SPAN, end))


def _holds(path: str | Path, entry: dict[str, Any]) -> bool:
    """Does ``path`` (still) begin with what ``entry`` fingerprinted?"""
    if not entry["size"]:
        return False
    if _legacy_gzip(path, entry):  # unchanged, that is
        return _raw_fingerprint(path) == {k: entry[k] for k in _FINGERPRINT}
    got = _fingerprint(path, entry["size"])
    return all(got[k] == entry[k] for k in _FINGERPRINT)


def _legacy_gzip(path: str | Path, entry: dict[str, Any]) -> bool:
    """A gzip file fingerprinted before fingerprints were of the content: of its own bytes."""
    return "of" not in entry and is_gzip(path)


def _raw_fingerprint(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        end, head, tail = _ends(fh, None)
    return {"size": end, "head": _hash(head), "tail": _hash(tail)}


class ReplayedInputs:
    """The store's record of replayed inputs (input key -> entry), kept in engine state."""

    def __init__(self, entries: dict[str, dict[str, Any]]) -> None:
        self.entries = entries  # the engine's own dict: its checkpoints write it
        self._keys: dict[int, str] = {}  # id(spec) -> its key, taken before it was pinned
        self._pinned: list[int] = []  # descriptors of the files this run reads

    def _pin(self, spec: InputSpec) -> str:
        """Open ``spec``'s file now and read it through that descriptor from here on: what is
        fingerprinted, resumed and read is then one file, even if logrotate renames it and
        starts another under its name part way (reading the new file from the old one's
        offset lost the lines in between). Returns the input's key."""
        key = self._keys.get(id(spec)) or _key(spec)
        if id(spec) in self._keys or not os.path.isdir("/dev/fd"):
            return key
        spec.kind, spec.format = kind_and_format(spec)  # sniffed by its name while it has one
        try:
            fd = os.open(spec.path, os.O_RDONLY)
        except OSError as exc:
            raise ParseError(f"a readable file ({exc.strerror})", source=spec.label,
                             field="paths") from None
        self._pinned.append(fd)
        spec.source = spec.label  # records and errors keep its name
        spec.path = Path(f"/dev/fd/{fd}")
        self._keys[id(spec)] = key
        return key

    def release(self) -> None:
        """Close the descriptors of this run's files (see :meth:`_pin`)."""
        for fd in self._pinned:
            os.close(fd)
        self._pinned, self._keys = [], {}

    def select(self, specs: list[InputSpec], *, again: bool, store: Path
               ) -> tuple[list[InputSpec], list[dict[str, Any]]]:
        """The inputs to replay, and those skipped as replayed already; raises, naming the
        input, where replaying would count records twice."""
        fresh: list[InputSpec] = []
        skipped: list[dict[str, Any]] = []
        given: dict[str, str] = {}
        # entries as they were: re-keying one below must not hide it from a file further on
        # (app.log.1 holds what app.log did, app.log.2.gz what app.log.1 did)
        before = dict(self.entries)
        moved: set[str] = set()  # entries claimed by a file under a new name
        replaced: list[tuple[str, dict[str, Any], InputSpec]] = []
        for spec in specs:
            key = self._pin(spec)
            if key in given:
                raise ParseError(f"each input once (given twice, also as {given[key]})",
                                 source=spec.label, field="paths")
            given[key] = spec.label
            if again:
                fresh.append(spec)
                continue
            entry = before.get(key)
            if entry is not None and not _holds(spec.path, entry):
                replaced.append((key, entry, spec))  # other content here now
                entry = None
            if entry is None:
                entry = _moved_here(before, spec, key, moved)
            if entry is None:  # new, or other content under the same name: a new input
                fresh.append(spec)
                continue
            self._take(spec, key, entry, store, fresh, skipped)
        for taken in moved:  # held for a file that would take them over: taken now
            if _HELD in taken:
                del self.entries[taken]
        for key, entry, spec in replaced:
            if key in moved or "of" not in entry:
                continue
            follow = _rotated_to(spec, key, entry, given)
            if follow is None:  # its new name not found: held for a later run that gives it
                self._hold(key, entry)
                continue
            moved.add(key)
            follow_key = self._pin(follow)
            given[follow_key] = follow.label
            self._take(follow, follow_key, entry, store, fresh, skipped)
        return fresh, skipped

    def _take(self, spec: InputSpec, key: str, entry: dict[str, Any], store: Path,
              fresh: list[InputSpec], skipped: list[dict[str, Any]]) -> None:
        """``spec`` holds what ``entry`` recorded: skipped, resumed, or refused (raises)."""
        when, size = entry["replayed_at"], entry["size"]
        name = f" (as {entry['path']})" if entry["path"] != spec.label else ""
        if not entry["complete"]:
            raise ParseError(
                f"an input not replayed into {store} before (its replay there{name}, "
                f"started {when}, was interrupted: its first records are in the store; "
                f"--again replays it all anyway, or use another --store)",
                source=spec.label, field="paths")
        spec.replayed_as = entry["path"] if name else ""
        if not _legacy_gzip(spec.path, entry) and _fingerprint(spec.path)["size"] > size:
            if not resumable(spec, *kind_and_format(spec)):
                raise ParseError(
                    f"an input not replayed into {store} before (its first {size:,} bytes "
                    f"were{name}, at {when}, and it has grown since; only line by line "
                    f"inputs (logs, metric CSVs, JSON lines) are replayed from where they "
                    f"were left: replay it into a new --store, or pass --again to count "
                    f"those bytes' records twice)",
                    source=spec.label, field="paths")
            _resume(spec, size)
            fresh.append(spec)
            return
        self.entries[key] = dict(entry, path=spec.label)  # found here next time
        skipped.append({"path": spec.label, "replayed_at": when,
                        "reason": f"replayed into {store} already{name}"})

    def begin(self, specs: list[InputSpec]) -> None:
        """Record ``specs`` as being replayed: fingerprinted now, before they are read, and
        read up to the size fingerprinted (a writer may append while they are read)."""
        now = _now()
        for spec in specs:
            key = self._pin(spec)
            entry = self.entries[key] = {**_fingerprint(spec.path), "path": spec.label,
                                         "replayed_at": now, "complete": False}
            spec.end = entry["size"]

    def _hold(self, key: str, entry: dict[str, Any]) -> None:
        """Keep the entry of content that ``key``'s path no longer holds, under a key of its
        own, when no input of this run took it over: the file it went to (``app.log`` rotated
        to ``app.log.1`` after a shell listed ``app.log*``, or not given this time) can take
        it over later."""
        self.entries[f"{key}{_HELD}{entry['replayed_at']}{_HELD}{entry['head'][:12]}"] = entry
        held = sorted((e["replayed_at"], k) for k, e in self.entries.items()
                      if k.startswith(key + _HELD))
        for _, k in held[:-HELD_PER_PATH]:
            del self.entries[k]

    def finish(self, specs: list[InputSpec]) -> None:
        """Record the replay of ``specs`` (begun with :meth:`begin`) as complete. The
        fingerprint stays the one taken before reading: one taken now could cover lines
        appended after the reader reached the end, which a later replay would then skip."""
        now = _now()
        for spec in specs:
            self.entries[self._pin(spec)].update(replayed_at=now, complete=True)


def _moved_here(entries: dict[str, dict[str, Any]], spec: InputSpec, key: str,
                moved: set[str]) -> dict[str, Any] | None:
    """The entry of an input replayed under another name whose content ``spec`` now holds,
    that name no longer holding it (a log rotated to a new name, compressed or not); each
    claimed once. The fullest such entry wins: an older one may cover less of it."""
    with open_content(spec.path) as fh:
        head = fh.read(SPAN)
    found: tuple[str, dict[str, Any]] | None = None
    for other, entry in entries.items():
        size = entry["size"]
        if other == key or other in moved or "of" not in entry or not size \
                or entry["head"] != _hash(head[:size]) or len(head) < min(SPAN, size) \
                or (found is not None and found[1]["size"] >= size):
            continue
        file, _, held = other.partition(_HELD)
        if not _holds(spec.path, entry) or not Path(file).is_absolute():
            continue  # not this content, or a pipe's name
        if not held and Path(file).is_file() and _holds(file, entry) and \
                not _log_copy(spec, file, entry):
            continue  # still there: another input (a metrics CSV's name is its series)
        found = other, entry
    if found is None:
        return None
    moved.add(found[0])
    return found[1]


def _rotated_to(spec: InputSpec, key: str, entry: dict[str, Any],
                given: dict[str, str]) -> InputSpec | None:
    """Where the content ``key`` held went, when the run did not list it: a file beside it
    named after it (logrotate's ``app.log.1``, ``app.log-20261129``, ``app.log.1.gz``) that
    holds it, to be read with the new ``app.log`` (the lines written before the rotation,
    which a cron job replaying ``app.log`` alone would otherwise never read). Logs, events
    and alerts only: a metrics CSV names its series after its file, so a new name would be
    another series. None if none is found, or it cannot be read on from where it was left."""
    path = Path(key)
    if not path.is_absolute() or not entry["complete"] or \
            kind_and_format(spec)[0] not in ("log", "event", "alert"):
        return None
    try:
        beside = sorted((p for p in path.parent.iterdir()
                         if p.name != path.name and p.name.startswith(path.name) and p.is_file()),
                        key=lambda p: p.stat().st_mtime, reverse=True)[:20]
    except OSError:
        return None
    for candidate in beside:
        if str(candidate.resolve()) in given or not _holds(candidate, entry):
            continue
        follow = replace(spec, path=Path(spec.label).parent / candidate.name, source="",
                         start=0, end=None, lines_before=0, replayed_as="")  # named as given
        if _fingerprint(candidate)["size"] > entry["size"] and \
                not resumable(follow, *kind_and_format(follow)):
            return None
        return follow
    return None


def _log_copy(spec: InputSpec, file: str, entry: dict[str, Any]) -> bool:
    """Is ``spec`` a log whose whole content is what ``entry`` fingerprinted of ``file``? Two
    files with one log's lines are one log twice (logrotate compressing app.log.1 into
    app.log.2.gz has both for a moment), not two sources."""
    return kind_and_format(spec)[0] == "log" and \
        _fingerprint(spec.path)["size"] == entry["size"] == _fingerprint(file)["size"]


def _resume(spec: InputSpec, replayed: int) -> None:
    """Point ``spec`` at the part of its content after the first ``replayed`` bytes, and
    count the lines before it (the records' line numbers go on from there)."""
    newlines, start = 0, replayed
    with open_content(spec.path) as fh:
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
