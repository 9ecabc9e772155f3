"""``[notify]``: which webhooks get which incident changes, in which format; ``${NAME}``
in their settings from the environment. Checked at start: a bad entry is named before the
store opens."""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Mapping

from aiops.config import ConfigError
from aiops.schema import SEVERITIES, severity_rank

EVENTS = ("opened", "reopened", "escalated", "deescalated", "acknowledged", "resolved")
DEFAULT_EVENTS = ("opened", "reopened", "escalated", "acknowledged", "resolved")
FORMATS = ("json", "slack", "teams", "pagerduty", "alertmanager")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
_HOOK_KEYS = {"name", "url", "format", "events", "min_severity", "headers", "routing_key",
              "timeout_s"}


@dataclass(frozen=True)
class Hook:
    name: str
    url: str
    format: str = "json"
    events: tuple[str, ...] = DEFAULT_EVENTS
    min_severity: str = "warning"
    headers: dict[str, str] = field(default_factory=dict)
    routing_key: str = ""
    timeout_s: float = 10.0

    @property
    def host(self) -> str:
        """The URL without its path and query, which often hold the secret (Slack's
        ``/services/T/B/XXXX``): what logs and answers show."""
        parts = urllib.parse.urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")

    def wants(self, event: str, severity: str | None, previous: str | None = None) -> bool:
        """Its events, at or above its severity, now or just before (a de-escalation
        below it, or the resolution that follows one, closes a page sent above it). An
        incident that never reached it is never news here, its resolution included."""
        if event not in self.events:
            return False
        floor = severity_rank(self.min_severity)
        return severity_rank(severity or "info") >= floor or \
            (previous is not None and severity_rank(previous) >= floor)


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    """``${NAME}`` in a string taken from the environment: a routing key or a Slack URL
    belongs in a secret store's variable, not in a config file checked into a repository."""
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}", environ) for k, v in value.items()}
    if not isinstance(value, str):
        return value

    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(f"{where}: ${{{name}}} is not set in the environment")
        return environ[name]
    return _ENV_REF.sub(sub, value)


def hooks_from_config(section: dict[str, Any] | None,
                      environ: Mapping[str, str] | None = None) -> tuple[list[Hook], str]:
    """The ``[notify]`` section: its webhooks and ``base_url`` (links in messages); strings
    may name environment variables as ``${NAME}``."""
    environ = os.environ if environ is None else environ
    section = dict(section or {})
    unknown = set(section) - {"webhooks", "base_url", "pagerduty_webhook_secret"}
    if unknown:
        raise ConfigError(f"[notify]: unknown key(s) {', '.join(sorted(unknown))}; expected "
                          f"webhooks, base_url, pagerduty_webhook_secret")
    base_url = section.get("base_url", "")
    if not isinstance(base_url, str):
        raise ConfigError(f"[notify] base_url: expected a URL string, got {base_url!r}")
    raw = section.get("webhooks", [])
    if not isinstance(raw, list):
        raise ConfigError("[notify] webhooks: expected a list of tables ([[notify.webhooks]])")
    hooks: list[Hook] = []
    for i, spec in enumerate(raw):
        where = f"[notify] webhooks[{i}]"
        if isinstance(spec, dict):
            spec = {k: _expand(v, f"{where} {k}", environ) for k, v in spec.items()}
        hooks.append(_hook(spec, where, i))
    names = [h.name for h in hooks]
    if len(set(names)) != len(names):
        raise ConfigError(f"[notify] webhooks: names must differ (they key the cursors); got "
                          f"{', '.join(names)}")
    return hooks, base_url.rstrip("/")


def pagerduty_secret(section: dict[str, Any] | None,
                     environ: Mapping[str, str] | None = None) -> str:
    """``[notify] pagerduty_webhook_secret``: the v3 subscription's signing secret ("" = the
    signature is not checked; the API's tokens still guard the endpoint)."""
    value = (section or {}).get("pagerduty_webhook_secret", "")
    if not isinstance(value, str):
        raise ConfigError("[notify] pagerduty_webhook_secret: expected a string")
    return _expand(value, "[notify] pagerduty_webhook_secret",
                   os.environ if environ is None else environ)


def _hook(spec: Any, where: str, index: int) -> Hook:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a table with url (and format, events, ...)")
    unknown = set(spec) - _HOOK_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected "
                          f"{', '.join(sorted(_HOOK_KEYS))}")
    fmt = spec.get("format", "json")
    if fmt not in FORMATS:
        raise ConfigError(f"{where} format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    url = spec.get("url", PAGERDUTY_URL if fmt == "pagerduty" else None)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where} url: expected an http:// or https:// URL, got {url!r}")
    if fmt == "alertmanager" and isinstance(url, str) and url.startswith(("http://", "https://")):
        url = url.rstrip("/")
        if not url.endswith("/api/v2/alerts"):  # the Alertmanager's address: its alerts API
            url += "/api/v2/alerts"
    # an Alertmanager mirrors the incident's state: every change, de-escalations included
    events = spec.get("events", list(EVENTS if fmt == "alertmanager" else DEFAULT_EVENTS))
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
        raise ConfigError(f"{where} events: expected a list among {', '.join(EVENTS)}, got "
                          f"{events!r}")
    severity = spec.get("min_severity", "warning")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where} min_severity: expected one of {', '.join(SEVERITIES)}, "
                          f"got {severity!r}")
    headers = spec.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in headers.items()):
        raise ConfigError(f"{where} headers: expected a table of strings")
    routing_key = spec.get("routing_key", "")
    if fmt == "pagerduty" and (not isinstance(routing_key, str) or not routing_key):
        raise ConfigError(f"{where} routing_key: a PagerDuty webhook needs the integration's "
                          f"routing key")
    timeout = spec.get("timeout_s", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"{where} timeout_s: expected seconds above 0, got {timeout!r}")
    name = spec.get("name", f"webhook-{index + 1}")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} name: expected a non-empty string")
    return Hook(name, url, fmt, tuple(events), severity, dict(headers), routing_key,
                float(timeout))

