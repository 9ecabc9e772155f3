"""The app factory: ``create_app(config, store_or_engine)`` wires engine, worker, routers, errors.

The app owns one ``Engine``; request handlers commit batches with
``engine.submit`` (the durable 2xx point) and one background thread processes
them (``api.worker.Processor``). Start-up and shutdown run in the lifespan, so
the worker runs under uvicorn and inside ``with TestClient(app)``.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aiops import __version__, runtime
from aiops.config import Config
from aiops.engine import Engine
from aiops.store import open_store
from api import errors
from api.auth import READ
from api.models import Health, Ready
from api.backend import ThreadBackend
from api.notify import Notifier, hooks_from_config, pagerduty_secret
from api.settings import ApiSettings
from api.telemetry import Telemetry

log = logging.getLogger("aiops.api")

DESCRIPTION = """\
Self-hosted AIOps event correlation over HTTP. Point log shippers, Alertmanager, OpenTelemetry
exporters and scripts at the ingest endpoints; read incidents, alerts, templates and dashboards
as JSON.

* **Ingest** answers `202` once the accepted records are committed (durable), with
  `accepted`/`rejected` counts and the first rejections (item index or line, field, what was
  expected). Nothing valid in the batch: `422`. Re-deliveries are duplicates, not new data.
* **Errors** share one body: `{"error": {status, code, message, field, line, expected, got}}`.
* **Auth**: `Authorization: Bearer TOKEN` with the `read` or `write` scope when tokens are
  configured (`[api] tokens`, `$AIOPS_API_TOKENS`); without tokens the server binds loopback only.
"""

TAGS = [
    {"name": "ingest", "description": "Telemetry in: logs, metrics, events, alerts."},
    {"name": "otlp", "description": "OpenTelemetry OTLP/HTTP receiver (protobuf or JSON)."},
    {"name": "compat", "description": "Endpoints real shippers expect (Elasticsearch _bulk)."},
    {"name": "incidents", "description": "Incidents with evidence, root cause and owner."},
    {"name": "alerts", "description": "Alert instances (fingerprint + startsAt)."},
    {"name": "templates", "description": "Mined log templates."},
    {"name": "dashboards", "description": "MTTD/MTTA/MTTR and alert-noise reduction."},
    {"name": "silences", "description": "Silences: matchers over a time range."},
    {"name": "control", "description": "Flush, status, stored records."},
    {"name": "health", "description": "Liveness, readiness, Prometheus metrics."},
]


def make_backend(config: Config, store: Any, settings: ApiSettings) -> Any:
    """A ThreadBackend for an Engine or an in-memory store, else per ``[api] worker``."""
    if isinstance(store, Engine):
        return ThreadBackend(store, settings.checkpoint_interval_s)
    options = {k: v for k, v in (config.store or {}).items() if k != "path"}
    if store is None:
        store = open_store((config.store or {}).get("path"), **options)
    if settings.worker == "process" and not getattr(store, "memory", False):
        from api.process_backend import ProcessBackend

        return ProcessBackend(config, store, options, settings.checkpoint_interval_s)
    return ThreadBackend(Engine(config, store), settings.checkpoint_interval_s)


def create_app(config: Config | None = None, store: Any = None, *,
               settings: ApiSettings | None = None, tune_gc: bool = False,
               close_store: bool = True) -> FastAPI:
    """A FastAPI app over ``store`` (a Store, an Engine, or None for ``[store] path``/memory).

    Processing runs in a child process for a file store (``[api] worker = "process"``, the
    default) and in a thread for an Engine or an in-memory store (see ``api.backend``).

    ``tune_gc`` (what ``aiops serve`` sets) freezes everything allocated at start-up out of
    the garbage collector's reach and raises the gen-0 threshold: with long-lived engine
    state in memory, collections otherwise dominate the tail latency.
    """
    config = config or Config()
    settings = settings or ApiSettings.from_config(config.api)
    hooks, base_url = hooks_from_config(config.notify)  # a bad webhook fails before the store opens
    pd_secret = pagerduty_secret(config.notify)
    backend = make_backend(config, store, settings)
    notifier = Notifier(backend.store, hooks, base_url) if hooks else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(backend.start)
        if notifier is not None:
            await run_in_threadpool(notifier.start)
        if tune_gc:
            runtime.tune_gc()
        try:
            yield
        finally:
            if notifier is not None:
                await run_in_threadpool(notifier.stop)
            await run_in_threadpool(backend.stop)
            if close_store:
                backend.close()

    app = FastAPI(title="aiops", version=__version__, description=DESCRIPTION,
                  openapi_tags=TAGS, lifespan=lifespan)
    app.state.settings = settings
    app.state.backend = backend
    app.state.telemetry = Telemetry(backend, notifier)
    app.state.config = config
    app.state.notifier = notifier
    app.state.pagerduty_secret = pd_secret
    errors.install(app)
    app.add_middleware(_Timing, telemetry=app.state.telemetry)

    from api.routers import (alerts, amapi, bulk, dashboards, incidents, ingest, loki, notify,
                             otlp, pagerduty, promwrite, records, silences, templates)

    for module in (ingest, amapi, otlp, promwrite, loki, bulk, pagerduty, incidents, alerts,
                   templates, dashboards, silences, records, notify):
        app.include_router(module.router)
    _health_routes(app)
    return app


def _health_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Health, tags=["health"], summary="Liveness")
    async def healthz() -> Response:
        return errors.json_response({"status": "ok"})

    @app.get("/readyz", response_model=Ready, tags=["health"],
             responses={503: {"model": Ready, "description": "not ready: the processing "
                                                             "worker is not running"}},
             summary="Readiness: the store answers and the processing worker runs")
    async def readyz(request: Request) -> Response:
        backend = request.app.state.backend
        lag = await run_in_threadpool(backend.lag)
        ready = backend.running
        return errors.json_response({
            "ready": ready, "processed_offset": lag["processed_offset"],
            "head_offset": lag["head_offset"], "lag_batches": lag["batches"],
            "worker_running": backend.running, "last_error": backend.last_error},
            200 if ready else 503)

    @app.get("/metrics", tags=["health"], dependencies=[READ],
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text exposition format 0.0.4"},
                        **{c: {"description": d} for c, d in ((401, "missing or invalid token"),
                                                              (403, "token lacks the scope"))}},
             summary="Prometheus metrics of aiops itself")
    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(request.app.state.telemetry.exposition)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


class _Timing:
    """Pure ASGI middleware: request latency per route template into the telemetry histogram."""

    def __init__(self, app: Any, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.telemetry.observe_request(scope["method"], path, status,
                                           time.perf_counter() - started)
