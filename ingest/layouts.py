"""The text log layouts ``auto`` recognises without being told, and how each is named.

An operator points aiops at the logs a fleet already writes; the layouts below are the
ones found on nearly every such machine, so none of them should need a ``--log-format``:

* ``auto:timestamped``: a leading timestamp, an optional level, the message (log4j,
  logback, Python's ``logging``, Go's ``log``, nginx's error log, Apache's ``[ctime]``);
* ``auto:bracketed``: the timestamp in brackets, then an optional level (Kafka,
  ZooKeeper's and Laravel's ``[2026-03-02 10:00:00,123] INFO ...``, ``[ISO] WARN``,
  Proxifier's ``[10.30 16:49:06]``);
* ``auto:klog``: Kubernetes components and glog (``E0302 10:00:01.000001  1234
  reflector.go:138] msg``), the level a letter, the year the stream's (``--year``);
* ``auto:ruby``: Ruby's ``Logger`` (Rails): ``E, [2026-03-02T10:00:01.654321 #1234] ERROR
  -- : msg``;
* ``auto:postgres``, ``auto:mysql``, ``auto:redis``: the databases' own logs, whose level
  does not follow the stamp (``2026-03-02 10:00:01.456 UTC [1240] ERROR:``, ``... 12
  [ERROR] [MY-013183] [InnoDB]``, ``1:M 02 Mar 2026 10:00:05.000 # WARNING``); a PostgreSQL
  stamp's ``UTC`` or offset is its zone (another zone name is ambiguous, ``CST``: the
  stream's ``--timezone`` then applies);
* ``auto:access``: the NCSA common and combined access logs (Apache's and nginx's
  defaults); the level comes from the status (5xx ERROR, 4xx WARN, else INFO) so that a
  burst of 500s is an error burst, and the message is the request, status and size (the
  referrer and user agent go to attributes: browsers do not split templates).

A level word counts only as a whole word: ``Errors found`` is a message, not level ERROR
with the message ``s found``.
"""

from __future__ import annotations

import re

from aiops.schema import LEVELS, LogRecord
from ingest.errors import ParseError
from ingest.headerformat import RegexLineParser

_TS_PREFIX = (
    r"(?P<Timestamp>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\[[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4}\]"
    r"|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?"
    r"|\d{6} \d{6}|\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}|\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
    r"|\d{8}-\d{1,2}:\d{1,2}:\d{1,2}(?::\d+)?|\d{10}(?:\.\d+)?|\d{13})"
)
_BRACKETED_TS = (
    r"\[(?P<Timestamp>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
    r"|\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?"
    r"|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?"
    r"|\d{2}\.\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d+)?)\]"
)
_LEVEL_WORDS = "|".join(sorted(set(LEVELS) | {"WARNING", "ERR", "CRIT", "EMERG", "SEVERE"},
                               key=len, reverse=True))


def _level(channel: str = "") -> str:
    """An optional level after the stamp, as a whole word (``[ERROR]``, ``ERROR:``, ``- ERROR
    -``), after an optional ``channel`` pattern."""
    return (r"(?:\s*[-|:]?\s*\[?" + channel + r"(?P<Level>(?i:" + _LEVEL_WORDS
            + r"))(?!\w)\]?:?)?")



#: a process or thread id between the stamp and an upper-case level (HDFS: ``081109 203615
#: 148 INFO dfs.DataNode: ...``, many Java layouts)
_PID_BEFORE_LEVEL = (r"(?:\s+(?P<Pid>\d+)(?=\s+(?:" + _LEVEL_WORDS.upper() + r")(?!\w)))?")
GENERIC_TIMESTAMPED = re.compile(
    r"^" + _TS_PREFIX + _PID_BEFORE_LEVEL + _level() + r"\s*[-|:]?\s*(?P<Content>.*)$")
#: Laravel/Monolog write the channel before the level: ``production.ERROR:``
BRACKETED = re.compile(
    r"^" + _BRACKETED_TS + _level(channel=r"(?:[A-Za-z][\w-]*\.)?")
    + r"\s*[-|:]?\s*(?P<Content>.*)$")
KLOG = re.compile(
    r"^(?P<Level>[IWEF])(?P<Timestamp>\d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?)\s+(?P<Thread>\d+)\s+"
    r"(?P<Caller>[^\s\]]+)\] (?P<Content>.*)$")
RUBY = re.compile(
    r"^[DIWEFAU], \[(?P<Timestamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)"
    r" #(?P<Pid>\d+)\]\s+(?P<Level>[A-Z]+) -- (?P<Progname>[^:]*): (?P<Content>.*)$")
#: PostgreSQL's default ``log_line_prefix`` ('%m [%p] ', Debian's '%m [%p] %q%u@%d '); a
#: DETAIL/HINT/STATEMENT line keeps its keyword in the message and has no level
POSTGRES = re.compile(
    r"^(?P<Timestamp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?"
    r"(?: (?:UTC|GMT|[+-]\d{2}(?::?\d{2})?))?)(?: (?P<Zone>[A-Z]{2,5}))? \[(?P<Pid>\d+)\]"
    r"(?:-\d+)?:? (?:(?P<User>[^@\s\[]*)@(?P<Database>\S*) )?"
    r"(?:(?P<Level>LOG|ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|DEBUG)\d?:\s+)?(?P<Content>.*)$")
