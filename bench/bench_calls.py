"""Small-call benchmark: calls/s, latency and server CPU per call, vault against a ceiling.

A national record is mostly small calls: a portal shows a dossier, lists its documents,
opens one, a professional adds one. This benchmark measures them under closed-loop load:

- GetDossier (`get_dossier`), ListDocuments of a page of 20 (`list`), GetDocument of a
  4 KiB document (`get`), PutDocument of a 4 KiB document (`put`), and `mixed`: each
  client cycles put, get, list (a third of each);
- at 1, 8 and 32 concurrent clients (`--clients`). Clients are grpc.aio coroutines in
  separate client processes (`--processes`, at most 4 by default), so the client's GIL is
  not the limit; each process has one channel. Each closed-loop client sends its next
  call as soon as the previous one answered.

Against two servers, measured in the same run with the same client harness, one after
the other for each call and client count:

- the vault: a real `dossier-vault serve` subprocess, on the embedded default (SQLite and
  a local blob directory) in a fresh data directory; `--database-url` puts its index and
  journal in PostgreSQL instead (a fresh schema, dropped at the end), `--s3` its blobs in
  a local moto S3 server (`bench.s3_server`, in its own process);
- the ceiling: `bench.ceiling_server`, a bare grpc.aio server in its own process that
  answers the same methods with canned copies of the vault's answers (same sizes, same
  protobuf work), and does nothing else.

`--server-processes N` runs the vault as `serve --processes N` (ADR 0012: N workers on
one port, the kernel spreading connections among them); its CPU is then the parent's
and the workers' together. Connections are spread per connection, not per call, so give
the clients several (`--channels`, connections per client process, each its own).

Set-up (realistic for a patient portal): per client process, one patient with a dossier
of `--documents` (30) documents of 4 KiB that reads go to, and another patient with a
dossier that the puts go to (so listings keep the same dossier size throughout). Tokens
come from `dossier-vault dev-token` (patient tokens; a patient reads their own dossier).
`--reader professional` makes the reads a physician's instead (one RPPS, set as each
read dossier's authorised professional by its patient): the gate then reads what the dossier
records about them (relations, care teams, the patient's overrides), as on every
professional's request; the puts stay the patients'.
A get picks one of the seeded documents at random.

Per server, call and client count it reports calls/s, p50 and p99 latency (ms, from the
client, over the calls that started in the measured window), errors, and the server
process's CPU seconds per call (utime + stime from /proc/<pid>/stat over the window; a
ceiling and a vault figure side by side, with ratios). Each window follows a warm-up
(`--warmup`, 1 s) during which the clients already run. Beside each figure: the 1-minute
load average at the end of the window and the share of the machine's CPUs that were busy
during it (/proc/stat), since other work on the machine moves the numbers.

`--profile` adds, for each call and client count, one more vault run under py-spy
(`py-spy record --format raw --threads --nonblocking`, installed with the `bench` extra)
and prints per component (bench/cpu_shares.py has the classification rules and their
caveats) the share of the server's samples, and the CPU seconds when each thread's
samples share out the CPU /proc says that thread used over the window. The choices:
no `--idle`, so threads blocked on a lock, the GIL, a queue or epoll are not sampled
(but threads in disk wait and runnable threads waiting for a CPU are: hence the
weighting by thread CPU, and cpu_shares' "waiting" rule); `--threads`, to give each
sample its thread (event loop, pool worker, journal committer) and its thread id for
the weighting; `--nonblocking`, so the server is not stopped for each sample and the
profiled run's calls/s (reported) stays near the unprofiled one, at the cost of an
occasional torn stack; no `--subprocesses` (the server starts none). py-spy sees Python
threads only: the CPU of grpc's C-core threads is reported apart. `--profile-gil`
samples only the thread holding the GIL (py-spy `--gil`): the share of the one Python
core per component, every wait and GIL-free C code left out. py-spy needs ptrace on the
server (root, or kernel.yama.ptrace_scope 0); if it fails, the report says so and the
run goes on.

    .venv/bin/python -m bench.bench_calls [--clients 1,8,32] [--seconds 10]
        [--calls get_dossier,list,get,put,mixed] [--processes 4] [--documents 30]
        [--server-processes 1] [--channels 1] [--reader patient|professional]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--s3]
        [--profile [--profile-gil] [--profile-dir DIR]] [--json] [--save FILE]

Linux only (/proc). Every process started is stopped, and the temporary directory (and
the PostgreSQL schema) removed, at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing.queues import Queue
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from sqlalchemy import create_engine, make_url, text

from bench import cpu_shares
from bench.bench_documents import free_port
from bench.bench_s3 import DUMMY_KEY, LOOPBACK, REGION, grpc_answers, moto_server, running
from bench.bench_s3 import s3_client as make_s3_client
from bench.ceiling_server import Canned, write_canned
from bench.percentiles import percentile
from vault.v1 import vault_pb2 as pb
from vault.v1 import vault_pb2_grpc

if TYPE_CHECKING:
    from vault.v1.vault_pb2_grpc import DossierVaultAsyncStub

KINDS = ("get_dossier", "list", "get", "put", "mixed")
MIXED_CYCLE = ("put", "get", "list")
DEFAULT_CLIENTS = (1, 8, 32)
DEFAULT_PROCESSES = 4
DEFAULT_DOCUMENTS = 30
PAGE_SIZE = 20
DOCUMENT_SIZE = 4096
TOKEN_TTL_SECONDS = 6 * 3600
READY_TIMEOUT_SECONDS = 120.0
RESULT_GRACE_SECONDS = 60.0
PROFILE_RATE = 100  # py-spy samples per second per running thread
NIR_PREFIX = "1841276451"  # a real-looking NIR; the last three digits vary per patient
TITLE = "bench"
READER_RPPS = "10003500005"  # the physician who reads, with --reader professional
READERS = ("patient", "professional")
MEDIA_TYPE = "application/pdf"


# -- identities -------------------------------------------------------------------------


def patient_ins(number: int) -> str:
    """The `number`th benchmark patient's INS: 13 characters and the NIR key."""
    nir = f"{NIR_PREFIX}{number:03d}"
    return f"{nir}{97 - int(nir) % 97:02d}"


