"""Structured (JSON) log records under the field names real shippers use.

Covers plain app JSON (``ts``/``msg``/``level``), ECS (``@timestamp``,
``log.level``, ``service.name``), Docker's json-file (``log``/``time``), bunyan's
numeric levels, syslog-ng's ``_raw`` wrapper for lines that were not JSON, and systemd's
journal as ``journalctl -o json`` writes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import orjson

from aiops.schema import LogRecord, normalize_level
from ingest.errors import ParseError
from ingest.jsondocs import Fields
from ingest.syslog import SEVERITY_LEVELS
from ingest.timestamps import TimestampParser

TS_KEYS = ("ts", "time", "timestamp", "@timestamp", "datetime", "date", "t", "asctime",
           "timeUnixNano", "_received", "received_at", "observedTimestamp")
MSG_KEYS = ("msg", "message", "log", "body", "text", "event", "_raw")
LEVEL_KEYS = ("level", "severity", "lvl", "loglevel", "log.level", "levelname", "severityText")
#: ``kubernetes.*``: Fluent Bit's and Vector's Kubernetes metadata (the container is the
#: service, the node the host); the whole ``kubernetes`` object stays in the attributes
SERVICE_KEYS = ("service", "app", "service.name", "application", "kubernetes.container_name",
                "logger", "name", "program", "tag")
HOST_KEYS = ("host", "hostname", "host.name", "_host", "node", "kubernetes.host")
_BUNYAN = {10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: the journal's fields that become the record's (the rest stay in ``attributes``)
_JOURNAL_ROLES = ("MESSAGE", "__REALTIME_TIMESTAMP", "PRIORITY", "SYSLOG_IDENTIFIER",
                  "_HOSTNAME")


def _from_journal(obj: dict, f: Fields) -> dict:
    """A journal entry (``journalctl -o json``) under the keys this mapping reads.

    The journal names its fields in upper case, stamps entries in microseconds since the
    epoch as a string (exact here: a float would round the last digit), gives the level as
    a syslog priority ("3" is ERROR) and writes a message that is not UTF-8 as an array of
    bytes. The identifier (``SYSLOG_IDENTIFIER``, else the unit, else the command) is the
    service, as ``journalctl`` shows it. Errors name the journal's own fields."""
    out: dict[str, Any] = {k: v for k, v in obj.items() if k not in _JOURNAL_ROLES}
    message = obj["MESSAGE"]
    if isinstance(message, list) and all(type(b) is int and 0 <= b < 256 for b in message):
        message = bytes(message).decode("utf-8", "replace")
    if not isinstance(message, str):
        raise f.error("MESSAGE", "a message string (or an array of its bytes)", message)
    stamp = obj["__REALTIME_TIMESTAMP"]
    if not (isinstance(stamp, str) and stamp.isdigit() and stamp.isascii()):
        raise f.error("__REALTIME_TIMESTAMP", "microseconds since the epoch, as digits", stamp)
    out["msg"] = message
    out["ts"] = (_EPOCH + timedelta(microseconds=int(stamp))).isoformat()
    priority = obj.get("PRIORITY")
    if priority is not None:
        if not (isinstance(priority, str) and priority in "01234567" and len(priority) == 1):
            raise f.error("PRIORITY", "a syslog priority, 0 to 7", priority)
        out["level"] = SEVERITY_LEVELS[int(priority)]
    name = obj.get("SYSLOG_IDENTIFIER") or obj.get("_SYSTEMD_UNIT") or obj.get("_COMM")
    if name:
        out["service"] = name
    if "_HOSTNAME" in obj:
        out["host"] = obj["_HOSTNAME"]
    return out


def _level(value: Any) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return _BUNYAN.get(value, "")
    if isinstance(value, str):
        return normalize_level(value)
    return ""


def record_from_object(obj: Any, *, location: str, source: str, service: str,
                       timestamps: TimestampParser,
                       raw_fallback: Callable[[str, int], LogRecord | None] | None = None,
                       raw: str = "") -> LogRecord:
    """One JSON log object to a LogRecord; unknown fields are kept in ``attributes``."""
    f = Fields(obj, location, source)
    if type(obj) is dict and "__REALTIME_TIMESTAMP" in obj and "MESSAGE" in obj:
        f = Fields(_from_journal(obj, f), location, source)
    lineno = f.line or 0
    key, message = f.first(*MSG_KEYS)
    if key == "_raw" and isinstance(message, str) and raw_fallback is not None:
        # syslog-ng forwards a line it could not parse as JSON with only _raw: parse the raw text
        inner = raw_fallback(message, lineno)
        if inner is not None:
            inner.attributes.update(f.rest())
            return inner
    if message is None:
        raise f.error(MSG_KEYS[0], f"a message (one of: {', '.join(MSG_KEYS)})", None)
    if isinstance(message, dict) and key == "log":  # ECS {"log": {"level": ...}} is not a body
        f.used.discard("log")
        key, message = f.first(*MSG_KEYS[:2], *MSG_KEYS[3:])
        if message is None:
            raise f.error("message", "a message string", None)
    if not isinstance(message, str):
        message = orjson.dumps(message).decode()
    ts = f.timestamp(timestamps, *TS_KEYS)
    level_key, level_value = f.first(*LEVEL_KEYS)
    if isinstance(level_value, dict):
        level_value = level_value.get("level")
    message, level = message.rstrip("\n"), _level(level_value)
    service, host = service or _name(f, SERVICE_KEYS), _name(f, HOST_KEYS)
    attributes = f.rest()
    app_line = getattr(raw_fallback, "app_line", None)
    if key == "log" and level_key is None and app_line is not None:
        # Docker's json-file (and Fluent Bit's or Vector's record of it): ``log`` is the line
        # the app printed, JSON or a text layout with its own level (ingest.applines)
        found = app_line(message, lineno)
        if found is not None:
            message, app_service, app_host, level, fields = found
            service, host = service or app_service, host or app_host
            attributes = {**fields, **attributes}
    return LogRecord(ts=ts, message=message, service=service, host=host, level=level,
                     attributes=attributes, raw=raw, source=source, line=lineno)


def _name(f: Fields, keys: tuple[str, ...]) -> str:
    key, value = f.first(*keys)
    if isinstance(value, dict):
        value = value.get("name") or value.get("hostname")
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    if key is not None:
        f.used.discard(key)  # not a name after all: keep it in attributes
    return ""


class JsonLineParser:
    """One JSON object per line; a non-JSON line is not a record (None)."""

    def __init__(self, *, service: str = "", source: str = "",
                 timestamps: TimestampParser | None = None,
                 raw_fallback: Callable[[str, int], LogRecord | None] | None = None) -> None:
        self.service = service
        self.source = source
        self.timestamps = timestamps or TimestampParser()
        self.raw_fallback = raw_fallback

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        text = line.strip()
        if not text.startswith("{"):
            return None
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"a JSON object ({exc.msg})", source=self.source, line=lineno,
                             got=text) from exc
        return record_from_object(obj, location=f"line {lineno}", source=self.source,
                                  service=self.service, timestamps=self.timestamps,
                                  raw_fallback=self.raw_fallback, raw=line.rstrip("\r\n"))
