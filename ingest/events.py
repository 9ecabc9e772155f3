"""Change events (deploys, config changes, restarts, model drift) from JSON or NDJSON, and
Kubernetes Events read as change events (``ingest.k8sevents``)."""

from __future__ import annotations

from typing import Any, Iterator, TextIO

from aiops.schema import Event
from ingest.errors import ErrorPolicy, ParseError
from ingest.jsondocs import Fields, iter_json_items
from ingest.k8sevents import expand
from ingest.timestamps import TimestampParser

TS_KEYS = ("ts", "time", "timestamp", "@timestamp", "at", "date")
TYPE_KEYS = ("type", "event", "kind", "event_type", "action")
_TYPE_ALIASES = {
    "deploy": "deploy", "deployment": "deploy", "release": "deploy", "rollout": "deploy",
    "rollback": "rollback", "revert": "rollback",
    "config": "config_change", "config_change": "config_change", "configuration": "config_change",
    "config-change": "config_change", "feature_flag": "config_change", "flag": "config_change",
    "restart": "restart", "reboot": "restart", "crash": "restart", "oom_kill": "restart",
    "scale": "scale", "scaling": "scale", "autoscale": "scale",
    "maintenance": "maintenance",
    "drift": "drift", "model_drift": "drift", "data_drift": "drift", "concept_drift": "drift",
    "prediction_quality": "prediction_quality", "model_quality": "prediction_quality",
    "accuracy_drop": "prediction_quality",
}


def normalize_event_type(value: str) -> str:
    """Known spellings map onto EVENT_TYPES; anything else is kept (lower-cased), not refused."""
    key = value.strip().lower().replace(" ", "_")
    return _TYPE_ALIASES.get(key, key)


def event_from_object(obj: Any, *, location: str, source: str,
                      timestamps: TimestampParser) -> Event:
    f = Fields(obj, location, source)
    ts = f.timestamp(timestamps, *TS_KEYS)
    type_ = f.string(*TYPE_KEYS, required=True, expected="an event type (deploy, config_change, "
                     "restart, scale, drift, prediction_quality, ...)")
    return Event(
        ts=ts,
        type=normalize_event_type(type_),
        service=f.string("service", "app", "service.name", "target"),
        message=f.string("message", "msg", "description", "summary", "text"),
        host=f.string("host", "hostname", "node"),
        attributes=f.rest(),
        source=source,
        line=f.line or 0,
    )


def read_events(data: bytes | str | TextIO, *, source: str = "", timezone: str | None = None,
                policy: ErrorPolicy | None = None, lines_before: int = 0) -> Iterator[Event]:
    policy = policy or ErrorPolicy()
    timestamps = TimestampParser(tz=timezone)
    for where, document in iter_json_items(data, source=source, policy=policy,
                                           lines_before=lines_before):
        for location, item in expand(where, document):  # Kubernetes Events: ingest.k8sevents
            try:
                yield event_from_object(item, location=location, source=source,
                                        timestamps=timestamps)
            except ParseError as err:
                policy.report(err)
