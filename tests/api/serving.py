"""Helpers for tests that run a real ``aiops serve``: start/stop it, replay files over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
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
                 env: dict[str, str] | None = None) -> None:
        self.store = store
        self.config = config
        self.env = env or {}
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
                                     stderr=subprocess.STDOUT, start_new_session=True)
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


def chunks(scenario: Path, lines_per_chunk: int = 20) -> list[tuple[Any, str, dict, bytes]]:
    """A scenario's files as HTTP requests in event-time order: ``(ts, path, params, body)``.

    Line-oriented files go in chunks of a few lines, each keyed by its first record's time,
    so records from different files arrive interleaved as ``aiops replay`` merges them.
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
        if kind == "log":
            params["format"] = fmt or "auto"
            lines = data.splitlines(keepends=True)
            first_ts = {}
            for r in records:
                first_ts.setdefault(r.line, r.ts)
            starts = sorted(first_ts)
            for i in range(0, len(starts), lines_per_chunk):
                lo = starts[i]
                hi = starts[i + lines_per_chunk] if i + lines_per_chunk < len(starts) else \
                    len(lines) + 1
                out.append((first_ts[lo], ENDPOINT[kind], params,
                            b"".join(lines[lo - 1:hi - 1])))
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
            ctype = "text/plain" if path == "/api/v1/logs" else "application/json"
            resp = client.post(path, content=body, params=params,
                               headers={"content-type": ctype})
            assert resp.status_code == 202, (path, resp.text)
            answers.append(resp.json())
    return answers


__all__ = ["Server", "chunks", "replay_over_http", "free_port"]