#: MySQL 5.7 and 8's error log (8 adds the error code and the subsystem)
MYSQL = re.compile(
    r"^(?P<Timestamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?) "
    r"(?P<Thread>\d+) \[(?P<Level>Note|Warning|ERROR|Error|System)\] "
    r"(?:\[(?P<Code>MY-\d+)\] )?(?:\[(?P<Subsystem>[\w-]+)\] )?(?P<Content>.*)$")
#: Redis: pid:role, its own stamp, and the level as a symbol
REDIS = re.compile(
    r"^(?P<Pid>\d+):(?P<Role>[XCSM]) (?P<Timestamp>\d{1,2} [A-Z][a-z]{2} \d{4} "
    r"\d{2}:\d{2}:\d{2}(?:\.\d+)?) (?P<Level>[.*#-]) (?P<Content>.*)$")
_QUOTED = r'"(?:[^"\\]|\\.)*"'
ACCESS = re.compile(
    r"^(?P<Client>\S+) (?P<Ident>\S+) (?P<User>\S+(?: \S+)*?) "
    r"\[(?P<Timestamp>\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?)\] "
    r"(?P<Content>" + _QUOTED + r" (?P<Status>\d{3}) (?P<Bytes>\d+|-))"
    r"(?: (?P<Referer>" + _QUOTED + r") (?P<UserAgent>" + _QUOTED + r"))?(?: (?P<Extra>.*))?$")

#: a line that continues the record before it (a stack trace's frames, ``Caused by:``...)
CONTINUATION = re.compile(
    r"^(?:\s|at\s|Caused by[: ]|\.\.\. \d+ (?:more|common frames)|Traceback \(most recent|"
    r"File \"|During handling of|The above exception|[A-Za-z_][\w.$]*(?:Exception|Error)\b)"
)

#: the name each layout's parser reports as its format (``inputs[].format``)
LAYOUT_NAMES = {GENERIC_TIMESTAMPED: "auto:timestamped", BRACKETED: "auto:bracketed",
                KLOG: "auto:klog", RUBY: "auto:ruby", ACCESS: "auto:access",
                POSTGRES: "auto:postgres", MYSQL: "auto:mysql", REDIS: "auto:redis"}


class AccessLogParser(RegexLineParser):
    """The access-log layout, its level from the HTTP status."""

    def __init__(self, **kw) -> None:
        super().__init__(ACCESS, **kw)

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        record = super().parse(line, lineno)
        if record is not None:
            status = record.attributes["Status"]
            record.level = "ERROR" if status[0] == "5" else "WARN" if status[0] == "4" else "INFO"
        return record


class RedisLogParser(RegexLineParser):
    """Redis's layout, its level from the symbol (``.`` debug, ``-`` verbose, ``*`` notice,
    ``#`` warning)."""

    LEVELS = {".": "DEBUG", "-": "DEBUG", "*": "NOTICE", "#": "WARN"}

    def __init__(self, **kw) -> None:
        super().__init__(REDIS, **kw)

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        record = super().parse(line, lineno)
        if record is not None:
            record.level = self.LEVELS[record.attributes["Level"]]
        return record


def first_fit(parsers: list, text: str, lineno: int = 0,
              first: int = 0) -> tuple[int, LogRecord] | None:
    """(index, record) of the first parser that reads ``text`` as a record, trying
    ``parsers[first]`` before the others (a stream keeps its layout); None if none does."""
    for i in (first, *range(len(parsers))):
        try:
            record = parsers[i].parse(text, lineno)
        except ParseError:
            continue
        if record is not None:
            return i, record
    return None


def database_layouts(kw: dict) -> list[RegexLineParser]:
    """PostgreSQL's and MySQL's: ``auto`` prefers them to syslog's and the generic layout,
    which fit their lines too, less well (a MySQL line is RFC 3164 with host '0')."""
    return [RegexLineParser(POSTGRES, **kw), RegexLineParser(MYSQL, **kw)]


def generic_layouts(kw: dict) -> list[RegexLineParser]:
    return [RegexLineParser(GENERIC_TIMESTAMPED, **kw), RegexLineParser(BRACKETED, **kw)]


def program_layouts(kw: dict) -> list[RegexLineParser]:
    """Layouts no other fits: tried after the common ones, which end the search when they fit
    every line."""
    return [RegexLineParser(KLOG, **kw), RegexLineParser(RUBY, **kw), RedisLogParser(**kw),
            AccessLogParser(**kw)]


def text_layouts(kw: dict) -> list[RegexLineParser]:
    """A parser per layout, in the order ``auto`` prefers them when they fit equally."""
    return [*database_layouts(kw), *generic_layouts(kw), *program_layouts(kw)]