def dev_tokens(
    data_dir: Path, subjects: Sequence[str], kind: str = "patient", *extra: str
) -> list[str]:
    """Tokens from `dossier-vault dev-token` (patients' unless `kind`), minted in
    parallel; `extra`: more dev-token options (`--profession`)."""
    executable = str(Path(sys.executable).parent / "dossier-vault")
    env = {**os.environ, "VAULT_DATA_DIR": str(data_dir)}
    ttl = str(TOKEN_TTL_SECONDS)
    commands = [
        [executable, "dev-token", "--kind", kind, "--subject", subject, "--ttl", ttl, *extra]
        for subject in subjects
    ]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for command in commands
    ]
    tokens = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        if process.returncode != 0:
            raise RuntimeError(f"dossier-vault dev-token failed: {err.decode(errors='replace')}")
        tokens.append(out.decode().strip())
    return tokens


# -- the calls --------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """What one client process works on: a dossier to read, one to write to."""

    token: str
    read_dossier: str
    document_ids: list[str]
    write_token: str
    write_dossier: str


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def put_messages(dossier_id: str, content: bytes) -> list[pb.PutDocumentRequest]:
    header = pb.PutDocumentHeader(
        dossier_id=dossier_id,
        metadata=pb.DocumentMetadata(
            title=TITLE, category=pb.DOCUMENT_CATEGORY_REPORTS, media_type=MEDIA_TYPE
        ),
    )
    finish = pb.PutDocumentFinish(size=len(content), sha256=hashlib.sha256(content).digest())
    return [
        pb.PutDocumentRequest(header=header),
        pb.PutDocumentRequest(chunk=content),
        pb.PutDocumentRequest(finish=finish),
    ]


class CallError(Exception):
    """An answer that is not what the call should give."""


class Caller:
    """One client process's calls, over its grpc.aio channel."""

    def __init__(self, stub: DossierVaultAsyncStub, slot: Slot, seed: int) -> None:
        self._stub = stub
        self._slot = slot
        self._read = auth(slot.token)
        self._write = auth(slot.write_token)
        self._random = random.Random(seed)
        self._content = os.urandom(DOCUMENT_SIZE)
        self._put = put_messages(slot.write_dossier, self._content)
        self._page = min(PAGE_SIZE, len(slot.document_ids))

    async def call(self, kind: str) -> None:
        if kind == "get_dossier":
            dossier = await self._stub.GetDossier(
                pb.GetDossierRequest(dossier_id=self._slot.read_dossier), metadata=self._read
            )
            if not dossier.dossier_id:
                raise CallError("GetDossier: no dossier id")
        elif kind == "list":
            page = await self._stub.ListDocuments(
                pb.ListDocumentsRequest(dossier_id=self._slot.read_dossier, page_size=PAGE_SIZE),
                metadata=self._read,
            )
            if len(page.documents) != self._page:
                raise CallError(f"ListDocuments: {len(page.documents)} documents")
        elif kind == "get":
            request = pb.GetDocumentRequest(
                dossier_id=self._slot.read_dossier,
                document_id=self._random.choice(self._slot.document_ids),
            )
            received = 0
            async for response in self._stub.GetDocument(request, metadata=self._read):
                received += len(response.chunk)
            if received != DOCUMENT_SIZE:
                raise CallError(f"GetDocument: {received} bytes")
        elif kind == "put":
            stored = await self._stub.PutDocument(iter(self._put), metadata=self._write)
            if stored.size != DOCUMENT_SIZE:
                raise CallError(f"PutDocument: stored {stored.size} bytes")
        else:
            raise ValueError(f"unknown call {kind!r}")


