"""S3 back end benchmark: the vault's full document path against a raw S3 call.

Starts an S3 server on loopback: moto (`--s3 moto`, the default: `bench.s3_server`, in
its own process on a free local port) or SeaweedFS (`--s3 seaweedfs`: `weed mini`, a
production S3 implementation in Go, started as the tests start it, tests/s3_servers.py);
creates a bucket, then starts a real `dossier-vault serve` subprocess whose blobs
go to that bucket (VAULT_S3_*: dummy credentials, path-style addressing). For each
document size (1 KiB, 1 MiB and 64 MiB by default) it measures, in the same run and
against the same S3 server, the median time of:

- the vault's full path: PutDocument and GetDocument through `VaultClient` (gRPC
  streaming, SHA-256 on both sides, AES-256-GCM segments, index and journal writes, and
  the S3 PutObject / multipart upload with its SHA-256 checksum, or GetObject);
- the raw S3 call: boto3 `put_object` / `get_object` of the same bytes (no checksum
  asked for, the body read in 1 MiB chunks), from this process.

It reports MB/s (MB = 10^6 bytes) for both and the ratio vault time / raw time (the goal:
at most 1.3 from 1 MiB up), with the vault server's peak resident memory (VmHWM from
/proc/<pid>/status) after each size, so one can see that memory stays flat as documents
grow. `--big 1024` adds one put and one get of a 1 GiB document, streamed from a temp
file and counted chunk by chunk, never held whole in this process's memory.

A second table gives what each vault call costs the vault server beside its time
(`bench.s3_costs`): the CPU its threads used during the call (median), and the S3
requests it sent, by operation (mean per call; with `--count-s3-requests` only, counted
by `bench/s3_counter`, put on the server's PYTHONPATH: its write per request releases
the GIL, so leave it out of timing runs).

A third table gives two references that separate the vault's own cost from what the
protocol costs any careful client, with the same bytes and S3 server:

- raw multipart put: what a document larger than one part needs, since its size is
  unknown when its upload starts: boto3 `create_multipart_upload`, then one
  `upload_part` per 8 MiB (the vault's default part size) with its SHA-256 checksum,
  sequentially, then `complete_multipart_upload`;
- raw get + SHA-256: `get_object` with the body hashed as it arrives, as the vault's
  client checks every download end to end.

A fourth table gives the floor under any gRPC service in front of S3 on this machine:
`bench.passthrough`, a proxy in its own process that forwards raw bytes between a gRPC
stream and S3 and does nothing else (puts up to one part; gets of any size). Its ratio
to the raw call is what the second network hop alone costs; the vault's ratio to it is
what the vault's own work costs.

Run it from the repository root:

    .venv/bin/python -m bench.bench_s3 [--sizes 0.001,1,64] [--repeat N] [--big 1024]
                                       [--s3-latency-ms N] [--s3-bandwidth-mb-s R]
                                       [--s3 moto|seaweedfs] [--count-s3-requests]
                                       [--json]

`--s3-latency-ms N` has the S3 server (`bench.s3_server`) serve every request N ms late,
and `--s3-bandwidth-mb-s R` move each request's and answer's body at R MB/s at most, as
an endpoint across a network would: every path's S3 calls wait, the vault's own work
does not (moto only). Sizes are in MiB, rounded to whole KiB (0.001 is 1 KiB). Linux only
(VmHWM is read from /proc). The servers are stopped and the temporary directory removed
at the end, whatever happens. Four processes share the machine (this one, the vault, the proxy and
moto), so on a small machine the ratio includes CPU contention between them.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import grpc
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bench.bench_documents import free_port, mb_per_second, mib, peak_rss_kib
from bench.s3_costs import CallCosts, counting_env, requests_per_call
from tests.s3_servers import seaweedfs_server
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import Content, VaultClient
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import CompletedPartTypeDef

PATIENT_INS = "184127645108946"
KIB = 1024
MIB = 1024 * KIB
CHUNK = MIB  # read and write granularity, as VaultClient's
PART_SIZE = 8 * MIB  # the vault's default S3 part size (VAULT_S3_PART_SIZE)
REGION = "us-east-1"
DUMMY_KEY = "testing"
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
DEFAULT_SIZES_MIB = (0.001, 1.0, 64.0)
MAX_MIB = 1024 * 1024  # 1 TiB: a sanity bound on --sizes and --big
PASSTHROUGH_SERVICE = "passthrough"  # bench.passthrough's gRPC methods
PASSTHROUGH_PUT = f"/{PASSTHROUGH_SERVICE}/Put"
PASSTHROUGH_GET = f"/{PASSTHROUGH_SERVICE}/Get"
PASSTHROUGH_KEY_HEADER = "object-key"
METADATA = DocumentMetadata("bench", DocumentCategory.REPORTS, "application/pdf")
S3_SERVERS = ("moto", "seaweedfs")


@dataclass(frozen=True)
class SizeResult:
    """The medians for one document size (MB/s) and the server's VmHWM after it."""

    size_bytes: int
    repeat: int
    vault_put_mb_s: float
    raw_put_mb_s: float
    put_ratio: float  # vault time / raw time
    vault_get_mb_s: float
    raw_get_mb_s: float
    get_ratio: float
    server_vmhwm_kib: int
    raw_multipart_put_mb_s: float | None = None  # None: the document fits in one part
    raw_get_sha256_mb_s: float | None = None
    passthrough_put_mb_s: float | None = None
    passthrough_get_mb_s: float | None = None
    vault_put_cpu_ms: float | None = None  # the vault server's CPU per call (median)
    vault_get_cpu_ms: float | None = None
    s3_requests_per_put: dict[str, float] | None = None  # by operation, mean per call
    s3_requests_per_get: dict[str, float] | None = None


