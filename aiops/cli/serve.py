"""``aiops serve``: the HTTP service under uvicorn (ingest telemetry, read incidents)."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import signal
import socket
from pathlib import Path

from aiops.cli.common import fail, guarded, stderr
from aiops.config import build_component, load_config

DEFAULT_STORE = Path(".aiops") / "aiops.db"


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, or None. The address family follows the
    host (``--host ::1`` was tried as IPv4: "Unknown error -9", blamed on another server)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        socket.create_server((host, port), family=family).close()
    except socket.gaierror as err:
        return (f"cannot listen on {host}:{port}: {host!r} is not an address of this machine "
                f"({err.strerror}); check --host")
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)
        if err.errno == errno.EADDRINUSE:
            return (f"cannot listen on {host}:{port} ({reason}): is another server (another "
                    f"aiops serve?) using it? Choose another --port")
        return f"cannot listen on {host}:{port} ({reason}); check --host and --port"
    return None


def _port(text: str) -> int:
    """A TCP port, checked here: past 65535 the socket layer failed with a traceback."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"expected a TCP port 1-65535, got {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the HTTP service (ingest API, incidents, dashboards)",
                       description="Serve the aiops HTTP API under uvicorn: POST telemetry, read "
                                   "incidents, alerts, templates and dashboards as JSON. "
                                   "OpenAPI docs at /docs.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; anything but loopback needs an "
                        "API token in [api] tokens or $AIOPS_API_TOKENS)")
    p.add_argument("--port", type=_port, default=8080, help="port (default 8080)")
    p.add_argument("--store", metavar="PATH",
                   help=f"SQLite store to serve (default: [store] path, else {DEFAULT_STORE}); "
                        f"kept across restarts")
    p.add_argument("--config", metavar="FILE", help="aiops TOML config")
    p.add_argument("--log-level", default="info",
                   choices=("critical", "error", "warning", "info", "debug"))
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(func=guarded(run))


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from aiops.store import open_store
    from aiops.store.lock import StoreLock
    from api import create_app
    from api.settings import TOKENS_ENV, ApiSettings

    config = load_config(args.config)
    settings = ApiSettings.from_config(config.api)
    if not settings.auth_enabled:
        if not is_loopback(args.host):
            return fail(f"refusing to bind {args.host}: no API token is configured, so the API "
                        f"would be open to the network. Add tokens to [api] tokens in the "
                        f"config or ${TOKENS_ENV} (e.g. 'SECRET:read,write'), or bind "
                        f"127.0.0.1.")  # fail() escapes rich markup ([api]) itself
        stderr.print(f"[yellow]no API token configured: authentication is off, binding "
                     f"{args.host} (loopback) only[/]", highlight=False)
    else:
        stderr.print(f"API tokens: {len(settings.tokens)} configured; requests need "
                     f"'Authorization: Bearer TOKEN'", highlight=False)
    problem = _cannot_listen(args.host, args.port)
    if problem:  # one clear line before the engine process starts, not uvicorn's after it ran
        return fail(problem)
    store_cfg = dict(config.store or {})
    path = args.store or store_cfg.pop("path", None) or DEFAULT_STORE
    store_cfg.pop("path", None)
    # a bad [store] key or value is one line naming it, not a traceback
    store = build_component(lambda params: open_store(path, **params), "store", store_cfg)
    if not store.memory:  # one clear line now, not the engine process's traceback later
        StoreLock(store.path).acquire().release()
    app = create_app(config, store, settings=settings, tune_gc=True)
    stderr.print(f"aiops serving store {path} on http://{args.host}:{args.port} "
                 f"(docs at /docs)", highlight=False)
    for hook in app.state.notifier.hooks if app.state.notifier else ():
        stderr.print(f"notify {hook.name}: {hook.format} to {hook.host} "
                     f"({', '.join(hook.events)} at or above {hook.min_severity})",
                     highlight=False)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port,
                                           log_level=args.log_level,
                                           access_log=args.access_log, lifespan="on"))
    # a closed terminal (SIGHUP) stops the server as Ctrl-C does, through its shutdown and the
    # engine's final checkpoint, rather than killing it; under nohup it stays ignored
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl-C: uvicorn shut down (the engine checkpointed), re-raised
        pass
    return 0
