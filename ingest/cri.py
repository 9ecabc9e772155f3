"""Kubernetes container logs as the container runtime writes them (CRI: containerd, CRI-O).

``/var/log/containers/<pod>_<namespace>_<container>-<id>.log`` and
``/var/log/pods/<namespace>_<pod>_<uid>/<container>/0.log`` hold lines of
``<RFC 3339 time> <stdout|stderr> <P|F> <text>``: the runtime's receipt time, the stream,
and whether the text is a whole line (``F``) or a part the runtime split off a long one
(``P``, the rest follows). The text is whatever the app printed (JSON, klog, log4j...), so
it is parsed again with the layouts ``auto`` knows, for its level, message and fields; the
time stays the runtime's (always there, always in order). Split lines are joined, and a
stack trace's frames join the record they continue, as in a plain file. Without
``--service``, the container the file is named after is the service (as Fluent Bit's
Kubernetes filter names it), else the app's own service field; the pod, namespace and
stream are attributes.
"""

from __future__ import annotations

import re
from typing import Any

from aiops.schema import LogRecord
from ingest.errors import ParseError
from ingest.applines import AppLines
from ingest.layouts import CONTINUATION
from ingest.timestamps import TimestampParser

CRI = re.compile(r"^(?P<Timestamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?"
                 r"(?:Z|[+-]\d{2}:\d{2})) (?P<Stream>stdout|stderr) (?P<Tag>[PF])(?::\S*)?"
                 r"(?: (?P<Content>.*))?$")
_CONTAINER_FILE = re.compile(r"(?:^|/)(?P<pod>[^/_]+)_(?P<namespace>[^/_]+)_(?P<container>[^/]+)"
                             r"-[0-9a-f]{64}\.log(?:\.[^/]*)?$")
_POD_FILE = re.compile(r"(?:^|/)(?P<namespace>[^/_]+)_(?P<pod>[^/_]+)_[^/]+/(?P<container>[^/]+)"
                       r"/\d+\.log(?:\.[^/]*)?$")
#: a run of split parts is a record once it holds this many characters, with the part that
#: reaches it, whatever follows (a bound, not a drop)
MAX_JOINED = 256 * 1024


def container_of(source: str) -> dict[str, str]:
    """Pod, namespace and container named by a kubelet log path ({} for any other path)."""
    m = _CONTAINER_FILE.search(source) or _POD_FILE.search(source)
    return m.groupdict() if m else {}


class CriLineParser:
    """One CRI line to a record; ``unwrapped`` is the app's text of a line that is not one
    (a continuation to join, or None for a split part held for the rest)."""

    def __init__(self, *, service: str = "", source: str = "",
                 timestamps: TimestampParser | None = None) -> None:
        self.service = service
        self.source = source
        self.timestamps = timestamps or TimestampParser()
        pod = container_of(source)
        self.default_service = service or pod.get("container", "")
        #: pod and namespace, the attributes every record of the file has (the container is
        #: its service)
        self.pod = {k: v for k, v in pod.items() if k != "container"}
        self.app: AppLines | None = None  # made when first needed (auto tries this parser)
        self.joins = True  # the reader's multiline setting: "none" makes every line a record
        self.reset()

    def reset(self) -> None:
        """Forget a held split line (the sample ``auto`` read is read again)."""
        self.parts: list[str] = []
        self.first_stamp = self.held_stream = ""
        self.first_line = self.held_chars = 0
        self.raw: list[str] = []
        self.unwrapped: str | None = None

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        text = line.rstrip("\r\n")
        m = CRI.match(text)
        if m is None:
            self.unwrapped = text
            return None
        stamp, stream, tag, content = m.group("Timestamp", "Stream", "Tag", "Content")
        content = content or ""
        if tag == "P" and self.held_chars + len(content) < MAX_JOINED:
            if not self.parts:
                self.first_stamp, self.held_stream, self.first_line = stamp, stream, lineno
            self.parts.append(content)
            self.held_chars += len(content)
            self.raw.append(text)
            self.unwrapped = None
            return None
        if self.parts:  # the last part of a split line: the record is the line's, from its start
            held, raw = self._take()
            content, text = held + content, raw + "\n" + text
            stamp, lineno = self.first_stamp, self.first_line
        if not content.strip() or (self.joins and CONTINUATION.match(content)):
            self.unwrapped = content  # blank (skipped) or the rest of the record before
            return None
        return self._record(stamp, stream, content, text, lineno)

    def held(self) -> LogRecord | None:
        """The split line the input ended in, as a record (a file still being written)."""
        if not self.parts:
            return None
        content, raw = self._take()
        if not content.strip():
            return None
        return self._record(self.first_stamp, self.held_stream, content, raw, self.first_line)

    def _take(self) -> tuple[str, str]:
        """The held parts' text and their lines, no longer held."""
        content, raw = "".join(self.parts), "\n".join(self.raw)
        self.parts, self.raw, self.held_chars = [], [], 0
        return content, raw

    def _record(self, stamp: str, stream: str, content: str, text: str,
                lineno: int) -> LogRecord:
        try:
            ts = self.timestamps.parse(stamp)
        except ParseError as err:
            err.field = "Timestamp"
            raise err.located(source=self.source, line=lineno) from None
        if self.app is None:
            self.app = AppLines(self.source)
        message, service, host, level, fields = (self.app.parse(content, lineno)
                                                 or (content, "", "", "", {}))
        attributes: dict[str, Any] = {"stream": stream, **self.pod, **fields}
        return LogRecord(ts, message, self.default_service or service, host, level, attributes,
                         text, self.source, lineno)
