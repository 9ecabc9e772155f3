"""``[api]`` settings: limits, tokens and worker cadence, from the config file and environment.

Defaults are chosen so a 1000-record batch from any real shipper fits easily,
and a hostile body is refused before it costs memory: 8 MiB on the wire, 32 MiB
after gzip, 256 KiB per log line, 128 labels per record, 20 listed rejections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from aiops.config import ConfigError

SCOPES = ("read", "write")
TOKENS_ENV = "AIOPS_API_TOKENS"


@dataclass(frozen=True)
class Token:
    secret: str
    scopes: frozenset[str]
    name: str = ""


def parse_token(spec: Any, where: str) -> Token:
    """``"SECRET"`` (read+write), ``"SECRET:read"``, or ``{token=..., scopes=[...], name=...}``."""
    if isinstance(spec, dict):
        secret = spec.get("token")
        scopes = spec.get("scopes", list(SCOPES))
        name = str(spec.get("name", ""))
        unknown = set(spec) - {"token", "scopes", "name"}
        if unknown:
            raise ConfigError(f"{where}: unknown token key(s) {', '.join(sorted(unknown))}; "
                              f"expected token, scopes, name")
    elif isinstance(spec, str):
        secret, _, scope_text = spec.strip().partition(":")
        scopes = [s for s in scope_text.replace("+", ",").split(",") if s] or list(SCOPES)
        name = ""
    else:
        raise ConfigError(f"{where}: a token is a string 'SECRET[:read,write]' or a table")
    if not isinstance(secret, str) or len(secret) < 8:
        raise ConfigError(f"{where}: a token must be a string of at least 8 characters")
    if isinstance(scopes, str):
        scopes = [scopes]
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ConfigError(f"{where}: token scopes must be among {', '.join(SCOPES)}; got "
                          f"{', '.join(map(str, bad)) or 'none'}")
    return Token(secret, frozenset(scopes), name or f"token-{secret[:3]}…")


@dataclass
class ApiSettings:
    """Parameters of the HTTP service (the ``[api]`` config section)."""

    tokens: list[Token] = field(default_factory=list)
    max_body_bytes: int = 8 * 1024 * 1024
    max_decompressed_bytes: int = 32 * 1024 * 1024
    max_line_chars: int = 256 * 1024
    max_labels: int = 128
    max_errors: int = 20
    checkpoint_interval_s: float = 1.0
    #: backpressure: hold ingest while processing is this many batches behind ...
    max_lag_batches: int = 200
    #: ... for at most this long, then answer 503 + Retry-After
    max_lag_wait_s: float = 10.0
    #: records stamped further than this ahead of the server's clock are rejected: event
    #: time follows the latest record, so one host with a skewed clock (or local time sent
    #: as UTC) would otherwise make every later record of every source late
    max_future_s: float = 600.0
    #: "process": the engine runs in a child process (its own core; default for file stores);
    #: "thread": in a thread of the server process (always used for in-memory stores)
    worker: str = "process"

    _INT_KEYS = ("max_body_bytes", "max_decompressed_bytes", "max_line_chars", "max_labels",
                 "max_errors", "max_lag_batches")

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None = None,
                    environ: Mapping[str, str] | None = None) -> "ApiSettings":
        section = dict(section or {})
        environ = os.environ if environ is None else environ
        known = set(cls._INT_KEYS) | {"tokens", "checkpoint_interval_s", "worker",
                                       "max_lag_wait_s", "max_future_s"}
        unknown = set(section) - known
        if unknown:
            raise ConfigError(f"[api]: unknown key(s) {', '.join(sorted(unknown))}; expected "
                              f"{', '.join(sorted(known))}")
        out = cls()
        for key in cls._INT_KEYS:
            if key in section:
                value = section[key]
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise ConfigError(f"[api] {key}: a positive integer, got {value!r}")
                setattr(out, key, value)
        for key in ("checkpoint_interval_s", "max_lag_wait_s", "max_future_s"):
            if key in section:
                value = section[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise ConfigError(f"[api] {key}: a positive number, got {value!r}")
                setattr(out, key, float(value))
        if "worker" in section:
            if section["worker"] not in ("process", "thread"):
                raise ConfigError(f"[api] worker: 'process' or 'thread', got {section['worker']!r}")
            out.worker = section["worker"]
        specs = section.get("tokens", [])
        if not isinstance(specs, list):
            raise ConfigError("[api] tokens: a list of 'SECRET[:scopes]' strings or tables")
        tokens = [parse_token(s, f"[api] tokens[{i}]") for i, s in enumerate(specs)]
        env = environ.get(TOKENS_ENV, "")
        for i, spec in enumerate(env.replace(";", " ").split()):
            tokens.append(parse_token(spec, f"${TOKENS_ENV} item {i + 1}"))
        out.tokens = tokens
        return out

    @property
    def auth_enabled(self) -> bool:
        return bool(self.tokens)