@dataclass(frozen=True)
class Network:
    """How far the S3 server acts as if it were: latency per request, bandwidth per
    request (0: unlimited)."""

    latency_ms: float = 0.0
    bandwidth_mb_s: float = 0.0

    def describe(self) -> str:
        if self == LOOPBACK:
            return ""
        rate = f"{self.bandwidth_mb_s:g} MB/s" if self.bandwidth_mb_s else "unlimited bandwidth"
        late = f"{self.latency_ms:g} ms late" if self.latency_ms else "without delay"
        return f"The S3 server served every request {late}, at {rate}."


LOOPBACK = Network()


@dataclass(frozen=True)
class Report:
    """The whole run: the server's VmHWM before any document, then per size."""

    server_vmhwm_kib_idle: int
    results: list[SizeResult]
    network: Network = field(default_factory=lambda: LOOPBACK)  # the S3 server's
    s3: str = "moto"  # which S3 server (S3_SERVERS)


@dataclass(frozen=True)
class Timings:
    """Seconds per repetition for one size, for both paths and the references."""

    vault_put: list[float]
    raw_put: list[float]
    vault_get: list[float]
    raw_get: list[float]
    raw_multipart_put: list[float] = field(default_factory=list)
    raw_get_sha256: list[float] = field(default_factory=list)
    passthrough_put: list[float] = field(default_factory=list)
    passthrough_get: list[float] = field(default_factory=list)


