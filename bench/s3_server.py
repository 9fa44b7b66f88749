"""moto's S3 server, as `python -m moto.server` runs it, with an optional fixed latency
before each request is served: what an S3 endpoint across a network adds to every call.

On this machine moto answers on loopback in a few milliseconds, where a real S3 endpoint
takes tens (`bench.bench_s3 --s3-latency-ms`, docs/performance.md). The delay is a
sleep in the request's own thread (the server is threaded), so it costs no CPU and
delays concurrent requests independently; it models time to first byte, not bandwidth.
A measuring instrument, not a product component.

    python -m bench.s3_server --host 127.0.0.1 --port PORT [--latency-ms MS]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def delayed(app: WsgiApp, seconds: float) -> WsgiApp:
    """`app`, each request served `seconds` late."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(seconds)
        return app(environ, start_response)

    return serve


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto.server does
    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    if args.latency_ms > 0:
        app = delayed(app, args.latency_ms / 1000)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
