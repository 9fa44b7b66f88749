"""A pass-through gRPC proxy in front of S3: the floor under any gRPC document service.

`bench.bench_s3` starts it in its own process, next to the vault, against the same S3
server, and times it as a third path. It does what any service between a gRPC client and
S3 must do, and nothing else: no token, no decision, no encryption, no index, no journal,
no checksum, no protobuf (messages are raw bytes).

- `/passthrough/Put` (client stream): the object's key in the call's metadata, then its
  bytes in chunks, stored with one PutObject once the stream ends. Objects up to one
  part (`PART_SIZE`) only: a larger upload of unknown size is a multipart upload, and
  the benchmark's raw multipart put is its floor.
- `/passthrough/Get` (server stream): the key as the request; the object's body comes
  back in `CHUNK` messages as it arrives from S3.

Any time the vault spends above this path is its own; what this path spends above the
raw S3 call is the price of a second network hop in a Python gRPC process. Not a product
component: a measuring instrument, with no error handling beyond gRPC's defaults.

    python -m bench.passthrough --listen 127.0.0.1:PORT --endpoint URL --bucket NAME
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import grpc

from bench.bench_s3 import (
    CHUNK,
    PART_SIZE,
    PASSTHROUGH_KEY_HEADER,
    PASSTHROUGH_SERVICE,
    s3_client,
)

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

MAX_MESSAGE_BYTES = 4 * CHUNK


class Passthrough:
    """The two handlers, over one boto3 client (boto3 clients are thread-safe)."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, chunks: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        key = dict(context.invocation_metadata())[PASSTHROUGH_KEY_HEADER]
        assert isinstance(key, str)
        received = list(chunks)
        body = received[0] if len(received) == 1 else b"".join(received)
        assert len(body) <= PART_SIZE, "one part at most: larger puts are multipart"
        self._client.put_object(Bucket=self._bucket, Key=key, Body=body)
        return b""

    def get(self, key: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        body = self._client.get_object(Bucket=self._bucket, Key=key.decode())["Body"]
        yield from body.iter_chunks(CHUNK)


def serve(listen: str, endpoint: str, bucket: str) -> None:
    """Serves until SIGTERM or SIGINT."""
    handlers = Passthrough(s3_client(endpoint), bucket)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=4),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                PASSTHROUGH_SERVICE,
                {
                    "Put": grpc.stream_unary_rpc_method_handler(handlers.put),
                    "Get": grpc.unary_stream_rpc_method_handler(handlers.get),
                },
            ),
        )
    )
    server.add_insecure_port(listen)
    server.start()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    server.stop(grace=1).wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    args = parser.parse_args(argv)
    serve(args.listen, args.endpoint, args.bucket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