# -- processes --------------------------------------------------------------------------


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`command` in its own process, its output going to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process has not exited in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(
    process: subprocess.Popen[bytes], log: Path, what: str, ready: Callable[[], bool]
) -> None:
    """Polls `ready` until it is true; fails if the process dies or time runs out."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{output}")
        if ready():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {STARTUP_TIMEOUT_SECONDS:.0f} s")


@contextmanager
def running(
    command: list[str], env: dict[str, str], log: Path, what: str, ready: Callable[[], bool]
) -> Iterator[subprocess.Popen[bytes]]:
    """A started and ready process; always stopped on exit."""
    process = spawn(command, env, log)
    try:
        wait_for(process, log, what, ready)
        yield process
    finally:
        stop(process)


# -- the S3 server ----------------------------------------------------------------------


def s3_client(endpoint: str) -> S3Client:
    """A plain boto3 client for the raw calls: path style, no checksums unless required."""
    config = Config(
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_KEY,
        config=config,
    )


def s3_answers(client: S3Client) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            client.list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True

    return ready


@contextmanager
def moto_server(workdir: Path, network: Network) -> Iterator[str]:
    """A moto S3 server in its own process (`bench.s3_server`), as far away as `network`
    says; yields its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bench.s3_server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--latency-ms", str(network.latency_ms)]
    command += ["--bandwidth-mb-s", str(network.bandwidth_mb_s)]
    ready = s3_answers(s3_client(endpoint))
    with running(command, dict(os.environ), workdir / "moto.log", "moto server", ready):
        yield endpoint


@contextmanager
def s3_server(kind: str, workdir: Path, network: Network = LOOPBACK) -> Iterator[str]:
    """The S3 server `kind` (one of S3_SERVERS) on loopback; yields its endpoint URL.
    SeaweedFS is `weed mini` as the tests start it (tests/s3_servers.py: every port on
    loopback, `DUMMY_KEY` an admin identity); only moto can act as a distant endpoint."""
    if kind == "moto":
        with moto_server(workdir, network) as endpoint:
            yield endpoint
        return
    if kind != "seaweedfs":
        raise ValueError(f"unknown S3 server {kind!r}")
    if network != LOOPBACK:
        raise ValueError("--s3-latency-ms and --s3-bandwidth-mb-s need moto (bench.s3_server)")
    data = workdir / "seaweedfs"
    data.mkdir()
    with seaweedfs_server(data) as server:
        yield server.endpoint


# -- the vault server -------------------------------------------------------------------


def vault_s3_settings(endpoint: str, bucket: str) -> dict[str, str]:
    """The vault's VAULT_S3_* settings for `bucket` on the server at `endpoint`."""
    return {
        "VAULT_S3_BUCKET": bucket,
        "VAULT_S3_ENDPOINT_URL": endpoint,
        "VAULT_S3_REGION": REGION,
        "VAULT_S3_ACCESS_KEY_ID": DUMMY_KEY,
        "VAULT_S3_SECRET_ACCESS_KEY": DUMMY_KEY,
        "VAULT_S3_PATH_STYLE": "true",
    }


def vault_env(data_dir: Path, listen: str, endpoint: str, bucket: str) -> dict[str, str]:
    settings = vault_s3_settings(endpoint, bucket)
    return {**os.environ, "VAULT_DATA_DIR": str(data_dir), "VAULT_LISTEN": listen, **settings}


def grpc_answers(target: str) -> Callable[[], bool]:
    def ready() -> bool:
        with grpc.insecure_channel(target) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=0.5)
            except grpc.FutureTimeoutError:
                return False
            return True

    return ready


