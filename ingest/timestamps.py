"""Timestamps in the forms real logs use, turned into aware UTC datetimes.

One parser instance per stream: it remembers which layout matched last (logs
rarely change layout mid-file) and caches recent strings (many lines share a
second), which makes timestamp parsing a dict lookup for most lines.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from typing import Callable

from aiops.schema import UTC
from ingest.errors import ParseError

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

#: '2026-01-01 10:00:00,123' -> ('2026-01-01 10:00:00', ',', '123'): naive stamps only
_FRACTION_TAIL = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}|\d{2}/\d{2}/\d{2,4} \d{2}:\d{2}:\d{2}"
                            r"|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2})([.,])(\d{1,9})$")
_ZONE_AFTER_SPACE = re.compile(r"\s+(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$")
#: '2026-01-01T10:00:07.123Z' -> ('2026-01-01T10:00', '07', '123', 'Z'): the usual ISO stamp,
#: naive or UTC, with or without a fraction
_ISO_FAST = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}):([0-5]\d)(?:[.,](\d{1,9}))?(Z?)")

EXPECTED = (
    "a timestamp (ISO 8601, epoch s/ms/us/ns, 'Jun 14 15:16:01', '081109 203615', "
    "'17/06/09 20:10:40', 'Sun Dec 04 04:47:44 2005', '10/Oct/2000:13:55:36 -0700', ...)"
)


def resolve_timezone(name: str | tzinfo | None) -> tzinfo:
    """'UTC', 'Europe/Paris', '+02:00' or a tzinfo; the zone naive timestamps are read in."""
    if name is None or name == "":
        return UTC
    if isinstance(name, tzinfo):
        return name
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", name)
    if m:
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return timezone(-delta if m.group(1) == "-" else delta)
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError
        raise ParseError("a timezone name such as 'UTC', 'Europe/Paris' or '+02:00'",
                         field="timezone", got=name) from exc


def _frac(text: str | None) -> int:
    """Fractional-second digits to microseconds (nanoseconds are truncated)."""
    if not text:
        return 0
    return int((text + "000000")[:6])


#: fractional-second digits -> timedelta, shared by every stream: millisecond stamps have
#: only 1000 distinct fractions
_FRACTIONS: dict[str, timedelta] = {}


def fraction(frac: str) -> timedelta | None:
    """``"123"`` -> 123 ms, truncated to microseconds like ``datetime.fromisoformat``
    (memoised; None if ``frac`` is not 1-9 ASCII digits)."""
    delta = _FRACTIONS.get(frac)
    if delta is not None:
        return delta
    if not 0 < len(frac) <= 9 or not frac.isdigit() or not frac.isascii():
        return None
    if len(_FRACTIONS) > 100_000:
        _FRACTIONS.clear()
    delta = _FRACTIONS[frac] = timedelta(microseconds=_frac(frac))
    return delta


#: "00".."59" -> that many seconds
_SECONDS = {f"{s:02d}": timedelta(seconds=s) for s in range(60)}


def _month(name: str) -> int:
    return _MONTHS[name[:3].lower()]


class TimestampParser:
    """Parses one stream's timestamps; ``tz`` applies to naive values, ``year`` to year-less ones."""

    def __init__(self, tz: str | tzinfo | None = None, year: int | None = None,
                 min_year: int = 1970, max_year: int = 2200, cache_size: int = 65536) -> None:
        self.tz = resolve_timezone(tz)
        self.year = year
        self.min_year = min_year
        self.max_year = max_year
        self.cache_size = cache_size
        self._cache: dict[str, datetime] = {}
        self._last = 0
        self._last_month = 0
        self._year_offset = 0
        # a fixed offset: a stamp is its minute's instant plus its seconds (with a zone
        # that has DST, leave every second to the full parse)
        self._fixed = self.tz is UTC or isinstance(self.tz, timezone)
        self._minutes: dict[str, datetime] = {}
        self._layouts: list[tuple[re.Pattern[str], Callable[[re.Match[str]], datetime]]] = [
            (re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"
                        r"\s?(?:Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"), self._iso),
            (re.compile(r"-?\d+(?:\.\d+)?"), self._epoch_text),
            (re.compile(r"(\d{2})(\d{2})(\d{2})\s+(\d{2})(\d{2})(\d{2})"), self._yymmdd_hhmmss),
            (re.compile(r"(\d{2,4})/(\d{2})/(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"),
             self._slashed),
            (re.compile(r"(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})"
                        r"(?:[.,](\d+))?\s+(\d{4})"), self._ctime),
            (re.compile(r"([A-Za-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"),
             self._syslog),
            (re.compile(r"(\d{4})(\d{2})(\d{2})-(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[:.,](\d+))?"),
             self._compact_dash),
            (re.compile(r"(\d{2})\.(\d{2})\s+(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"), self._md_dotted),
            (re.compile(r"(\d{2})-(\d{2})\s+(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"), self._md_dashed),
            # Redis's '02 Mar 2026 10:00:00.123'
            (re.compile(r"(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"),
             self._day_month_year),
            # klog/glog's '0302 10:00:01.000001' (after its level letter)
            (re.compile(r"(\d{2})(\d{2})\s+(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"), self._md_dotted),
            (re.compile(r"(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\s*([+-]\d{4}))?"),
             self._clf),
            (re.compile(r"[A-Za-z]{3},\s+\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{2}:\d{2}:\d{2}.*"),
             self._rfc2822),
        ]

    # -- public -------------------------------------------------------------------------
    def parse(self, value: str | int | float) -> datetime:
        """Any supported form to aware UTC; raises ParseError (without location) otherwise."""
        if isinstance(value, bool):
            raise ParseError(EXPECTED, got=value)
        if isinstance(value, (int, float)):
            return self._check(self._epoch(float(value), value))
        if not isinstance(value, str):
            raise ParseError(EXPECTED, got=value)
        cache = self._cache
        hit = cache.get(value)
        if hit is not None:
            return hit
        if self._fixed and len(value) > 20 and value[19] in ".," and value[13] == ":" \
                and value[16] == ":" and value[10] in "T ":
            # '2026-03-02 10:00:00.458' or '...T10:00:00.458Z' (most stamps): the minute
            # parsed once (as below), seconds and fraction from tables, no regex
            zulu = value[-1] == "Z"
            delta = fraction(value[20:-1] if zulu else value[20:])
            second = _SECONDS.get(value[17:19])
            if delta is not None and second is not None:
                minute = value[:16] + (":00Z" if zulu else ":00")
                base = self._minutes.get(minute) or self._minute(minute)
                return self._parse_uncached(value) if base is None else base + second + delta
        if self._fixed and (m := _ISO_FAST.fullmatch(value)) is not None:
            # with a fixed offset a stamp is its minute's instant plus its seconds: one
            # full parse per minute (lines rarely share a whole second, they do a minute)
            minute = m.group(1) + ":00" + m.group(4)
            base = self._minutes.get(minute) or self._minute(minute)
            if base is None:
                return self._parse_uncached(value)  # report the stamp as given
            frac = m.group(3)
            return base + timedelta(seconds=int(m.group(2)), microseconds=_frac(frac) if frac else 0)
        ts = self._parse_uncached(value)
        if len(cache) >= self.cache_size:
            cache.clear()
        cache[value] = ts
        return ts

    def _minute(self, minute: str) -> datetime | None:
        """A minute's instant ('2026-03-02T10:00:00[Z]'), remembered; None if not one."""
        try:
            base = self._parse_text(minute, minute)
        except ParseError:
            return None
        if len(self._minutes) >= 4096:
            self._minutes.clear()
        self._minutes[minute] = base
        return base

    def _parse_uncached(self, value: str) -> datetime:
        cache = self._cache
        # Sub-second stamps rarely repeat, but their whole second does: cache that part.
        m = _FRACTION_TAIL.match(value)
        if m is not None:
            base = cache.get(m.group(1))
            if base is None:
                try:
                    base = self.parse(m.group(1))
                except ParseError as err:  # name the stamp as given, not its second
                    raise ParseError(err.expected, got=value) from None
            return base + timedelta(microseconds=_frac(m.group(3)))
        text = value.strip().strip("[]").strip()
        return self._parse_text(text, value)

    # -- internals ----------------------------------------------------------------------
    def _parse_text(self, text: str, original: str) -> datetime:
        layouts = self._layouts
        last = self._last
        for i in (last, *range(len(layouts))):
            if i == last and i != self._last:
                continue
            pattern, build = layouts[i]
            m = pattern.fullmatch(text)
            if m is None:
                continue
            try:
                ts = build(m)
            except (ValueError, KeyError, OverflowError):
                continue
            self._last = i
            return self._check(ts)
        raise ParseError(EXPECTED, got=original)

    def _check(self, ts: datetime) -> datetime:
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=self.tz)
            if self.tz is not UTC:
                ts = ts.astimezone(UTC)
        elif ts.tzinfo is not UTC:
            ts = ts.astimezone(UTC)
        if not (self.min_year <= ts.year <= self.max_year):
            raise ParseError(f"a timestamp between {self.min_year} and {self.max_year}",
                             got=ts.isoformat())
        return ts

    def _naive(self, y: int, mo: int, d: int, h: int, mi: int, s: int, us: int = 0) -> datetime:
        return datetime(y, mo, d, h, mi, s, us)

    def _iso(self, m: re.Match[str]) -> datetime:
        # PostgreSQL writes '2026-03-02 10:00:00.123 UTC' or '... +02': the zone joined on
        text = _ZONE_AFTER_SPACE.sub(r"\1", m.group(0)).replace("z", "Z")
        return datetime.fromisoformat(text.replace("UTC", "Z").replace("GMT", "Z"))

    def _epoch_text(self, m: re.Match[str]) -> datetime:
        text = m.group(0)
        digits = len(text.split(".")[0].lstrip("-"))
        if digits < 9:  # 8 digits could be yyyymmdd; refuse to guess
            raise ValueError("too short for an epoch")
        return self._epoch(float(text), text)

    def _epoch(self, number: float, original: object) -> datetime:
        if not math.isfinite(number):
            raise ParseError("a finite epoch timestamp", got=original)
        magnitude = abs(number)
        if magnitude >= 1e17:
            seconds = number / 1e9
        elif magnitude >= 1e14:
            seconds = number / 1e6
        elif magnitude >= 1e11:
            seconds = number / 1e3
        else:
            seconds = number
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ParseError("an epoch timestamp in range", got=original) from exc

    def _yymmdd_hhmmss(self, m: re.Match[str]) -> datetime:
        g = [int(x) for x in m.groups()]
        return self._naive(2000 + g[0], g[1], g[2], g[3], g[4], g[5])

    def _slashed(self, m: re.Match[str]) -> datetime:
        y, mo, d, h, mi, s, frac = m.groups()
        year = int(y) + (2000 if len(y) == 2 else 0)
        return self._naive(year, int(mo), int(d), int(h), int(mi), int(s), _frac(frac))

    def _ctime(self, m: re.Match[str]) -> datetime:
        mon, d, h, mi, s, frac, y = m.groups()
        return self._naive(int(y), _month(mon), int(d), int(h), int(mi), int(s), _frac(frac))

    def _yearless(self, month: int, *rest: int) -> datetime:
        """Year-less stamps take ``year`` (default: this year) and roll over Dec -> Jan."""
        if self._last_month and month < self._last_month - 6:
            self._year_offset += 1
            self._cache.clear()
        self._last_month = month
        base = self.year if self.year is not None else datetime.now(UTC).year
        return self._naive(base + self._year_offset, month, *rest)

    def _syslog(self, m: re.Match[str]) -> datetime:
        mon, d, h, mi, s, frac = m.groups()
        return self._yearless(_month(mon), int(d), int(h), int(mi), int(s), _frac(frac))

    def _compact_dash(self, m: re.Match[str]) -> datetime:
        y, mo, d, h, mi, s, frac = m.groups()
        # HealthApp-style '20171223-22:15:29:606': the last field is milliseconds
        us = int(frac) * 1000 if frac and len(frac) <= 3 else _frac(frac)
        return self._naive(int(y), int(mo), int(d), int(h), int(mi), int(s), us)

    def _md_dotted(self, m: re.Match[str]) -> datetime:
        mo, d, h, mi, s, frac = m.groups()
        return self._yearless(int(mo), int(d), int(h), int(mi), int(s), _frac(frac))

    _md_dashed = _md_dotted

    def _day_month_year(self, m: re.Match[str]) -> datetime:
        d, mon, y, h, mi, s, frac = m.groups()
        return self._naive(int(y), _month(mon), int(d), int(h), int(mi), int(s), _frac(frac))

    def _clf(self, m: re.Match[str]) -> datetime:
        d, mon, y, h, mi, s, off = m.groups()
        ts = self._naive(int(y), _month(mon), int(d), int(h), int(mi), int(s))
        if off:
            sign = -1 if off[0] == "-" else 1
            ts = ts.replace(tzinfo=timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[3:]))))
        return ts

    def _rfc2822(self, m: re.Match[str]) -> datetime:
        return parsedate_to_datetime(m.group(0))
