"""Server memory under idle uploads: many PutDocument streams that go quiet.

Starts a real `dossier-vault serve` subprocess (bench/bench_documents.py's helpers), opens
`--streams` PutDocument streams over `--connections` channels, each sending its header and
one chunk of `--chunk-mib` MiB, then nothing. It reports the server's resident memory
(VmRSS, and the peak VmHWM, from /proc/<pid>/status):

- before: the server started, one dossier created;
- during: every stream sent its chunk (or `--settle-seconds` passed) and went quiet;
- after: the streams ended, reaped by the server's idle-stream timeout
  (`VAULT_STREAM_IDLE_SECONDS`, here `--idle-seconds`) or, if it did not answer them
  within `--wait-seconds`, abandoned by the client (cancelled).

and how each stream ended: the status the server answered with (DEADLINE_EXCEEDED when
reaped idle, RESOURCE_EXHAUSTED when over the upload budget), or "cancelled" when the
client gave up on it. Run from the repository root:

    .venv/bin/python -m bench.bench_idle_streams [--streams 1000] [--chunk-mib 1] [--json]

`--budget-mib` and `--connection-budget-mib` set VAULT_UPLOAD_BUDGET_MIB and
VAULT_UPLOAD_CONNECTION_BUDGET_MIB (unset: the server's defaults). Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc

from bench.bench_documents import (
    PATIENT_INS,
    free_port,
    start_server,
    stop_server,
    wait_until_ready,
)
from vault import wire
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata
from vault.v1 import vault_pb2 as pb

MIB = 1024 * 1024
METADATA = DocumentMetadata("idle", DocumentCategory.REPORTS, "application/pdf")


@dataclass(frozen=True)
class Report:
    streams: int
    connections: int
    chunk_mib: float
    idle_seconds: float
    server_vmrss_kib_before: int
    server_vmrss_kib_during: int
    server_vmrss_kib_after: int
    server_vmhwm_kib: int
    chunks_sent: int  # streams whose chunk the server's flow control accepted
    outcomes: dict[str, int]  # how the streams ended: a status name, or "cancelled"
    reaped: bool  # every stream ended by the server (none left to the client to cancel)
    seconds_to_reap: float


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


@contextmanager
def server(data_dir: Path, env: dict[str, str]) -> Iterator[tuple[int, str]]:
    port = free_port()
    target = f"127.0.0.1:{port}"
    log = data_dir / "server.log"
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        process = start_server(data_dir, port, log)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        wait_until_ready(process, target, log)
        yield process.pid, target
    finally:
        stop_server(process)


PUT_DOCUMENT = "/vault.v1.DossierVault/PutDocument"


def _put_document(
    channel: grpc.aio.Channel,
) -> grpc.aio.StreamUnaryMultiCallable[pb.PutDocumentRequest, pb.Document]:
    return channel.stream_unary(
        PUT_DOCUMENT,
        request_serializer=pb.PutDocumentRequest.SerializeToString,
        response_deserializer=pb.Document.FromString,
    )


async def _idle_stream(
    put: grpc.aio.StreamUnaryMultiCallable[pb.PutDocumentRequest, pb.Document],
    token: str,
    header: pb.PutDocumentRequest,
    chunk: pb.PutDocumentRequest,
    sent: list[int],
) -> str:
    call = put(metadata=(("authorization", f"Bearer {token}"),))
    try:
        await call.write(header)
        await call.write(chunk)
        sent.append(1)
        await call  # the server answers (reaps) it, or the client cancels it
        return "OK"
    except grpc.aio.AioRpcError as error:
        return str(error.code().name)
    except asyncio.CancelledError:
        call.cancel()
        return "cancelled"


async def _run_streams(
    pid: int, target: str, token: str, dossier_id: str, args: argparse.Namespace
) -> tuple[int, int, int, dict[str, int], bool, float]:
    options = [("grpc.use_local_subchannel_pool", 1)]  # one TCP connection each
    channels = [grpc.aio.insecure_channel(target, options=options) for _ in range(args.connections)]
    try:
        puts = [_put_document(channel) for channel in channels]
        header = pb.PutDocumentRequest(
            header=pb.PutDocumentHeader(
                dossier_id=dossier_id, metadata=wire.metadata_to_proto(METADATA)
            )
        )
        chunk = pb.PutDocumentRequest(chunk=os.urandom(max(1, int(args.chunk_mib * MIB))))
        sent: list[int] = []
        started = time.monotonic()
        tasks = [
            asyncio.ensure_future(_idle_stream(puts[i % len(puts)], token, header, chunk, sent))
            for i in range(args.streams)
        ]
        deadline = started + args.settle_seconds
        while len(sent) < args.streams and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # the last chunks reach the server's pool
        during = memory_kib(pid, "VmRSS")
        _, pending = await asyncio.wait(tasks, timeout=args.wait_seconds)
        reaped = not pending
        seconds_to_reap = time.monotonic() - started
        for task in pending:
            task.cancel()
        outcomes = collections.Counter(await asyncio.gather(*tasks))
        await asyncio.sleep(args.after_seconds)  # the server's aborts and frees
        after = memory_kib(pid, "VmRSS")
        return during, after, len(sent), dict(outcomes), reaped, seconds_to_reap
    finally:
        for channel in channels:
            await channel.close()


def run(args: argparse.Namespace) -> Report:
    data_dir = Path(tempfile.mkdtemp(prefix="vault-bench-idle-"))
    env = {"VAULT_STREAM_IDLE_SECONDS": str(args.idle_seconds)}
    if args.budget_mib is not None:
        env["VAULT_UPLOAD_BUDGET_MIB"] = str(args.budget_mib)
    if args.connection_budget_mib is not None:
        env["VAULT_UPLOAD_CONNECTION_BUDGET_MIB"] = str(args.connection_budget_mib)
    try:
        key = load_or_create_dev_issuer(data_dir)
        token = mint_token(key, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=3600)
        with server(data_dir, env) as (pid, target):
            with VaultClient(target, token) as client:
                dossier_id = str(client.create_dossier(PATIENT_INS).dossier_id)
            before = memory_kib(pid, "VmRSS")
            during, after, sent, outcomes, reaped, seconds = asyncio.run(
                _run_streams(pid, target, token, dossier_id, args)
            )
            return Report(
                streams=args.streams,
                connections=args.connections,
                chunk_mib=args.chunk_mib,
                idle_seconds=args.idle_seconds,
                server_vmrss_kib_before=before,
                server_vmrss_kib_during=during,
                server_vmrss_kib_after=after,
                server_vmhwm_kib=memory_kib(pid, "VmHWM"),
                chunks_sent=sent,
                outcomes=outcomes,
                reaped=reaped,
                seconds_to_reap=round(seconds, 1),
            )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def markdown(report: Report) -> str:
    return "\n".join(
        [
            f"{report.streams} idle uploads of one {report.chunk_mib:g} MiB chunk over "
            f"{report.connections} connections (idle timeout {report.idle_seconds:g} s):",
            f"- server VmRSS before {mib(report.server_vmrss_kib_before)}, during "
            f"{mib(report.server_vmrss_kib_during)}, after {mib(report.server_vmrss_kib_after)}"
            f" (VmHWM {mib(report.server_vmhwm_kib)})",
            f"- chunks accepted by flow control: {report.chunks_sent}",
            f"- outcomes: {report.outcomes}; reaped by the server: {report.reaped}"
            f" (after {report.seconds_to_reap:g} s)",
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunk-mib", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--budget-mib", type=float, default=None)
    parser.add_argument("--connection-budget-mib", type=float, default=None)
    parser.add_argument(
        "--settle-seconds", type=float, default=30.0, help="how long to wait for every chunk"
    )
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=None,
        help="how long to wait for the server to end the streams (default: idle + 30 s)",
    )
    parser.add_argument(
        "--after-seconds", type=float, default=3.0, help="pause before measuring 'after'"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    if args.streams < 1 or args.connections < 1 or args.chunk_mib <= 0:
        parser.error("--streams and --connections must be at least 1, --chunk-mib positive")
    if args.wait_seconds is None:
        args.wait_seconds = args.idle_seconds + 30.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    print(json.dumps(asdict(report), indent=2) if args.json else markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