@contextmanager
def vault_server(
    data_dir: Path, endpoint: str, bucket: str, requests: Path | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A ready `dossier-vault serve` over `data_dir` and the bucket (logging its S3
    requests to `requests`, if given); yields it and its gRPC target."""
    target = f"127.0.0.1:{free_port()}"
    command = [str(Path(sys.executable).parent / "dossier-vault"), "serve"]
    env = vault_env(data_dir, target, endpoint, bucket)
    if requests is not None:
        env.update(counting_env(requests))
    log = data_dir.parent / "vault.log"
    with running(command, env, log, "vault server", grpc_answers(target)) as process:
        yield process, target


@contextmanager
def passthrough_server(workdir: Path, endpoint: str, bucket: str) -> Iterator[str]:
    """A ready `bench.passthrough` proxy in front of the bucket; yields its gRPC target."""
    target = f"127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "bench.passthrough", "--listen", target]
    command += ["--endpoint", endpoint, "--bucket", bucket]
    log = workdir / "passthrough.log"
    with running(command, dict(os.environ), log, "pass-through proxy", grpc_answers(target)):
        yield target


# -- one put or get, timed --------------------------------------------------------------


def check_size(received: int, expected: int, what: str) -> None:
    if received != expected:
        raise RuntimeError(f"{what}: {received} bytes instead of {expected}")


def timed_read(read: Callable[[], Iterable[bytes]], size: int, what: str) -> float:
    """Seconds to call `read` and take every chunk it gives; checks they add up to
    `size` bytes."""
    start = time.perf_counter()
    received = sum(len(chunk) for chunk in read())
    elapsed = time.perf_counter() - start
    check_size(received, size, what)
    return elapsed


@dataclass
class VaultPath:
    """Documents in one dossier, through the gRPC client."""

    client: VaultClient
    dossier_id: str

    def put(self, content: Content, size: int) -> tuple[float, str]:
        """Seconds to store `content` as a new document, and the document's id."""
        start = time.perf_counter()
        document = self.client.put_document(self.dossier_id, METADATA, content)
        elapsed = time.perf_counter() - start
        check_size(document.size, size, "vault put")
        return elapsed, str(document.document_id)

    def get(self, document_id: str, size: int) -> float:
        """Seconds to read a document back, counting its chunks (the client checks its
        SHA-256)."""
        download = functools.partial(self.client.get_document, self.dossier_id, document_id)
        return timed_read(download, size, "vault get")


@dataclass
class RawPath:
    """Objects in the bucket, through boto3 directly."""

    client: S3Client
    bucket: str

    def put(self, key: str, content: bytes | Path) -> float:
        """Seconds for one PutObject of `content` (a file is streamed, not loaded)."""
        start = time.perf_counter()
        if isinstance(content, Path):
            with content.open("rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
        else:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=content)
        return time.perf_counter() - start

    def put_multipart(self, key: str, content: bytes | Path) -> float:
        """Seconds for a multipart upload of `content` in `PART_SIZE` parts, each with
        its SHA-256 checksum, one after the other."""
        start = time.perf_counter()
        upload_id = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256"
        )["UploadId"]
        parts: list[CompletedPartTypeDef] = []
        for number, part in enumerate(_pieces(content, PART_SIZE), start=1):
            checksum = base64.b64encode(hashlib.sha256(part).digest()).decode()
            etag = self.client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=part,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
            )["ETag"]
            parts.append({"PartNumber": number, "ETag": etag, "ChecksumSHA256": checksum})
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        return time.perf_counter() - start

    def get(self, key: str, size: int, *, sha256: bool = False) -> float:
        """Seconds for one GetObject, reading its body in chunks (and hashing them)."""
        start = time.perf_counter()
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        digest, received = hashlib.sha256(), 0
        for chunk in body.iter_chunks(CHUNK):
            received += len(chunk)
            if sha256:
                digest.update(chunk)
        elapsed = time.perf_counter() - start
        check_size(received, size, "raw get")
        return elapsed

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


@dataclass
class PassthroughPath:
    """Objects in the bucket, through the pass-through gRPC proxy (`bench.passthrough`)."""

    channel: grpc.Channel

    def put(self, key: str, content: bytes | Path) -> float:
        """Seconds to stream `content` to the proxy in `CHUNK` messages until it is stored."""
        put: grpc.StreamUnaryMultiCallable[bytes, bytes] = self.channel.stream_unary(
            PASSTHROUGH_PUT
        )
        start = time.perf_counter()
        put(_pieces(content, CHUNK), metadata=((PASSTHROUGH_KEY_HEADER, key),))
        return time.perf_counter() - start

    def get(self, key: str, size: int) -> float:
        """Seconds to read an object back through the proxy, counting its chunks."""
        get: grpc.UnaryStreamMultiCallable[bytes, bytes] = self.channel.unary_stream(
            PASSTHROUGH_GET
        )
        return timed_read(functools.partial(get, key.encode()), size, "pass-through get")


