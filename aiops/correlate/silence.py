"""Silences and maintenance windows: label matchers over a time range, as in
Alertmanager. Matchers use Alertmanager's syntax (``name="v"``, ``!=``, ``=~``,
``!~``, regexes fully anchored). A silenced alert is recorded and counted but
never opens or joins an incident.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiops.correlate.config import duration
from aiops.correlate.stage import Context, Stage, parse_time
from aiops.correlate.state import AlertState
from aiops.schema import iso

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$')


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    @classmethod
    def parse(cls, text) -> "Matcher":
        if isinstance(text, dict):  # {name, value, isRegex, isEqual} as in Alertmanager's API
            op = (
                ("=~" if text.get("isRegex") else "=")
                if text.get("isEqual", True)
                else ("!~" if text.get("isRegex") else "!=")
            )
            return cls(str(text["name"]), op, str(text.get("value", "")))
        m = _MATCHER.match(str(text))
        if not m:
            raise ValueError(f'bad matcher {text!r}: expected name="value" (ops = != =~ !~)')
        value = m.group(3) if m.group(3) is not None else (m.group(4) or "")
        value = re.sub(r"\\(.)", r"\1", value)
        if m.group(2) in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(f"bad matcher {text!r}: invalid regex: {e}") from None
        return cls(m.group(1), m.group(2), value)

    def matches(self, labels: dict[str, str]) -> bool:
        v = labels.get(self.name, "")
        if self.op == "=":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        hit = re.fullmatch(self.value, v) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matchers(items) -> list[Matcher]:
    if isinstance(items, dict):  # legacy ``match: {label: value}``
        return [Matcher(k, "=", str(v)) for k, v in items.items()]
    if isinstance(items, str):
        items = [
            s for s in re.split(r",(?=\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=|!))", items.strip("{} ")) if s.strip()
        ]
    return [Matcher.parse(x) for x in items or []]


def match_labels(alert: AlertState) -> dict[str, str]:
    """Labels matchers see: the alert's own, plus ``service`` resolved to its entity."""
    if "service" in alert.labels or not alert.entity:
        return alert.labels
    return {**alert.labels, "service": alert.entity}


@dataclass
class Silence:
    id: str
    matchers: list[Matcher]
    starts_at: datetime
    ends_at: datetime
    created_by: str = ""
    comment: str = ""
    expired_at: datetime | None = None

    def active(self, t: datetime) -> bool:
        end = min(self.ends_at, self.expired_at) if self.expired_at else self.ends_at
        return self.starts_at <= t < end

    def matches(self, alert: AlertState) -> bool:
        labels = match_labels(alert)
        return bool(self.matchers) and all(m.matches(labels) for m in self.matchers)

    def row(self) -> dict:
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "created_by": self.created_by,
            "comment": self.comment,
            "expired_at": iso(self.expired_at),
        }


@dataclass
class SilenceStore:
    silences: dict[str, Silence] = field(default_factory=dict)

    def add(
        self, matchers, starts_at: datetime, ends_at: datetime, created_by: str = "", comment: str = ""
    ) -> Silence:
        ms = parse_matchers(matchers)
        if not ms:
            raise ValueError("a silence needs at least one matcher")
        if ends_at <= starts_at:
            raise ValueError("a silence must end after it starts")
        key = "|".join([*map(str, ms), iso(starts_at), iso(ends_at), created_by, comment])
        sid = "sil-" + hashlib.sha1(key.encode()).hexdigest()[:12]
        self.silences.setdefault(sid, Silence(sid, ms, starts_at, ends_at, created_by, comment))
        return self.silences[sid]

    def expire(self, sid: str, at: datetime) -> Silence:
        if sid not in self.silences:
            raise KeyError(f"no silence {sid!r}")
        s = self.silences[sid]
        s.expired_at = min(at, s.expired_at) if s.expired_at else at
        return s

    def find(self, alert: AlertState, t: datetime) -> Silence | None:
        for s in self.silences.values():
            if s.active(t) and s.matches(alert):
                return s
        return None

    def prune(self, before: datetime) -> None:
        for sid in [k for k, s in self.silences.items() if s.ends_at < before]:
            del self.silences[sid]


def maintenance_window(
    event, default: timedelta = timedelta(hours=1)
) -> tuple[list[str], datetime, datetime] | None:
    """A ``maintenance`` event becomes a silence on its service (or host) until ``until``/``ends_at``
    or for ``duration`` seconds."""
    who = event.service or event.host  # matchers see a host-level alert's host as its service
    if not who:
        return None
    target = [f'service="{who}"']
    attrs = event.attributes or {}
    end = None
    for k in ("until", "ends_at", "endsAt", "end"):
        if attrs.get(k):
            end = parse_time(attrs[k])
            break
    if end is None and attrs.get("duration") is not None:
        try:
            end = event.ts + duration(attrs["duration"])
        except ValueError:
            end = None
    if end is None or end <= event.ts:
        end = event.ts + default
    return target, event.ts, end


class SilenceStage(Stage):
    """Drop silenced alerts (marking why) before anything groups them."""

    name = "silence"

    def process(self, batch: list[AlertState], ctx: Context) -> list[AlertState]:
        out = []
        for a in batch:
            s = ctx.silences.find(a, a.starts_at)
            if s is None:
                out.append(a)
            else:
                a.suppressed = f"silenced by {s.id}"
                ctx.touch(a)
        return out
