"""Document throughput and server memory benchmark for Dossier Vault.

Starts a real `dossier-vault serve` subprocess on a free local port with a fresh data
directory, mints a development patient token, creates a dossier, then for each document
size (1 MiB and 64 MiB by default) stores random content with PutDocument and reads it
back with GetDocument several times. It reports:

- the median put and get throughput in MB/s (MB = 10^6 bytes), measured end to end from
  the client (gRPC streaming, encryption, journaling, disk and the client's SHA-256 check);
- the server process's peak resident memory (VmHWM from /proc/<pid>/status) after each
  size, so one can see whether memory stays flat as documents grow (streams are chunked).

Run it with `make bench`, or directly from the repository root:

    .venv/bin/python bench/bench_documents.py [--sizes 1,64] [--repeat N] [--json]

Linux only (VmHWM is read from /proc). The server and its data directory are removed at
the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc

from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata

PATIENT_INS = "184127645108946"
MIB = 1024 * 1024
MB = 1_000_000
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
SMALL_REPEAT = 5  # repetitions for documents up to LARGE_MIB
LARGE_REPEAT = 3  # repetitions for larger documents
LARGE_MIB = 16
METADATA = DocumentMetadata("bench", DocumentCategory.REPORTS, "application/pdf")


@dataclass(frozen=True)
class SizeResult:
    """The measurements for one document size."""

    size_mib: int
    repeat: int
    put_mb_s: float
    get_mb_s: float
    server_vmhwm_kib: int


@dataclass(frozen=True)
class Report:
    """The whole run: the server's peak memory before any document, then per size."""

    server_vmhwm_kib_idle: int
    server_vmhwm_kib_peak: int
    results: list[SizeResult]


# -- the server subprocess --------------------------------------------------------------


def free_port() -> int:
    """A TCP port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`dossier-vault serve` from this interpreter's environment; its output goes to `log`."""
    executable = Path(sys.executable).parent / "dossier-vault"
    env = {**os.environ, "VAULT_DATA_DIR": str(data_dir), "VAULT_LISTEN": f"127.0.0.1:{port}"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(executable), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_until_ready(process: subprocess.Popen[bytes], target: str, log: Path) -> None:
    """Waits until a gRPC channel to `target` connects; fails if the server dies first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    with grpc.insecure_channel(target) as channel:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {process.returncode}:\n{log.read_text(errors='replace')}"
                )
            try:
                grpc.channel_ready_future(channel).result(timeout=0.5)
            except grpc.FutureTimeoutError:
                continue
            return
    raise TimeoutError(f"server not ready on {target} after {STARTUP_TIMEOUT_SECONDS:.0f} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the server has not exited in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(data_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A ready server on a free port over `data_dir`; always stopped on exit."""
    port = free_port()
    target = f"127.0.0.1:{port}"
    log = data_dir / "server.log"
    process = start_server(data_dir, port, log)
    try:
        wait_until_ready(process, target, log)
        yield process, target
    finally:
        stop_server(process)


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


# -- the measurements -------------------------------------------------------------------


def mb_per_second(size: int, seconds: float) -> float:
    return size / MB / seconds


def timed_put(client: VaultClient, dossier_id: str, data: bytes) -> tuple[float, str]:
    """Seconds taken to store `data` as a new document, and the document's id."""
    start = time.perf_counter()
    document = client.put_document(dossier_id, METADATA, data)
    elapsed = time.perf_counter() - start
    if document.size != len(data):
        raise RuntimeError(f"stored {document.size} bytes instead of {len(data)}")
    return elapsed, str(document.document_id)


def timed_get(client: VaultClient, dossier_id: str, document_id: str, size: int) -> float:
    """Seconds taken to read a document back (counting bytes, not keeping them)."""
    start = time.perf_counter()
    received = sum(len(chunk) for chunk in client.get_document(dossier_id, document_id))
    elapsed = time.perf_counter() - start
    if received != size:
        raise RuntimeError(f"received {received} bytes instead of {size}")
    return elapsed


def bench_size(
    client: VaultClient, dossier_id: str, size_mib: int, repeat: int, server_pid: int
) -> SizeResult:
    """`repeat` puts then `repeat` gets of one random document of `size_mib` MiB."""
    data = os.urandom(size_mib * MIB)
    put_rates: list[float] = []
    document_id = ""
    for _ in range(repeat):
        seconds, document_id = timed_put(client, dossier_id, data)
        put_rates.append(mb_per_second(len(data), seconds))
    get_rates = [
        mb_per_second(len(data), timed_get(client, dossier_id, document_id, len(data)))
        for _ in range(repeat)
    ]
    return SizeResult(
        size_mib=size_mib,
        repeat=repeat,
        put_mb_s=statistics.median(put_rates),
        get_mb_s=statistics.median(get_rates),
        server_vmhwm_kib=peak_rss_kib(server_pid),
    )


def repeat_for(size_mib: int, repeat: int | None) -> int:
    if repeat is not None:
        return repeat
    return SMALL_REPEAT if size_mib <= LARGE_MIB else LARGE_REPEAT


def run(sizes: Sequence[int], repeat: int | None) -> Report:
    """The whole benchmark, against a fresh server in a fresh data directory."""
    data_dir = Path(tempfile.mkdtemp(prefix="vault-bench-"))
    try:
        key = load_or_create_dev_issuer(data_dir)
        token = mint_token(key, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=3600)
        with running_server(data_dir) as (process, target), VaultClient(target, token) as client:
            dossier_id = str(client.create_dossier(PATIENT_INS).dossier_id)
            idle = peak_rss_kib(process.pid)
            results = [
                bench_size(client, dossier_id, size, repeat_for(size, repeat), process.pid)
                for size in sizes
            ]
            return Report(idle, peak_rss_kib(process.pid), results)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# -- output -----------------------------------------------------------------------------


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def markdown(report: Report) -> str:
    lines = [
        "| size | runs | put MB/s (median) | get MB/s (median) | server VmHWM after |",
        "|-----:|-----:|------------------:|------------------:|-------------------:|",
    ]
    lines += [
        f"| {r.size_mib} MiB | {r.repeat} | {r.put_mb_s:.1f} | {r.get_mb_s:.1f} "
        f"| {mib(r.server_vmhwm_kib)} |"
        for r in report.results
    ]
    lines.append("")
    lines.append(
        f"Server VmHWM: {mib(report.server_vmhwm_kib_idle)} before any document, "
        f"{mib(report.server_vmhwm_kib_peak)} at the end."
    )
    return "\n".join(lines)


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of MiB integers: {text!r}") from None
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive integers (MiB)")
    return sizes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[1, 64],
        help="document sizes in MiB, comma-separated (default: 1,64)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help=f"puts and gets per size (default: {SMALL_REPEAT} up to {LARGE_MIB} MiB, "
        f"{LARGE_REPEAT} above)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args.sizes, args.repeat)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
