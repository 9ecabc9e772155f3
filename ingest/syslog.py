"""RFC 3164 (BSD) and RFC 5424 syslog lines, with or without the ``<PRI>`` prefix.

Files written by rsyslog/syslog-ng usually drop the PRI and keep the BSD layout
(``Jun 14 15:16:01 host sshd[42]: msg``); network syslog carries it. The PRI's
severity becomes the record level, the facility an attribute.
"""

from __future__ import annotations

import re
from typing import Any

from aiops.schema import LogRecord
from ingest.errors import ParseError
from ingest.timestamps import TimestampParser

SEVERITY_LEVELS = ("FATAL", "CRITICAL", "CRITICAL", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG")
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
              "authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1",
              "local2", "local3", "local4", "local5", "local6", "local7")

RFC3164 = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?"
    r"(?P<ts>[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:\s+\d{4})?"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?)"
    r"\s+(?P<host>\S+)"
    r"(?:\s+(?P<tag>[^\s:\[\]]{1,48})(?:\[(?P<pid>[^\]]*)\])?:)?"
    r"(?:\s?(?P<msg>.*))?$",
    re.DOTALL,
)
RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>(?P<version>\d{1,2})\s"
    r"(?P<ts>\S+)\s(?P<host>\S+)\s(?P<app>\S+)\s(?P<procid>\S+)\s(?P<msgid>\S+)\s"
    r"(?P<sd>-|(?:\[(?:[^\]\"\\]|\\.|\"(?:[^\"\\]|\\.)*\")*\])+)"
    r"(?:\s(?P<msg>.*))?$",
    re.DOTALL,
)
_SD_ELEMENT = re.compile(r"\[(?P<id>[^\s\]]+)(?P<params>(?:\s+[^=\s\]]+=\"(?:[^\"\\]|\\.)*\")*)\s*\]")
_SD_PARAM = re.compile(r"([^=\s\]]+)=\"((?:[^\"\\]|\\.)*)\"")


def _pri(text: str | None, source: str, lineno: int) -> tuple[str, dict[str, Any]]:
    if text is None:
        return "", {}
    pri = int(text)
    if pri > 191:
        raise ParseError("a syslog PRI between 0 and 191", source=source, line=lineno,
                         field="pri", got=text)
    facility, severity = divmod(pri, 8)
    return SEVERITY_LEVELS[severity], {"facility": FACILITIES[facility], "severity": severity}


def _nil(value: str | None) -> str:
    return "" if value in (None, "-") else value


def parse_structured_data(sd: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    if sd == "-":
        return out
    for element in _SD_ELEMENT.finditer(sd):
        params = {k: re.sub(r"\\([\"\\\]])", r"\1", v)
                  for k, v in _SD_PARAM.findall(element.group("params"))}
        out[element.group("id")] = params
    return out


class SyslogLineParser:
    """Either RFC; ``rfc`` pins one ("3164"/"5424"), default tries 5424 then 3164."""

    def __init__(self, *, rfc: str | None = None, service: str = "", source: str = "",
                 timestamps: TimestampParser | None = None) -> None:
        self.rfc = rfc
        self.service = service
        self.source = source
        self.timestamps = timestamps or TimestampParser()

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        text = line.rstrip("\r\n")
        if self.rfc != "3164":
            m = RFC5424.match(text)
            if m is not None:
                return self._from_5424(m, text, lineno)
            if self.rfc == "5424":
                return None
        m = RFC3164.match(text)
        if m is None:
            return None
        return self._from_3164(m, text, lineno)

    def _ts(self, value: str, lineno: int):
        try:
            return self.timestamps.parse(value)
        except ParseError as err:
            err.field = "timestamp"
            raise err.located(source=self.source, line=lineno) from None

    def _from_3164(self, m: re.Match[str], text: str, lineno: int) -> LogRecord:
        level, attributes = _pri(m.group("pri"), self.source, lineno)
        tag = m.group("tag") or ""
        if m.group("pid"):
            attributes["pid"] = m.group("pid")
        if tag:
            attributes["tag"] = tag
        return LogRecord(
            ts=self._ts(m.group("ts"), lineno), message=m.group("msg") or "",
            service=self.service or tag, host=m.group("host"), level=level,
            attributes=attributes, raw=text, source=self.source, line=lineno,
        )

    def _from_5424(self, m: re.Match[str], text: str, lineno: int) -> LogRecord:
        level, attributes = _pri(m.group("pri"), self.source, lineno)
        app = _nil(m.group("app"))
        for key in ("procid", "msgid"):
            if _nil(m.group(key)):
                attributes[key] = m.group(key)
        sd = parse_structured_data(m.group("sd"))
        if sd:
            attributes["structured_data"] = sd
        if app:
            attributes["app_name"] = app
        msg = (m.group("msg") or "").removeprefix("\ufeff")
        ts_text = m.group("ts")
        if ts_text == "-":
            raise ParseError("an RFC 5424 TIMESTAMP (NILVALUE gives no event time)",
                             source=self.source, line=lineno, field="timestamp", got=ts_text)
        return LogRecord(
            ts=self._ts(ts_text, lineno), message=msg, service=self.service or app,
            host=_nil(m.group("host")), level=level, attributes=attributes, raw=text,
            source=self.source, line=lineno,
        )