# -- the client processes ---------------------------------------------------------------


@dataclass(frozen=True)
class WorkerPlan:
    target: str
    slot: Slot
    kind: str
    clients: int  # coroutines in this process
    first_client: int  # the global index of its first coroutine (mixed: where it starts)
    channels: int = 1  # connections of this process, its coroutines spread over them


@dataclass
class Tally:
    """What one client process saw in the measured window."""

    calls: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""


def kinds_for(kind: str, client: int) -> Iterator[str]:
    if kind != "mixed":
        return itertools.repeat(kind)
    start = client % len(MIXED_CYCLE)
    return itertools.cycle(MIXED_CYCLE[start:] + MIXED_CYCLE[:start])


async def closed_loop(
    caller: Caller, kinds: Iterator[str], window: tuple[float, float], tally: Tally
) -> None:
    """Calls one after the other until the window ends; counts those that started in it."""
    start, end = window
    while (began := time.monotonic()) < end:
        error = ""
        try:
            await caller.call(next(kinds))
        except (grpc.aio.AioRpcError, CallError) as failure:
            error = str(failure)[:500]
        if began < start:
            continue
        tally.calls += 1
        tally.latencies.append(time.monotonic() - began)
        if error:
            tally.errors += 1
            tally.first_error = tally.first_error or error


async def worker_async(
    plan: WorkerPlan, ready: Queue[int], go: Queue[tuple[float, float]]
) -> Tally:
    options = [("grpc.max_receive_message_length", 8 * 1024 * 1024)]
    if plan.channels > 1:  # each channel its own connection, not one shared subchannel
        options.append(("grpc.use_local_subchannel_pool", 1))
    async with contextlib.AsyncExitStack() as stack:
        channels = [
            await stack.enter_async_context(grpc.aio.insecure_channel(plan.target, options=options))
            for _ in range(plan.channels)
        ]
        for channel in channels:
            await channel.channel_ready()
        stubs = [vault_pb2_grpc.DossierVaultStub(channel) for channel in channels]
        callers = [
            Caller(stubs[index % len(stubs)], plan.slot, seed=plan.first_client + index)
            for index in range(plan.clients)
        ]
        ready.put(plan.first_client)
        window = await asyncio.get_running_loop().run_in_executor(None, go.get)
        tally = Tally()
        await asyncio.gather(
            *(
                closed_loop(caller, kinds_for(plan.kind, plan.first_client + index), window, tally)
                for index, caller in enumerate(callers)
            )
        )
        return tally


def worker_main(
    plan: WorkerPlan, ready: Queue[int], go: Queue[tuple[float, float]], results: Queue[Any]
) -> None:
    """A client process: connects, says it is ready, waits for the window, runs."""
    try:
        results.put(asdict(asyncio.run(worker_async(plan, ready, go))))
    except BaseException as error:
        results.put({"failure": f"{type(error).__name__}: {error}"})
        raise


