"""moto's S3 server, as `python -m moto.server` runs it, optionally slowed down as an S3
endpoint across a network is: a fixed latency before each request is served, and a
bandwidth per request.

On this machine moto answers on loopback in a few milliseconds and moves a GiB per
second, where a real S3 endpoint takes tens of milliseconds and moves on the order of
100 MB/s per connection (`bench.bench_s3 --s3-latency-ms --s3-bandwidth-mb-s`,
docs/performance.md). Both are sleeps in the request's own thread (the server is
threaded), so they cost no CPU and slow concurrent requests independently: the
latency before the request is served; the bandwidth as a floor on the time taken to
receive the request's body (before the answer starts) and to send the answer's body
(paced in 64 KiB pieces, so a reader can work on the first bytes while the rest come).
A measuring instrument, not a product component.

    python -m bench.s3_server --host 127.0.0.1 --port PORT [--latency-ms MS]
                              [--bandwidth-mb-s MB_S]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

PIECE = 64 * 1024
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def delayed(app: WsgiApp, seconds: float) -> WsgiApp:
    """`app`, each request served `seconds` late."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(seconds)
        return app(environ, start_response)

    return serve


def paced(app: WsgiApp, bytes_per_second: float) -> WsgiApp:
    """`app`, each request's body taking at least its size / `bytes_per_second` to
    arrive, and each answer's body to leave."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        answer = app(environ, start_response)
        received = int(environ.get("CONTENT_LENGTH") or 0)
        _sleep_until(started + received / bytes_per_second)
        return _paced(answer, bytes_per_second)

    return serve


def _paced(answer: Iterable[bytes], bytes_per_second: float) -> Iterator[bytes]:
    started, sent = time.monotonic(), 0
    try:
        for chunk in answer:
            for at in range(0, len(chunk), PIECE):
                piece = chunk[at : at + PIECE]
                sent += len(piece)
                yield piece
                _sleep_until(started + sent / bytes_per_second)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--bandwidth-mb-s", type=float, default=0.0, help="0: unlimited")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto.server does
    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    if args.bandwidth_mb_s > 0:
        app = paced(app, args.bandwidth_mb_s * 1_000_000)
    if args.latency_ms > 0:
        app = delayed(app, args.latency_ms / 1000)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