# -- the measurements -------------------------------------------------------------------


@dataclass
class Paths:
    """Every path to the same S3 server, the vault server's pid and what its calls
    cost it."""

    vault: VaultPath
    raw: RawPath
    passthrough: PassthroughPath
    server_pid: int
    costs: CallCosts


def time_puts(paths: Paths, content: bytes | Path, size: int, repeat: int) -> tuple[Timings, str]:
    """`repeat` interleaved vault, raw, and pass-through (one part) or raw multipart
    (larger) puts; the last document's id (the other objects are overwritten under their
    keys)."""
    timings = Timings([], [], [], [])
    document_id = ""
    for _ in range(repeat):
        paths.costs.start()
        seconds, document_id = paths.vault.put(content, size)
        paths.costs.stop("put")
        timings.vault_put.append(seconds)
        timings.raw_put.append(paths.raw.put(raw_key(size), content))
        if size > PART_SIZE:
            multipart = paths.raw.put_multipart(multipart_key(size), content)
            timings.raw_multipart_put.append(multipart)
        else:
            passthrough = paths.passthrough.put(passthrough_key(size), content)
            timings.passthrough_put.append(passthrough)
    return timings, document_id


def time_gets(paths: Paths, document_id: str, size: int, repeat: int, into: Timings) -> None:
    """`repeat` interleaved vault, raw, raw-and-hashed and pass-through gets, added to
    `into`."""
    for _ in range(repeat):
        paths.costs.start()
        into.vault_get.append(paths.vault.get(document_id, size))
        paths.costs.stop("get")
        into.raw_get.append(paths.raw.get(raw_key(size), size))
        into.raw_get_sha256.append(paths.raw.get(raw_key(size), size, sha256=True))
        into.passthrough_get.append(paths.passthrough.get(raw_key(size), size))


def delete_objects(paths: Paths, size: int) -> None:
    for key in (raw_key(size), multipart_key(size), passthrough_key(size)):
        paths.raw.delete(key)


def raw_key(size: int) -> str:
    return f"raw/{size}"


def multipart_key(size: int) -> str:
    return f"raw-multipart/{size}"


def passthrough_key(size: int) -> str:
    return f"passthrough/{size}"


def _pieces(content: bytes | Path, size: int) -> Iterator[bytes]:
    """`content` in pieces of `size` bytes (a file is read one piece at a time)."""
    if isinstance(content, bytes):
        for start in range(0, len(content), size):
            yield content[start : start + size]
        return
    with content.open("rb") as source:
        yield from iter(lambda: source.read(size), b"")


def summarize(size: int, timings: Timings, server_pid: int, costs: CallCosts) -> SizeResult:
    def mb_s(seconds: list[float]) -> float:
        return mb_per_second(size, statistics.median(seconds))

    def reference(seconds: list[float]) -> float | None:
        return mb_s(seconds) if seconds else None

    def ratio(vault: list[float], raw: list[float]) -> float:
        return statistics.median(vault) / statistics.median(raw)

    return SizeResult(
        size_bytes=size,
        repeat=len(timings.vault_put),
        vault_put_mb_s=mb_s(timings.vault_put),
        raw_put_mb_s=mb_s(timings.raw_put),
        put_ratio=ratio(timings.vault_put, timings.raw_put),
        vault_get_mb_s=mb_s(timings.vault_get),
        raw_get_mb_s=mb_s(timings.raw_get),
        get_ratio=ratio(timings.vault_get, timings.raw_get),
        server_vmhwm_kib=peak_rss_kib(server_pid),
        raw_multipart_put_mb_s=reference(timings.raw_multipart_put),
        raw_get_sha256_mb_s=reference(timings.raw_get_sha256),
        passthrough_put_mb_s=reference(timings.passthrough_put),
        passthrough_get_mb_s=reference(timings.passthrough_get),
        vault_put_cpu_ms=statistics.median(costs.cpu_ms["put"]),
        vault_get_cpu_ms=statistics.median(costs.cpu_ms["get"]),
        s3_requests_per_put=requests_per_call(costs.requests["put"]) if costs.log else None,
        s3_requests_per_get=requests_per_call(costs.requests["get"]) if costs.log else None,
    )


