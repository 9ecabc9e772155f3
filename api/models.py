"""Request and response models: what /openapi.json and /docs show, with examples.

Handlers return pre-serialised JSON (stored documents are spliced, not
re-validated), so these models are the documented contract; the schemathesis
test checks real answers against them. Documents from the engine may carry more
keys than listed (``extra="allow"``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- errors ---------------------------------------------------------------------------------------
class ErrorDetail(_Open):
    status: int = Field(examples=[422])
    code: str = Field(description="machine-readable reason", examples=["no_valid_records"])
    message: str = Field(examples=["[0].ts: expected a timestamp (ISO 8601, epoch s/ms/us/ns, "
                                   "...), got 'yesterday'"])
    field: str | None = Field(None, description="the field, parameter or header at fault")
    line: int | None = Field(None, description="1-based line of the body, when known")
    expected: str | None = None
    got: Any = None


class ErrorBody(_Open):
    error: ErrorDetail


# -- ingest ---------------------------------------------------------------------------------------
class Rejection(_Open):
    index: int | None = Field(None, description="0-based item index in a JSON array body")
    line: int | None = Field(None, description="1-based line in an NDJSON or text body")
    field: str | None = Field(None, examples=["[3].ts"])
    expected: str = Field(examples=["a timestamp between 1970 and 2200"])
    got: str | None = None
    source: str | None = None
    message: str


class IngestResult(_Open):
    kind: Literal["log", "metric", "event", "alert"]
    accepted: int = Field(description="records committed to the store by this request "
                                      "(or by the first delivery of a duplicate)")
    rejected: int = Field(description="records refused; the first few are listed in errors")
    duplicate: bool = Field(description="an identical batch (same content, or same "
                                        "Idempotency-Key) was already committed: nothing new")
    offset: int | None = Field(description="input-log offset of the batch (null when empty)")
    errors: list[Rejection] = []
    errors_truncated: bool = False
    processed: bool | None = Field(None, description="with ?wait=true: whether the engine "
                                                     "processed the batch before answering")

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "kind": "log", "accepted": 2, "rejected": 1, "duplicate": False, "offset": 17,
        "errors": [{"index": 2, "line": None, "field": "[2].ts", "source": "api",
                    "expected": "a timestamp between 1970 and 2200", "got": "1969-12-31T00:00:00Z",
                    "message": "api: field '[2].ts': expected a timestamp between 1970 and 2200"}],
        "errors_truncated": False, "processed": None}]})


class IngestRejected(ErrorBody):
    kind: str
    accepted: int
    rejected: int
    errors: list[Rejection]
    errors_truncated: bool = False


class FlushResult(_Open):
    processed_offset: int
    head_offset: int
    watermark: str | None
    summary: dict[str, Any]


class StatusReport(_Open):
    version: str
    processed_offset: int
    head_offset: int
    lag_batches: int
    lag_seconds: float
    worker_running: bool
    worker_errors: int
    last_error: str | None
    auth: bool
    batches: dict[str, dict[str, int]] = Field(
        description="batches and records ever committed, per kind (pruned ones included)")
    input_log: dict[str, Any] | None = Field(
        None, description="the input log: retention_s (null: forever), oldest_offset and "
                          "oldest_age_s of the batches it still holds, pruned_batches/records")
    engine: dict[str, Any]
    notify: dict[str, Any] = Field(
        {}, description="per [[notify.webhooks]] entry: sent, skipped (not its events or "
                        "severity), rejected (a 4xx), failures (retried), last_error, cursor, "
                        "pending changes, last_sent_at")


# -- alerts and incidents -------------------------------------------------------------------------
class AlertDoc(_Open):
    id: str = Field(description="fingerprint@startsAt: one alert instance",
                    examples=["4324684e1c3ca260@2026-11-28T17:50:17Z"])
    fingerprint: str = Field(examples=["4324684e1c3ca260"])
    labels: dict[str, Any] = {}
    annotations: dict[str, Any] = {}
    status: str = Field(examples=["firing"])
    starts_at: str | None = None
    ends_at: str | None = None
    source: str | None = None
    severity: str | None = None
    service: str | None = None
    incident_id: str | None = None
    suppressed: str | None = Field(None, description="silenced, inhibited, flapping, transient "
                                                     "or null")
    repeats: int | None = None
    generator_url: str | None = Field(None, description="the sender's link to what fired it "
                                                        "(Prometheus: its rule's graph)")


class AlertPage(_Open):
    items: list[AlertDoc]
    count: int
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at "
                                                "the end")


class IncidentSummary(_Open):
    id: str = Field(examples=["INC-00001"])
    status: str = Field(examples=["open"])
    opened_at: str | None = None
    acknowledged_at: str | None = None
    resolved_at: str | None = None
    severity: str | None = None
    services: list[str] | None = None
    title: str | None = None
    root_cause: dict[str, Any] | None = None
    owner: dict[str, Any] | None = None
    scope: dict[str, str] | None = Field(
        None, description="the scope_labels values of its alerts (cluster, environment)")
    alert_count: int = 0


class IncidentPage(_Open):
    items: list[IncidentSummary]
    count: int
    next_cursor: str | None


class IncidentDetail(IncidentSummary):
    alerts: list[dict[str, Any]] = Field(
        [], description="each alert with its join evidence (rule, score, matched alert) and "
                        "the alert document under 'alert'")
    timeline: list[Any] = []
    notes: list[dict[str, Any]] = Field(
        [], description="what responders wrote on it (POST .../notes), oldest first")


class IncidentNote(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"by": "alice", "text": "failed over postgres to the replica; pool recovering"}]})
    by: str = Field(min_length=1, max_length=200, description="who writes it")
    text: str = Field(min_length=1, max_length=10_000)
    at: str | None = Field(None, max_length=64,
                           description="when (a timestamp; default: the engine's event time, "
                                       "as for ack)")


class IncidentAction(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"by": "alice", "at": "2026-11-28T18:02:00Z", "note": "rolling back deploy 142"}]})
    by: str = Field(min_length=1, max_length=200, description="who acknowledges / resolves")
    at: str | None = Field(None, max_length=64,
                           description="when (a timestamp; default: the engine's event time)")
    note: str = Field("", max_length=4000)


class TemplateRow(_Open):
    id: str
    source: str
    template: str
    count: int
    first_seen: str | None = None
    last_seen: str | None = None


class TemplatePage(_Open):
    items: list[TemplateRow]
    count: int
    next_cursor: str | None


class RecordPage(_Open):
    items: list[dict[str, Any]]
    next_after: int | None = Field(description="pass as ?after= for the next page")


class Health(_Open):
    status: str


class Ready(_Open):
    ready: bool
    processed_offset: int
    head_offset: int
    lag_batches: int
    worker_running: bool
    last_error: str | None = None


# -- dashboards -----------------------------------------------------------------------------------
class Stat(_Open):
    count: int
    mean_s: float | None
    median_s: float | None
    p90_s: float | None
    max_s: float | None


class IncidentDashboard(_Open):
    window: dict[str, Any]
    incidents: dict[str, int]
    mttd: Stat
    mtta: Stat
    mttr: Stat
    per_service: list[dict[str, Any]]
    per_owner: list[dict[str, Any]] = Field(
        [], description="per owning layer (infrastructure, application, model): incidents, "
                        "open, MTTD/MTTA/MTTR")
    open_by_severity: dict[str, int]
    open_by_owner: dict[str, int]
    per_hour: list[dict[str, Any]]
    per_day: list[dict[str, Any]]


class ReductionDashboard(_Open):
    window: dict[str, Any]
    raw_signals: int
    raw_signals_by_kind: dict[str, int]
    alerts: int
    notifications: int
    incidents: int
    reduction: dict[str, float | None]
    dedup_ratio: float | None
    suppressed: dict[str, int]
    noisiest_alerts: list[dict[str, Any]]
    per_service: list[dict[str, Any]]
    over_time: list[dict[str, Any]]