# -- measuring the server ---------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far (/proc/<pid>/stat, all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (/proc/<pid>/stat, field 4)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """The CPU time so far of `pids` (a server and its workers; one gone counts 0)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += cpu_seconds(pid)
    return total


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """Each thread's user + system CPU time so far (/proc/<pid>/task/<tid>/stat)."""
    result: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        result[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return result


def delta(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    return {tid: cpu - before.get(tid, 0.0) for tid, cpu in after.items()}


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already in user
    return total - idle, total


@dataclass(frozen=True)
class Load:
    """One server under one call and client count, over one measured window."""

    server: str  # vault, ceiling, or vault (py-spy)
    kind: str
    clients: int
    processes: int
    seconds: float
    calls: int
    errors: int
    calls_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    server_cpu_s: float
    cpu_ms_per_call: float | None
    load_avg_1m: float  # at the end of the window
    machine_busy: float  # share of all the machine's CPUs busy during the window
    first_error: str = ""


@dataclass(frozen=True)
class Target:
    name: str
    address: str
    pid: int
    processes: int = 1  # `serve --processes`: the parent's workers do the work

    def pids(self) -> list[int]:
        """The processes whose CPU is the server's: itself and any workers it started."""
        return [self.pid, *children(self.pid)] if self.processes > 1 else [self.pid]


def spread(clients: int, processes: int) -> list[int]:
    """Coroutines per process, as even as can be."""
    count = min(clients, processes)
    return [clients // count + (1 if index < clients % count else 0) for index in range(count)]


@dataclass(frozen=True)
class Profiler:
    """py-spy over the server for the measured window; None when not profiling."""

    executable: Path
    output: Path
    rate: int
    gil: bool = False  # py-spy --gil: only the thread holding the GIL is sampled


def run_load(
    target: Target,
    slots: Sequence[Slot],
    kind: str,
    clients: int,
    seconds: float,
    warmup: float,
    processes: int,
    profiler: Profiler | None = None,
    channels: int = 1,
) -> tuple[Load, subprocess.Popen[bytes] | None, dict[int, float]]:
    """One closed-loop load: client processes started, warmed up, then measured."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with gRPC in it
    ready: Queue[int] = context.Queue()
    go: Queue[tuple[float, float]] = context.Queue()
    results: Queue[Any] = context.Queue()
    counts = spread(clients, processes)
    firsts = list(itertools.accumulate([0, *counts[:-1]]))
    plans = [
        WorkerPlan(target.address, slots[index], kind, count, first, channels)
        for index, (count, first) in enumerate(zip(counts, firsts, strict=True))
    ]
    workers = [
        context.Process(target=worker_main, args=(plan, ready, go, results), daemon=True)
        for plan in plans
    ]
    for worker in workers:
        worker.start()
    spy: subprocess.Popen[bytes] | None = None
    threads_before: dict[int, float] = {}
    threads_after: dict[int, float] = {}
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        for _ in workers:
            ready.get(timeout=max(0.1, deadline - time.monotonic()))
        start = time.monotonic() + warmup
        end = start + seconds
        for _ in workers:
            go.put((start, end))
        time.sleep(max(0.0, start - time.monotonic()))
        if profiler is not None:
            spy = start_py_spy(profiler, target.pid, seconds)
            threads_before = thread_cpu_seconds(target.pid)
        pids = target.pids()
        cpu_before, machine_before = tree_cpu_seconds(pids), machine_ticks()
        time.sleep(max(0.0, end - time.monotonic()))
        cpu_after, machine_after = tree_cpu_seconds(pids), machine_ticks()
        if profiler is not None:
            threads_after = thread_cpu_seconds(target.pid)
        load_avg = os.getloadavg()[0]
        tallies = [results.get(timeout=RESULT_GRACE_SECONDS) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=RESULT_GRACE_SECONDS)
            if worker.is_alive():
                worker.kill()
                worker.join()
    failures = [tally["failure"] for tally in tallies if "failure" in tally]
    if failures:
        raise RuntimeError(f"a client process failed: {failures[0]}")
    latencies = sorted(itertools.chain.from_iterable(tally["latencies"] for tally in tallies))
    calls = sum(tally["calls"] for tally in tallies)
    cpu = cpu_after - cpu_before
    busy = machine_after[0] - machine_before[0]
    total = machine_after[1] - machine_before[1]
    load = Load(
        server=target.name,
        kind=kind,
        clients=clients,
        processes=len(workers),
        seconds=seconds,
        calls=calls,
        errors=sum(tally["errors"] for tally in tallies),
        calls_per_s=calls / seconds,
        p50_ms=percentile(latencies, 50) * 1000 if latencies else None,
        p99_ms=percentile(latencies, 99) * 1000 if latencies else None,
        server_cpu_s=cpu,
        cpu_ms_per_call=cpu / calls * 1000 if calls else None,
        load_avg_1m=load_avg,
        machine_busy=busy / total if total else 0.0,
        first_error=next((t["first_error"] for t in tallies if t["first_error"]), ""),
    )
    return load, spy, delta(threads_before, threads_after)


# -- profiling --------------------------------------------------------------------------


def start_py_spy(profiler: Profiler, pid: int, seconds: float) -> subprocess.Popen[bytes]:
    command = [str(profiler.executable), "record", "--pid", str(pid), "--format", "raw"]
    command += ["--output", str(profiler.output), "--rate", str(profiler.rate)]
    command += ["--duration", str(max(1, round(seconds))), "--threads", "--nonblocking"]
    if profiler.gil:
        command.append("--gil")
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@dataclass(frozen=True)
class Profile:
    """The shares of the server's sampled CPU, or why there are none."""

    load: Load  # the profiled run's own figures (py-spy running)
    samples: int = 0  # on a CPU (not waiting)
    waiting_samples: int = 0  # runnable threads at a blocking call (cpu_shares rule 0)
    sampled_cpu_s: float = 0.0  # samples / rate: the CPU py-spy saw
    exclusive: dict[str, float] = field(default_factory=dict)
    inclusive: dict[str, float] = field(default_factory=dict)
    threads: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # weighted by thread CPU
    unsampled_cpu_s: float = 0.0  # threads with CPU and no sample: not Python threads
    gil: bool = False
    error: str = ""


def finish_profile(
    load: Load,
    spy: subprocess.Popen[bytes] | None,
    profiler: Profiler,
    thread_cpu: dict[int, float],
) -> Profile:
    if spy is None:
        return Profile(load, gil=profiler.gil, error="py-spy did not start")
    try:
        out, _ = spy.communicate(timeout=load.seconds + 60)
    except subprocess.TimeoutExpired:
        spy.kill()
        out, _ = spy.communicate()
    text_out = out.decode(errors="replace").strip()
    if spy.returncode != 0 or not profiler.output.exists():
        error = f"py-spy exited with {spy.returncode}: {text_out[-1000:]}"
        return Profile(load, gil=profiler.gil, error=error)
    with profiler.output.open() as lines:
        shares = cpu_shares.parse_collapsed(lines)
    seconds, unsampled = shares.weighted(thread_cpu)
    return Profile(
        load,
        samples=shares.samples,
        waiting_samples=shares.waiting,
        sampled_cpu_s=shares.samples / profiler.rate,
        exclusive={k: shares.share(v) for k, v in shares.exclusive.items()},
        inclusive={k: shares.share(v) for k, v in shares.inclusive.items()},
        threads={k: shares.share(v) for k, v in shares.threads.items()},
        cpu_seconds=seconds,
        unsampled_cpu_s=unsampled,
        gil=profiler.gil,
    )


# -- the servers ------------------------------------------------------------------------


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """`url` with a fresh private schema as its search_path; the schema dropped after."""
    schema = f"bench_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@contextmanager
def s3_bucket(workdir: Path) -> Iterator[dict[str, str]]:
    """A moto S3 server with a fresh bucket; yields the vault's VAULT_S3_* settings."""
    with moto_server(workdir, LOOPBACK) as endpoint:
        bucket = "bench-calls"
        make_s3_client(endpoint).create_bucket(Bucket=bucket)
        yield {
            "VAULT_S3_BUCKET": bucket,
            "VAULT_S3_ENDPOINT_URL": endpoint,
            "VAULT_S3_REGION": REGION,
            "VAULT_S3_ACCESS_KEY_ID": DUMMY_KEY,
            "VAULT_S3_SECRET_ACCESS_KEY": DUMMY_KEY,
            "VAULT_S3_PATH_STYLE": "true",
        }


@contextmanager
def vault_server(data_dir: Path, extra_env: dict[str, str], processes: int = 1) -> Iterator[Target]:
    """`dossier-vault serve`; with `processes` > 1, that many workers on one port (ADR
    0012), whose CPU is counted with the parent's."""
    address = f"127.0.0.1:{free_port()}"
    command = [str(Path(sys.executable).parent / "dossier-vault"), "serve"]
    env = {**os.environ, **extra_env, "VAULT_DATA_DIR": str(data_dir), "VAULT_LISTEN": address}
    env["VAULT_PROCESSES"] = str(processes)
    log = data_dir.parent / "vault.log"
    with running(command, env, log, "vault server", grpc_answers(address)) as process:
        yield Target("vault", address, process.pid, processes)


@contextmanager
def ceiling_server(workdir: Path, canned: Canned) -> Iterator[Target]:
    address = f"127.0.0.1:{free_port()}"
    path = workdir / "canned.json"
    write_canned(canned, path)
    command = [sys.executable, "-m", "bench.ceiling_server", "--listen", address]
    command += ["--canned", str(path)]
    log = workdir / "ceiling.log"
    with running(command, dict(os.environ), log, "ceiling server", grpc_answers(address)) as p:
        yield Target("ceiling", address, p.pid)


def seed(
    address: str, data_dir: Path, slots: int, documents: int, reader: str = "patient"
) -> tuple[list[Slot], Canned]:
    """Per slot, a read dossier with `documents` 4 KiB documents and a write dossier;
    and the vault's answers, canned for the ceiling. With `reader` "professional", the
    reads are a physician's, whom each read dossier's patient authorised."""
    tokens = dev_tokens(data_dir, [patient_ins(number) for number in range(1, 2 * slots + 1)])
    physician = None
    if reader == "professional":
        (physician,) = dev_tokens(
            data_dir, [READER_RPPS], "professional", "--profession", "physician"
        )
    content = os.urandom(DOCUMENT_SIZE)
    result: list[Slot] = []
    stored: pb.Document | None = None
    with grpc.insecure_channel(address) as channel:
        stub = vault_pb2_grpc.DossierVaultStub(channel)
        for index in range(slots):
            read_token, write_token = tokens[2 * index], tokens[2 * index + 1]
            dossiers = []
            for token, number in ((read_token, 2 * index + 1), (write_token, 2 * index + 2)):
                request = pb.CreateDossierRequest(ins=patient_ins(number))
                dossiers.append(stub.CreateDossier(request, metadata=auth(token)).dossier_id)
            ids = []
            for _ in range(documents):
                messages = put_messages(dossiers[0], content)
                stored = stub.PutDocument(iter(messages), metadata=auth(read_token))
                ids.append(stored.document_id)
            if physician is not None:
                authorise = pb.ChangeAccessRequest(dossier_id=dossiers[0], authorise=READER_RPPS)
                stub.ChangeAccess(authorise, metadata=auth(read_token))
            reading = read_token if physician is None else physician
            result.append(Slot(reading, dossiers[0], ids, write_token, dossiers[1]))
        first = result[0]
        read = auth(first.token)
        canned = Canned(
            dossier=stub.GetDossier(
                pb.GetDossierRequest(dossier_id=first.read_dossier), metadata=read
            ),
            page=stub.ListDocuments(
                pb.ListDocumentsRequest(dossier_id=first.read_dossier, page_size=PAGE_SIZE),
                metadata=read,
            ),
            download=list(
                stub.GetDocument(
                    pb.GetDocumentRequest(
                        dossier_id=first.read_dossier, document_id=first.document_ids[0]
                    ),
                    metadata=read,
                )
            ),
            stored=stub.PutDocument(
                iter(put_messages(first.write_dossier, content)), metadata=auth(first.write_token)
            ),
        )
    return result, canned


# -- the whole run ----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    kind: str
    clients: int
    vault: Load
    ceiling: Load
    profile: Profile | None = None

    @property
    def throughput_ratio(self) -> float | None:
        """Ceiling calls/s over the vault's: how many times faster the bare server is."""
        return self.ceiling.calls_per_s / self.vault.calls_per_s if self.vault.calls else None

    @property
    def cpu_ratio(self) -> float | None:
        """Vault CPU per call over the ceiling's."""
        vault, ceiling = self.vault.cpu_ms_per_call, self.ceiling.cpu_ms_per_call
        return vault / ceiling if vault is not None and ceiling else None


@dataclass(frozen=True)
class Settings:
    clients: list[int]
    kinds: list[str]
    seconds: float
    warmup: float
    processes: int
    documents: int
    database_url: str | None
    s3: bool
    profile: bool
    profile_rate: int = PROFILE_RATE
    profile_dir: str | None = None  # where the collapsed stacks are kept (None: not kept)
    profile_gil: bool = False
    server_processes: int = 1  # the vault's `serve --processes`
    channels: int = 1  # connections per client process
    reader: str = "patient"  # who reads: the patient, or a physician they authorised


@dataclass(frozen=True)
class Report:
    backend: str
    cpus: int
    settings: Settings
    rows: list[Row]


def backend_name(settings: Settings) -> str:
    index = "PostgreSQL" if settings.database_url else "SQLite"
    blobs = "S3 (moto)" if settings.s3 else "local directory"
    return f"{index} + {blobs}"


def py_spy_executable() -> Path:
    path = Path(sys.executable).parent / "py-spy"
    if not path.exists():
        raise SystemExit("--profile needs py-spy: pip install -e '.[bench]' (the bench extra)")
    return path


def run(settings: Settings, progress: Callable[[str], None]) -> Report:
    slots_needed = min(max(settings.clients), settings.processes)
    spy = py_spy_executable() if settings.profile else None
    rows: list[Row] = []
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vault-calls-")))
        data_dir = workdir / "data"
        env: dict[str, str] = {}
        if settings.database_url:
            url = stack.enter_context(postgres_schema(settings.database_url))
            env["VAULT_DATABASE_URL"] = url
        if settings.s3:
            env.update(stack.enter_context(s3_bucket(workdir)))
        vault = stack.enter_context(vault_server(data_dir, env, settings.server_processes))
        progress(f"seeding {slots_needed} dossiers of {settings.documents} documents")
        slots, canned = seed(
            vault.address, data_dir, slots_needed, settings.documents, settings.reader
        )
        ceiling = stack.enter_context(ceiling_server(workdir, canned))
        for kind in settings.kinds:
            for clients in settings.clients:
                measured = {}
                for target in (vault, ceiling):
                    load, _, _ = run_load(
                        target,
                        slots,
                        kind,
                        clients,
                        settings.seconds,
                        settings.warmup,
                        settings.processes,
                        channels=settings.channels,
                    )
                    measured[target.name] = load
                    progress(describe(load))
                profile = None
                if spy is not None:
                    stacks = Path(settings.profile_dir) if settings.profile_dir else workdir
                    stacks.mkdir(parents=True, exist_ok=True)
                    mode = "gil" if settings.profile_gil else "cpu"
                    output = stacks / f"py-spy-{mode}-{kind}-{clients}.txt"
                    profiler = Profiler(spy, output, settings.profile_rate, settings.profile_gil)
                    load, process, thread_cpu = run_load(
                        Target("vault (py-spy)", vault.address, vault.pid),
                        slots,
                        kind,
                        clients,
                        settings.seconds,
                        settings.warmup,
                        settings.processes,
                        profiler,
                        settings.channels,
                    )
                    profile = finish_profile(load, process, profiler, thread_cpu)
                    progress(describe(load) + (f" [{profile.error}]" if profile.error else ""))
                rows.append(Row(kind, clients, measured["vault"], measured["ceiling"], profile))
    return Report(backend_name(settings), os.cpu_count() or 0, settings, rows)


# -- output -----------------------------------------------------------------------------


def number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def describe(load: Load) -> str:
    return (
        f"{load.server:>14} {load.kind:>11} x{load.clients:<3} {load.calls_per_s:9.1f} calls/s "
        f"p50 {number(load.p50_ms, 2)} ms p99 {number(load.p99_ms, 2)} ms "
        f"cpu {number(load.cpu_ms_per_call, 3)} ms/call errors {load.errors} "
        f"load {load.load_avg_1m:.2f}" + (f" ({load.first_error})" if load.first_error else "")
    )


def markdown(report: Report) -> str:
    settings = report.settings
    lines = [
        f"Vault on {report.backend}, {report.cpus} CPUs; {settings.seconds:g} s per run after "
        f"{settings.warmup:g} s of warm-up; clients in up to {settings.processes} processes "
        f"({settings.channels} connection(s) each); vault in {settings.server_processes} "
        "server process(es); "
        f"reads by the {settings.reader} from a dossier of {settings.documents} documents of "
        f"{DOCUMENT_SIZE} bytes.",
        "",
        "| call | clients | vault calls/s | p50 ms | p99 ms | err | CPU ms/call "
        "| ceiling calls/s | p50 ms | p99 ms | CPU ms/call | ceiling/vault calls/s "
        "| vault/ceiling CPU | load avg | busy |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in report.rows:
        v, c = row.vault, row.ceiling
        lines.append(
            f"| {row.kind} | {row.clients} | {v.calls_per_s:,.0f} | {number(v.p50_ms, 2)} "
            f"| {number(v.p99_ms, 2)} | {v.errors} | {number(v.cpu_ms_per_call, 3)} "
            f"| {c.calls_per_s:,.0f} | {number(c.p50_ms, 2)} | {number(c.p99_ms, 2)} "
            f"| {number(c.cpu_ms_per_call, 3)} | {number(row.throughput_ratio)} "
            f"| {number(row.cpu_ratio)} | {v.load_avg_1m:.2f} / {c.load_avg_1m:.2f} "
            f"| {v.machine_busy:.0%} / {c.machine_busy:.0%} |"
        )
    errors = [(row, load) for row in report.rows for load in (row.vault, row.ceiling)]
    for row, load in errors:
        if load.first_error:
            lines.append(f"\n{load.server} {row.kind} x{row.clients}: {load.first_error}")
    for row in report.rows:
        if row.profile is not None:
            lines += ["", *profile_lines(row)]
    return "\n".join(lines)


def profile_lines(row: Row) -> list[str]:
    profile = row.profile
    assert profile is not None
    head = f"Profile, {row.kind} at {row.clients} clients"
    if profile.error:
        return [f"{head}: no profile ({profile.error})."]
    load = profile.load
    if profile.gil:
        head += " (py-spy --gil: shares of the GIL's time)"
    cpu_total = sum(profile.cpu_seconds.values())
    lines = [
        f"{head}: {load.calls_per_s:,.0f} calls/s under py-spy "
        f"(p50 {number(load.p50_ms, 2)} ms, p99 {number(load.p99_ms, 2)} ms, "
        f"load avg {load.load_avg_1m:.2f}); {profile.samples} samples "
        + (
            f"holding the GIL: {profile.sampled_cpu_s:.1f} s of the {load.seconds:g} s "
            f"window, while the server used {load.server_cpu_s:.1f} s of CPU (/proc); "
            if profile.gil
            else f"on a CPU, {profile.sampled_cpu_s:.1f} s sampled of the "
            f"{load.server_cpu_s:.1f} s of CPU the server used (/proc; more: threads in "
            "disk wait or runnable are sampled too, see bench/cpu_shares.py); "
        )
        + f"{profile.waiting_samples} more samples were of threads woken but waiting for a "
        "CPU at a blocking call, left out. "
        f"Threads py-spy cannot see (no Python frames) used {profile.unsampled_cpu_s:.2f} s.",
        "",
        "| component | share of samples | CPU s (by thread CPU) | share of that CPU | incl. |"
        if not profile.gil
        else "| component | share of GIL samples | CPU s (by thread CPU) | share | incl. |",
        "|---|--:|--:|--:|--:|",
    ]
    order = sorted(cpu_shares.COMPONENTS, key=lambda name: -profile.exclusive.get(name, 0.0))
    for name in order:
        share = profile.exclusive.get(name, 0.0)
        if share or profile.inclusive.get(name):
            inclusive = profile.inclusive.get(name, 0.0)
            shown = "" if name in cpu_shares.ROOTS else f"{inclusive:.1%}"
            cpu = profile.cpu_seconds.get(name, 0.0)
            cpu_share = cpu / cpu_total if cpu_total else 0.0
            lines.append(f"| {name} | {share:.1%} | {cpu:.2f} | {cpu_share:.1%} | {shown} |")
    if journal := profile.inclusive.get(cpu_shares.JOURNAL):
        lines.append(f"| (journal, all parts) | | | | {journal:.1%} |")
    threads = sorted(profile.threads.items(), key=lambda item: -item[1])
    if threads:
        lines += ["", "Threads: " + ", ".join(f"{name} {share:.0%}" for name, share in threads)]
    return lines


# -- the command line -------------------------------------------------------------------


def parse_clients(text: str) -> list[int]:
    try:
        clients = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not clients or any(count < 1 for count in clients):
        raise argparse.ArgumentTypeError("client counts must be positive integers")
    return clients


def parse_kinds(text: str) -> list[str]:
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if not kinds or unknown:
        raise argparse.ArgumentTypeError(f"calls are among {', '.join(KINDS)}")
    return kinds


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=parse_clients, default=list(DEFAULT_CLIENTS))
    parser.add_argument("--calls", type=parse_kinds, default=list(KINDS), help=",".join(KINDS))
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="before each measured window")
    parser.add_argument("--processes", type=int, default=DEFAULT_PROCESSES)
    parser.add_argument("--documents", type=int, default=DEFAULT_DOCUMENTS, help="per dossier")
    parser.add_argument(
        "--server-processes", type=int, default=1, help="the vault's serve --processes"
    )
    parser.add_argument("--channels", type=int, default=1, help="connections per client process")
    parser.add_argument(
        "--reader", choices=READERS, default="patient", help="whose token the reads carry"
    )
    parser.add_argument("--database-url", help="PostgreSQL (a fresh schema): index and journal")
    parser.add_argument("--s3", action="store_true", help="blobs in a local moto S3 server")
    parser.add_argument("--profile", action="store_true", help="py-spy over the vault too")
    parser.add_argument("--profile-rate", type=int, default=PROFILE_RATE, help="samples/s")
    parser.add_argument("--profile-dir", help="keep py-spy's collapsed stacks there")
    parser.add_argument(
        "--profile-gil", action="store_true", help="py-spy --gil: shares of the GIL's time"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--save", help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0:
        parser.error("--seconds must be positive and --warmup not negative")
    if min(args.processes, args.documents, args.profile_rate, args.channels) < 1:
        parser.error("--processes, --documents, --profile-rate, --channels: at least 1")
    if args.server_processes < 1 or (args.server_processes > 1 and args.profile):
        parser.error("--server-processes: at least 1; --profile needs one server process")
    if args.processes * 2 > 998:
        parser.error("--processes: at most 499")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings(
        clients=args.clients,
        kinds=args.calls,
        seconds=args.seconds,
        warmup=args.warmup,
        processes=args.processes,
        documents=args.documents,
        database_url=args.database_url,
        s3=args.s3,
        profile=args.profile,
        profile_rate=args.profile_rate,
        profile_dir=args.profile_dir,
        profile_gil=args.profile_gil,
        server_processes=args.server_processes,
        channels=args.channels,
        reader=args.reader,
    )

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = run(settings, progress)
    if args.save:
        Path(args.save).write_text(json.dumps(asdict(report), indent=2) + "\n")
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