def bench_size(paths: Paths, size: int, repeat: int) -> SizeResult:
    """`repeat` puts then `repeat` gets of one random content of `size` bytes."""
    paths.costs.reset()
    timings, document_id = time_puts(paths, os.urandom(size), size, repeat)
    time_gets(paths, document_id, size, repeat, timings)
    delete_objects(paths, size)
    return summarize(size, timings, paths.server_pid, paths.costs)


def random_file(path: Path, size: int) -> None:
    """`size` random bytes written to `path` chunk by chunk."""
    with path.open("wb") as out:
        for start in range(0, size, CHUNK):
            out.write(os.urandom(min(CHUNK, size - start)))


def bench_big(paths: Paths, size: int, workdir: Path) -> SizeResult:
    """One put and one get of a `size`-byte document streamed from a temp file."""
    source = workdir / "big.bin"
    random_file(source, size)
    paths.costs.reset()
    try:
        timings, document_id = time_puts(paths, source, size, 1)
    finally:
        source.unlink()
    time_gets(paths, document_id, size, 1, timings)
    delete_objects(paths, size)
    return summarize(size, timings, paths.server_pid, paths.costs)


def warm_up(paths: Paths) -> None:
    """One small put and get on each path, so connections exist before timing."""
    timings, document_id = time_puts(paths, os.urandom(KIB), KIB, 1)
    time_gets(paths, document_id, KIB, 1, timings)
    delete_objects(paths, KIB)


def repeat_for(size: int, repeat: int | None) -> int:
    if repeat is not None:
        return repeat
    if size < MIB:
        return 31
    return 15 if size <= 4 * MIB else 5


@contextmanager
def bench_paths(
    workdir: Path, network: Network = LOOPBACK, s3: str = "moto", count_requests: bool = False
) -> Iterator[Paths]:
    """The servers up (`s3`: which S3 server), a dossier created; yields the paths.
    `count_requests`: the vault server logs its S3 requests (`bench/s3_counter`)."""
    requests = workdir / "s3-requests.log" if count_requests else None
    data_dir = workdir / "data"
    data_dir.mkdir()
    key = load_or_create_dev_issuer(data_dir)
    token = mint_token(key, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=3600)
    bucket = f"vault-bench-{secrets.token_hex(4)}"
    with s3_server(s3, workdir, network) as endpoint:
        raw = RawPath(s3_client(endpoint), bucket)
        raw.client.create_bucket(Bucket=bucket)
        with (
            vault_server(data_dir, endpoint, bucket, requests) as (process, target),
            VaultClient(target, token) as client,
            passthrough_server(workdir, endpoint, bucket) as proxy_target,
            grpc.insecure_channel(proxy_target) as proxy_channel,
        ):
            dossier_id = str(client.create_dossier(PATIENT_INS).dossier_id)
            vault = VaultPath(client, dossier_id)
            costs = CallCosts(process.pid, requests)
            yield Paths(vault, raw, PassthroughPath(proxy_channel), process.pid, costs)


def run(
    sizes: Sequence[int],
    repeat: int | None,
    big: int | None,
    network: Network = LOOPBACK,
    s3: str = "moto",
    count_requests: bool = False,
) -> Report:
    """The whole benchmark, against fresh servers in a fresh temporary directory."""
    workdir = Path(tempfile.mkdtemp(prefix="vault-bench-s3-"))
    try:
        with bench_paths(workdir, network, s3, count_requests) as paths:
            idle = peak_rss_kib(paths.server_pid)
            warm_up(paths)
            results = [bench_size(paths, s, repeat_for(s, repeat)) for s in sizes]
            if big is not None:
                results.append(bench_big(paths, big, workdir))
            return Report(idle, results, network, s3)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# -- output -----------------------------------------------------------------------------


