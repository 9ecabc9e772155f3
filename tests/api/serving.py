"""Helpers for tests that run a real ``aiops serve``: start/stop it, replay files over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from ingest.errors import ErrorPolicy
from ingest.files import read_input, sniff
from ingest.scenario import load_inputs

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = {"log": "/api/v1/logs", "metric": "/api/v1/metrics", "event": "/api/v1/events",
            "alert": "/api/v1/alerts"}
TYPES = {"log": "text/plain", "metric": "application/json", "event": "application/json",
         "alert": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m aiops serve`` on 127.0.0.1 and a free port, over ``store``."""

    def __init__(self, store: Path, config: Path | None = None,
                 env: dict[str, str] | None = None, preexec_fn: Any = None) -> None:
        self.store = store
        self.config = config
        self.env = env or {}
        self.preexec_fn = preexec_fn  # runs in the server's process before it starts
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = store.with_suffix(".serve.log")

    def start(self, timeout: float = 60.0) -> "Server":
        cmd = [sys.executable, "-m", "aiops", "serve", "--port", str(self.port), "--store",
               str(self.store), "--log-level", "warning"]
        if self.config:
            cmd += ["--config", str(self.config)]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        if "AIOPS_API_TOKENS" not in self.env:
            env.pop("AIOPS_API_TOKENS", None)
        self._out = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=self.preexec_fn)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"aiops serve exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"aiops serve not ready in {timeout} s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """``kill -9`` the server (its engine process dies with it)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._out.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc is not None:
            self._out.close()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _groups(first_ts: dict[int, Any], n_lines: int, size: int, max_span: timedelta):
    """Runs of at most ``size`` records spanning at most ``max_span``, as (first line, end
    line, time of the last record): what a shipper tailing the file would send, when."""
    starts = sorted(first_ts)
    i = 0
    while i < len(starts):
        j = i + 1
        while j < len(starts) and j - i < size and \
                first_ts[starts[j]] - first_ts[starts[i]] <= max_span:
            j += 1
        hi = starts[j] if j < len(starts) else n_lines + 1
        yield starts[i], hi, max(first_ts[k] for k in starts[i:j])
        i = j


def chunks(scenario: Path, lines_per_chunk: int = 20,
           max_span: timedelta = timedelta(seconds=10)) -> list[tuple[Any, str, dict, bytes]]:
    """A scenario's files as HTTP requests in event-time order: ``(ts, path, params, body)``.

    Line-oriented files go in chunks of a few lines spanning a few seconds, each sent at its
    last record's time, so records from different files arrive interleaved (within the
    engine's lateness) as a shipper tailing each file would send them.
    """
    specs, _ = load_inputs(scenario)
    out = []
    for spec in specs:
        kind, fmt = spec.kind, spec.format
        if kind is None:
            kind, sniffed = sniff(spec.path)
            fmt = fmt or sniffed
        records = list(read_input(spec.__class__(path=spec.path, kind=kind, format=fmt,
                                                 service=spec.service),
                                  ErrorPolicy(strict=False)))
        params: dict[str, str] = {"source": str(spec.path)}
        if spec.service:
            params["service"] = spec.service
        data = spec.path.read_bytes()
        if kind == "log" or (kind == "metric" and fmt == "csv"):
            lines = data.splitlines(keepends=True)
            header = b""
            if kind == "log":
                params["format"] = fmt or "auto"
            else:
                params["name"] = spec.name or spec.path.name.split(".")[0]
                header = lines[0]
            first_ts: dict[int, Any] = {}
            for r in records:
                first_ts.setdefault(r.line, r.ts)
            for lo, hi, ts in _groups(first_ts, len(lines), lines_per_chunk, max_span):
                out.append((ts, ENDPOINT[kind], params, header + b"".join(lines[lo - 1:hi - 1])))
        elif data.lstrip()[:1] == b"{" and data.count(b"\n") > 1 and \
                all(line.strip().startswith(b"{") for line in data.splitlines() if line.strip()):
            # NDJSON (webhook bodies, events): one request per line, sent when it could have been:
            # at its latest record (a re-notification repeats alerts that started long before)
            path = "/api/v1/alertmanager" if fmt == "alertmanager" else ENDPOINT[kind]
            by_line: dict[int, Any] = {}
            for r in records:
                by_line[r.line] = max(by_line.get(r.line, r.ts), r.ts)
            for lineno, line in enumerate(data.splitlines(keepends=True), 1):
                if line.strip():
                    out.append((by_line.get(lineno), path, params, line))
        else:
            ts = min((r.ts for r in records), default=None)
            path = "/api/v1/alertmanager" if fmt == "alertmanager" else ENDPOINT[kind]
            out.append((ts, path, params, data))
    return sorted(out, key=lambda c: (c[0] is None, c[0]))


def replay_over_http(url: str, scenario: Path, **kw: Any) -> list[dict]:
    """Post every chunk of a scenario, in event-time order; returns the 202 bodies."""
    answers = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _, path, params, body in chunks(scenario, **kw):
            ctype = "text/plain" if path == "/api/v1/logs" else \
                "text/csv" if params.get("name") else "application/json"
            resp = client.post(path, content=body, params=params,
                               headers={"content-type": ctype})
            assert resp.status_code == 202, (path, resp.text)
            answers.append(resp.json())
    return answers


__all__ = ["Server", "chunks", "replay_over_http", "free_port"]