def size_label(size: int) -> str:
    for unit, name in ((MIB * KIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if size >= unit:
            return f"{size / unit:g} {name}"
    return f"{size} B"


def rate(mb_s: float) -> str:
    """Three significant digits below 100 MB/s (small documents are slow), none above."""
    return f"{mb_s:.3g}" if mb_s < 100 else f"{mb_s:.0f}"


def markdown(report: Report) -> str:
    lines = [
        "| size | vault put MB/s | raw put MB/s | put ratio | vault get MB/s | raw get MB/s "
        "| get ratio | server VmHWM |",
        "|-----:|---------------:|-------------:|----------:|---------------:|-------------:"
        "|----------:|-------------:|",
    ]
    lines += [
        f"| {size_label(r.size_bytes)} | {rate(r.vault_put_mb_s)} "
        f"| {rate(r.raw_put_mb_s)} | {r.put_ratio:.2f}x | {rate(r.vault_get_mb_s)} "
        f"| {rate(r.raw_get_mb_s)} | {r.get_ratio:.2f}x | {mib(r.server_vmhwm_kib)} |"
        for r in report.results
    ]
    runs = ", ".join(f"{size_label(r.size_bytes)} x{r.repeat}" for r in report.results)
    lines.append("")
    lines.append(f"Medians of each path's puts and gets ({runs}), against {report.s3}.")
    lines.append("Ratio = vault time / raw S3 time (goal: at most 1.3x from 1 MiB up).")
    if description := report.network.describe():
        lines.append(description)
    lines.append(f"Server VmHWM before any document: {mib(report.server_vmhwm_kib_idle)}.")
    lines.append(fixed_costs(report))
    lines.append("")
    lines += call_costs(report)
    lines.append("")
    lines += references(report)
    lines.append("")
    lines += passthrough(report)
    return "\n".join(lines)


def fixed_costs(report: Report) -> str:
    """The vault's cost per call beyond the raw call's: median vault time minus median
    raw time (issue #18's goal at 1 KiB: 3 ms a put, 2 ms a get)."""

    def extra_ms(size: int, vault_mb_s: float, raw_mb_s: float) -> str:
        return f"{(size / vault_mb_s - size / raw_mb_s) / 1000:.1f}"

    costs = ", ".join(
        f"{size_label(r.size_bytes)} put {extra_ms(r.size_bytes, r.vault_put_mb_s, r.raw_put_mb_s)}"
        f" get {extra_ms(r.size_bytes, r.vault_get_mb_s, r.raw_get_mb_s)}"
        for r in report.results
    )
    return f"Vault time minus raw time, ms (medians): {costs}."


def _requests(per_call: dict[str, float] | None) -> str:
    if not per_call:
        return "-"
    return ", ".join(f"{operation} {count:.2g}" for operation, count in per_call.items())


def call_costs(report: Report) -> list[str]:
    """The vault server's CPU per call and the S3 requests it sent per call."""
    lines = [
        "| size | vault server CPU per put, ms | S3 requests per put "
        "| vault server CPU per get, ms | S3 requests per get |",
        "|-----:|--:|--|--:|--|",
    ]
    for r in report.results:
        if r.vault_put_cpu_ms is None or r.vault_get_cpu_ms is None:
            continue  # a report from before the costs were measured
        lines.append(
            f"| {size_label(r.size_bytes)} | {r.vault_put_cpu_ms:.1f} "
            f"| {_requests(r.s3_requests_per_put)} | {r.vault_get_cpu_ms:.1f} "
            f"| {_requests(r.s3_requests_per_get)} |"
        )
    return lines


def references(report: Report) -> list[str]:
    """The protocol's own costs: raw multipart put, raw get with SHA-256."""
    lines = [
        "| size | raw multipart put MB/s | vault put / it | raw get + SHA-256 MB/s "
        "| vault get / it |",
        "|-----:|-----------------------:|---------------:|----------------------:"
        "|---------------:|",
    ]
    for r in report.results:
        put = r.raw_multipart_put_mb_s
        get = r.raw_get_sha256_mb_s or r.raw_get_mb_s
        put_cells = f"{rate(put)} | {put / r.vault_put_mb_s:.2f}x" if put else "(one part) | -"
        lines.append(
            f"| {size_label(r.size_bytes)} | {put_cells} | {rate(get)} "
            f"| {get / r.vault_get_mb_s:.2f}x |"
        )
    return lines


def passthrough(report: Report) -> list[str]:
    """The floor: the pass-through proxy against the raw call, and the vault against it
    (puts up to one part: a larger one's floor is the raw multipart put)."""
    lines = [
        "| size | pass-through put MB/s | its ratio to raw | vault put / it "
        "| pass-through get MB/s | its ratio to raw | vault get / it |",
        "|-----:|----------------------:|-----------------:|---------------:"
        "|----------------------:|-----------------:|---------------:|",
    ]
    for r in report.results:
        put, get = r.passthrough_put_mb_s, r.passthrough_get_mb_s
        if get is None:  # a report from before the pass-through path
            continue
        put_cells = (
            f"{rate(put)} | {r.raw_put_mb_s / put:.2f}x | {put / r.vault_put_mb_s:.2f}x"
            if put
            else "(multipart) | - | -"
        )
        lines.append(
            f"| {size_label(r.size_bytes)} | {put_cells} | {rate(get)} "
            f"| {r.raw_get_mb_s / get:.2f}x | {get / r.vault_get_mb_s:.2f}x |"
        )
    return lines


def mib_to_bytes(value: float) -> int:
    """MiB to bytes, rounded to whole KiB (at least 1 KiB)."""
    return max(KIB, round(value * KIB) * KIB)


def parse_sizes(text: str) -> list[int]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of sizes in MiB: {text!r}") from None
    if not values or not all(0 < value < MAX_MIB for value in values):
        raise argparse.ArgumentTypeError(f"sizes must be positive numbers below {MAX_MIB} (MiB)")
    return [mib_to_bytes(value) for value in values]


def parse_big(text: str) -> int:
    return parse_sizes(text)[0]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[mib_to_bytes(size) for size in DEFAULT_SIZES_MIB],
        help="document sizes in MiB, comma-separated (default: 0.001,1,64)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="puts and gets per size and path (default: 31 below 1 MiB, 15 up to 4 MiB, 5 above)",
    )
    parser.add_argument(
        "--big",
        type=parse_big,
        default=None,
        help="also one put and get of a document this large (MiB), streamed from a file",
    )
    parser.add_argument(
        "--s3-latency-ms",
        type=float,
        default=0.0,
        help="delay the S3 server adds to every request, as a network would (default: 0)",
    )
    parser.add_argument(
        "--s3-bandwidth-mb-s",
        type=float,
        default=0.0,
        help="bandwidth of each S3 request, in MB/s, as a network's (default: 0, unlimited)",
    )
    parser.add_argument(
        "--s3", choices=S3_SERVERS, default="moto", help="the S3 server (default: moto)"
    )
    parser.add_argument(
        "--count-s3-requests",
        action="store_true",
        help="count the vault server's S3 requests per call (one small write per request"
        " in the server, so not in timing runs)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    if args.s3 != "moto" and (args.s3_latency_ms or args.s3_bandwidth_mb_s):
        parser.error("--s3-latency-ms and --s3-bandwidth-mb-s need --s3 moto")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.s3_latency_ms < 0 or args.s3_bandwidth_mb_s < 0:
        parser.error("--s3-latency-ms and --s3-bandwidth-mb-s must not be negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    network = Network(args.s3_latency_ms, args.s3_bandwidth_mb_s)
    report = run(args.sizes, args.repeat, args.big, network, args.s3, args.count_s3_requests)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
