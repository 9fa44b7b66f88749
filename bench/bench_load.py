"""Mixed-load benchmark: a national record's traffic mix from many clients, against the
vault with 1, 2 and 4 server processes and against a bare gRPC ceiling, in one run.

The workload (bench/load_mix.py): 35% ListDocuments, 35% GetDocument, 20% PutDocument
of 4 KiB to 256 KiB documents, 5% ChangeAccess, 5% QueryJournal, each client choosing
its next call at random with those weights. `--clients` (32) closed-loop clients, each a
grpc.aio coroutine with its own channel (so its own connection: the kernel balances
connections, not calls, between server processes), spread over `--client-processes`
(4) separate client processes so the client's GIL is not the limit. Per client process,
one patient's dossier of `--documents` (21) documents, three of each size, that reads,
grants and history queries go to, and another patient's dossier that puts go to.

Servers, one after the other over the same data (seeded once):

- the vault: `dossier-vault serve` with `VAULT_PROCESSES` = each of `--server-processes`
  (1,2,4; ADR 0012: N processes on one port, the kernel spreading connections), on the
  embedded default (SQLite, local directory) unless `--database-url` (PostgreSQL: a
  fresh database of the run's own, dropped at the end) and `--s3 seaweedfs` (`weed
  mini` on loopback, as the tests start it: tests/s3_servers.py) or `--s3 moto`;
- the ceiling: `bench.load_ceiling`, one bare grpc.aio process answering the same
  methods with the vault's own answers (same message sizes), and nothing else.

Per server, over a window of `--seconds` (300) after `--warmup` (5) seconds: requests/s
in all and per call, p50/p99 per call (ms, from the client), errors (the first message
of each kind kept), the servers' CPU seconds per request (utime + stime of every server
process, /proc), and their resident memory (VmRSS summed over the server processes, the
`serve` parent included) at the window's start and end, with its maximum over samples
every `--sample-seconds` (5). Beside each: the 1-minute load average at the window's
start and end and the share of the machine's CPUs busy during it, since other work on
the machine moves the figures. Behind the vault: the CPU per request of PostgreSQL's
backends serving the run's database (told apart by `postgres: USER DATABASE` in their
command line; the WAL writer and checkpointer serve every database and are left out)
and of the S3 server, and PostgreSQL's transactions per request (pg_stat_database).
`--verify-journal` then exports the whole journal with an auditor's token and runs
`dossier-vault journal verify` over it with the checkpoint verifier key (one chain, no
fork, whatever the number of writing processes).

    .venv/bin/python -m bench.bench_load [--seconds 300] [--server-processes 1,2,4]
        [--clients 32] [--client-processes 4] [--database-url URL]
        [--s3 none|seaweedfs|moto] [--verify-journal] [--json] [--save FILE]

It exits 3 (after its report) when any call failed or the journal did not verify: the
goal is no error, and a smoke run (tests/bench) then notices a mix the vault no longer
accepts. Linux only (/proc). Every process started is stopped and the temporary
directory (and the PostgreSQL database) removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc
from sqlalchemy import create_engine, make_url, text

from bench.bench_calls import (
    Target,
    auth,
    cpu_seconds,
    dev_tokens,
    machine_ticks,
    parse_clients,
    patient_ins,
    put_messages,
    vault_server,
)
from bench.bench_documents import free_port
from bench.bench_s3 import grpc_answers, running, s3_client, s3_server, vault_s3_settings
from bench.ceiling_server import Canned
from bench.load_ceiling import MixedCanned, write_mixed
from bench.load_clients import ClientLoad, KindResult
from bench.load_mix import KINDS, MIX, PAGE_SIZE, SIZES, Slot, rpps
from vault.v1 import vault_pb2 as pb
from vault.v1 import vault_pb2_grpc

DEFAULT_SERVER_PROCESSES = (1, 2, 4)
DEFAULT_CLIENTS = 32
DEFAULT_CLIENT_PROCESSES = 4
DEFAULT_DOCUMENTS = 21
S3_CHOICES = ("none", "seaweedfs", "moto")
LISTEN_TIMEOUT_SECONDS = 60.0
CANNED_RPPS = 999  # the professional the ceiling's canned grant is about
FAILED = 3  # the exit code when a call failed or the journal did not verify


# -- the servers' processes -------------------------------------------------------------


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """`url` pointed at a fresh database of this run's own, dropped after: its backends
    are then told apart from other users' (`postgres: USER DATABASE ...`)."""
    name = f"bench_load_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@contextmanager
def commit_counter(url: str) -> Iterator[Callable[[], int]]:
    """A function giving the transactions committed in `url`'s database so far
    (pg_stat_database: group commits, joined writes and reads in autocommit alike)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)
    statement = text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")

    def commits() -> int:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(connection.execute(statement).scalar_one())

    try:
        yield commits
    finally:
        engine.dispose()


def pids_matching(needle: str) -> list[int]:
    """Processes whose command line holds `needle` (PostgreSQL backends show their
    database there; the S3 server its data directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in command:
            found.append(int(entry.name))
    return found


def cpu_by_pid(pids: Sequence[int]) -> dict[int, float]:
    """Each live process's CPU seconds so far (those gone meanwhile left out)."""
    result = {}
    for pid in pids:
        try:
            result[pid] = cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return result


def server_pids(pid: int) -> list[int]:
    """The server process and its children (`serve --processes N`: the N workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(child) for child in children)]


def rss_kib(pids: Sequence[int]) -> int:
    """The processes' resident memory, summed (/proc/<pid>/statm, in KiB)."""
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    return sum(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) for pid in pids) * page_kib


def listeners(port: int) -> int:
    """How many sockets listen on `port` (/proc/net/tcp and tcp6: gRPC may bind an IPv6
    socket for an IPv4 address, v4-mapped)."""
    wanted = f":{port:04X}"
    rows = [
        row.split()
        for table in ("tcp", "tcp6")
        for row in Path(f"/proc/net/{table}").read_text().splitlines()[1:]
    ]
    return sum(1 for row in rows if row[1].endswith(wanted) and row[3] == "0A")


def wait_listening(address: str, count: int) -> None:
    """Until `count` processes listen on `address`'s port (each worker binds its own
    socket), so that the clients' connections are spread over all of them."""
    port = int(address.rpartition(":")[2])
    deadline = time.monotonic() + LISTEN_TIMEOUT_SECONDS
    while listeners(port) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} server processes not listening on {address}")
        time.sleep(0.2)


# -- seeding ----------------------------------------------------------------------------


def seed(
    address: str, data_dir: Path, slots: int, documents: int
) -> tuple[list[Slot], MixedCanned]:
    """Per slot, a patient's dossier of `documents` documents (the sizes in turn) and
    another patient's dossier for the puts; and the vault's answers, canned."""
    tokens = dev_tokens(data_dir, [patient_ins(number) for number in range(1, 2 * slots + 1)])
    contents = {size: os.urandom(size) for size in SIZES}
    result: list[Slot] = []
    with grpc.insecure_channel(address) as channel:
        stub = vault_pb2_grpc.DossierVaultStub(channel)
        for index in range(slots):
            dossiers = [
                stub.CreateDossier(
                    pb.CreateDossierRequest(ins=patient_ins(number)), metadata=auth(token)
                ).dossier_id
                for token, number in (
                    (tokens[2 * index], 2 * index + 1),
                    (tokens[2 * index + 1], 2 * index + 2),
                )
            ]
            stored = {}
            for number in range(documents):
                size = SIZES[number % len(SIZES)]
                messages = put_messages(dossiers[0], contents[size])
                document = stub.PutDocument(iter(messages), metadata=auth(tokens[2 * index]))
                stored[document.document_id] = size
            result.append(
                Slot(tokens[2 * index], dossiers[0], stored, tokens[2 * index + 1], dossiers[1])
            )
        return result, canned_answers(
            stub, result[0], {k: v for s in result for k, v in s.documents.items()}
        )


def canned_answers(
    stub: vault_pb2_grpc.DossierVaultStub, slot: Slot, sizes: dict[str, int]
) -> MixedCanned:
    """The vault's answers to each call of the mix, as the ceiling replays them."""
    read = auth(slot.token)
    dossier = slot.read_dossier
    by_size = {size: document_id for document_id, size in slot.documents.items()}
    downloads = {
        size: list(
            stub.GetDocument(
                pb.GetDocumentRequest(dossier_id=dossier, document_id=document_id), metadata=read
            )
        )
        for size, document_id in by_size.items()
    }
    professional = rpps(CANNED_RPPS)
    grant = stub.ChangeAccess(
        pb.ChangeAccessRequest(dossier_id=dossier, authorise=professional), metadata=read
    )
    stub.ChangeAccess(
        pb.ChangeAccessRequest(dossier_id=dossier, revoke=professional), metadata=read
    )
    base = Canned(
        dossier=stub.GetDossier(pb.GetDossierRequest(dossier_id=dossier), metadata=read),
        page=stub.ListDocuments(
            pb.ListDocumentsRequest(dossier_id=dossier, page_size=PAGE_SIZE), metadata=read
        ),
        download=downloads[SIZES[0]],
        stored=stub.PutDocument(
            iter(put_messages(slot.write_dossier, os.urandom(SIZES[0]))),
            metadata=auth(slot.write_token),
        ),
    )
    history = stub.QueryJournal(
        pb.QueryJournalRequest(dossier_id=dossier, page_size=PAGE_SIZE), metadata=read
    )
    return MixedCanned(base, downloads, sizes, grant, history)


# -- one measured window ----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One server (the vault with N processes, or the ceiling) over one window."""

    server: str
    server_processes: int
    seconds: float
    requests: int
    requests_per_s: float
    errors: int
    kinds: dict[str, KindResult]
    rss_kib_idle: int  # before the clients connect
    rss_kib_start: int  # at the window's start, after the warm-up
    rss_kib_end: int
    rss_kib_max: int  # over the samples in the window
    cpu_ms_per_request: float | None
    load_avg_start: float
    load_avg_end: float
    machine_busy: float  # share of all the machine's CPUs busy during the window
    rss_samples_kib: list[int] = field(default_factory=list)
    # CPU ms per request of the processes behind the server: PostgreSQL's backends for
    # this run's database, the S3 server
    neighbour_cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    # PostgreSQL transactions (reads in autocommit too) in this run's database per
    # request (None: not on PostgreSQL); statistics are flushed within a second or so
    commits_per_request: float | None = None


@dataclass(frozen=True)
class Settings:
    seconds: float
    warmup: float
    clients: int
    client_processes: int
    server_processes: list[int]
    documents: int
    database_url: str | None
    s3: str
    sample_seconds: float
    verify_journal: bool


def measure(
    target: Target,
    processes: int,
    slots: Sequence[Slot],
    settings: Settings,
    neighbours: dict[str, str],
    commits: Callable[[], int] | None = None,
) -> Run:
    """The clients' load on `target` over one window, and the server's resources;
    `neighbours`: a name and a command-line needle for each process group behind it."""
    pids = server_pids(target.pid)
    idle = rss_kib(pids)
    with ClientLoad(target.address, slots, settings.clients, settings.client_processes) as load:
        start, end = load.start(settings.warmup, settings.seconds)
        time.sleep(max(0.0, start - time.monotonic()))
        rss_start, load_start = rss_kib(pids), os.getloadavg()[0]
        cpu_before, ticks_before = sum(cpu_seconds(p) for p in pids), machine_ticks()
        behind = {name: cpu_by_pid(pids_matching(needle)) for name, needle in neighbours.items()}
        commits_before = commits() if commits else 0
        samples = [rss_start]
        while (now := time.monotonic()) < end:
            time.sleep(min(settings.sample_seconds, end - now))
            samples.append(rss_kib(pids))
        cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
        behind_cpu = {
            name: sum(
                now - before.get(pid, 0.0)
                for pid, now in cpu_by_pid(pids_matching(neighbours[name])).items()
            )
            for name, before in behind.items()
        }
        ticks_after, load_end = machine_ticks(), os.getloadavg()[0]
        committed = commits() - commits_before if commits else None
        kinds = load.results(settings.seconds)
    requests = sum(kind.calls for kind in kinds.values())
    total = ticks_after[1] - ticks_before[1]
    return Run(
        server=target.name,
        server_processes=processes,
        seconds=settings.seconds,
        requests=requests,
        requests_per_s=requests / settings.seconds,
        errors=sum(kind.errors for kind in kinds.values()),
        kinds=kinds,
        rss_kib_idle=idle,
        rss_kib_start=rss_start,
        rss_kib_end=samples[-1],
        rss_kib_max=max(samples),
        cpu_ms_per_request=cpu / requests * 1000 if requests else None,
        load_avg_start=load_start,
        load_avg_end=load_end,
        machine_busy=(ticks_after[0] - ticks_before[0]) / total if total else 0.0,
        rss_samples_kib=samples,
        commits_per_request=committed / requests if committed is not None and requests else None,
        neighbour_cpu_ms_per_request={
            name: seconds / requests * 1000 for name, seconds in behind_cpu.items() if requests
        },
    )


# -- the servers ------------------------------------------------------------------------


@contextmanager
def s3_settings(kind: str, workdir: Path) -> Iterator[tuple[dict[str, str], str]]:
    """A fresh bucket on the S3 server `kind`; yields the vault's VAULT_S3_* settings and
    a needle for the server's processes (SeaweedFS: its directory; moto: its port)."""
    with s3_server(kind, workdir) as endpoint:
        bucket = f"bench-load-{secrets.token_hex(4)}"
        s3_client(endpoint).create_bucket(Bucket=bucket)
        port = endpoint.rpartition(":")[2]
        needle = str(workdir / "seaweedfs") if kind == "seaweedfs" else f"--port {port}"
        yield vault_s3_settings(endpoint, bucket), needle


@contextmanager
def ceiling_server(workdir: Path, canned: MixedCanned) -> Iterator[Target]:
    address = f"127.0.0.1:{free_port()}"
    path = workdir / "canned-mixed.json"
    write_mixed(canned, path)
    command = [sys.executable, "-m", "bench.load_ceiling", "--listen", address]
    command += ["--canned", str(path)]
    log = workdir / "ceiling.log"
    with running(command, dict(os.environ), log, "ceiling server", grpc_answers(address)) as p:
        yield Target("ceiling", address, p.pid)


@dataclass(frozen=True)
class JournalCheck:
    """`dossier-vault journal verify` over the whole journal, exported after the runs."""

    exit_code: int
    result: dict[str, object]


def verify_journal(address: str, data_dir: Path, workdir: Path) -> JournalCheck:
    """Exports the journal with an auditor's token and verifies the export offline."""
    executable = str(Path(sys.executable).parent / "dossier-vault")
    env = {**os.environ, "VAULT_DATA_DIR": str(data_dir), "VAULT_TARGET": address}
    token = subprocess.run(
        [executable, "dev-token", "--kind", "auditor", "--subject", "bench-auditor"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    export = workdir / "journal.jsonl"
    subprocess.run(
        [executable, "journal", "export", "-o", str(export)],
        env={**env, "VAULT_TOKEN": token},
        capture_output=True,
        check=True,
    )
    key = subprocess.run(
        [executable, "journal", "public-key"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    checked = subprocess.run(
        [executable, "journal", "verify", str(export), "--key", key, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        result = json.loads(checked.stdout)
    except json.JSONDecodeError:
        result = {"output": (checked.stdout + checked.stderr)[-2000:]}
    return JournalCheck(checked.returncode, result)


# -- the whole run ----------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    backend: str
    cpus: int
    settings: Settings
    runs: list[Run]
    journal: JournalCheck | None = None


def backend_name(settings: Settings) -> str:
    index = "PostgreSQL" if settings.database_url else "SQLite"
    blobs = "local directory" if settings.s3 == "none" else f"S3 ({settings.s3}, loopback)"
    return f"{index} + {blobs}"


def run(settings: Settings, progress: Callable[[str], None]) -> Report:
    runs: list[Run] = []
    journal = None
    slot_count = min(settings.clients, settings.client_processes)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vault-load-")))
        data_dir = workdir / "data"
        env: dict[str, str] = {}
        neighbours: dict[str, str] = {}
        commits = None
        if settings.database_url:
            url = stack.enter_context(postgres_database(settings.database_url))
            env["VAULT_DATABASE_URL"] = url
            neighbours["postgresql"] = f" {make_url(url).database} "
            commits = stack.enter_context(commit_counter(url))
        if settings.s3 != "none":
            s3_env, neighbours["s3"] = stack.enter_context(s3_settings(settings.s3, workdir))
            env.update(s3_env)
        seeded: tuple[list[Slot], MixedCanned] | None = None
        for processes in settings.server_processes:
            with vault_server(data_dir, {**env, "VAULT_PROCESSES": str(processes)}) as vault:
                wait_listening(vault.address, processes)
                if seeded is None:
                    progress(f"seeding {slot_count} dossiers of {settings.documents} documents")
                    seeded = seed(vault.address, data_dir, slot_count, settings.documents)
                runs.append(measure(vault, processes, seeded[0], settings, neighbours, commits))
                progress(describe(runs[-1]))
                if settings.verify_journal and processes == settings.server_processes[-1]:
                    journal = verify_journal(vault.address, data_dir, workdir)
                    progress(f"journal verify: exit {journal.exit_code}")
        assert seeded is not None
        with ceiling_server(workdir, seeded[1]) as ceiling:
            runs.append(measure(ceiling, 1, seeded[0], settings, {}))
            progress(describe(runs[-1]))
    return Report(backend_name(settings), os.cpu_count() or 0, settings, runs, journal)


# -- output -----------------------------------------------------------------------------


def number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f}"


def describe(run: Run) -> str:
    calls = " ".join(
        f"{kind} {result.calls_per_s:.0f}/s p50 {number(result.p50_ms)} p99 {number(result.p99_ms)}"
        for kind, result in run.kinds.items()
    )
    return (
        f"{run.server} x{run.server_processes}: {run.requests_per_s:.1f} req/s, "
        f"{run.errors} errors; {calls}; "
        f"RSS {mib(run.rss_kib_start)} -> {mib(run.rss_kib_end)} MiB; "
        f"load {run.load_avg_start:.2f}-{run.load_avg_end:.2f}"
    )


def markdown(report: Report) -> str:
    settings = report.settings
    mix = ", ".join(f"{kind} {weight}%" for kind, weight in MIX)
    ceiling = next((r for r in report.runs if r.server == "ceiling"), None)
    lines = [
        f"Vault on {report.backend}, {report.cpus} CPUs; {settings.clients} clients in "
        f"{settings.client_processes} processes; {settings.seconds:g} s per run after "
        f"{settings.warmup:g} s of warm-up; mix: {mix}; documents of "
        f"{SIZES[0] // 1024}-{SIZES[-1] // 1024} KiB.",
        "",
        "| server | processes | requests/s | ceiling / it | errors | CPU ms/request "
        "| behind it, CPU ms/request | DB transactions/request | RSS MiB idle / start / end / max "
        "| load avg start-end | busy |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in report.runs:
        ratio = ceiling.requests_per_s / r.requests_per_s if ceiling and r.requests else None
        behind = ", ".join(f"{k} {v:.2f}" for k, v in r.neighbour_cpu_ms_per_request.items())
        lines.append(
            f"| {r.server} | {r.server_processes} | {r.requests_per_s:,.1f} | {number(ratio)} "
            f"| {r.errors} | {number(r.cpu_ms_per_request, 2)} | {behind} "
            f"| {number(r.commits_per_request, 2)} "
            f"| {mib(r.rss_kib_idle)} / "
            f"{mib(r.rss_kib_start)} / {mib(r.rss_kib_end)} / {mib(r.rss_kib_max)} "
            f"| {r.load_avg_start:.2f}-{r.load_avg_end:.2f} | {r.machine_busy:.0%} |"
        )
    lines += [
        "",
        "| server | processes | " + " | ".join(f"{k} /s, p50, p99 ms" for k in KINDS) + " |",
        "|---|--:|" + "--:|" * len(KINDS),
    ]
    for r in report.runs:
        cells = [
            f"{k.calls_per_s:,.1f}, {number(k.p50_ms)}, {number(k.p99_ms)}"
            + (f" ({k.errors} err)" if k.errors else "")
            for k in r.kinds.values()
        ]
        lines.append(f"| {r.server} | {r.server_processes} | " + " | ".join(cells) + " |")
    for r in report.runs:
        for kind, result in r.kinds.items():
            if result.first_error:
                lines.append(f"\n{r.server} x{r.server_processes} {kind}: {result.first_error}")
    if report.journal is not None:
        verified = report.journal.result
        matched = verified.get("checkpoints_matched")
        lines.append(
            f"\n`journal verify` over the whole journal after the runs: exit "
            f"{report.journal.exit_code}, ok {verified.get('ok')}, "
            f"{verified.get('entries')} entries, "
            f"{len(matched) if isinstance(matched, list) else 0} signed checkpoints matched"
            + ("" if verified.get("ok") else f": {json.dumps(verified)[:2000]}")
        )
    return "\n".join(lines)


# -- the command line -------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=300.0, help="measured, per server")
    parser.add_argument("--warmup", type=float, default=5.0, help="before each window")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS)
    parser.add_argument("--client-processes", type=int, default=DEFAULT_CLIENT_PROCESSES)
    parser.add_argument(
        "--server-processes",
        type=parse_clients,
        default=list(DEFAULT_SERVER_PROCESSES),
        help="the vault's VAULT_PROCESSES, one run each (default: 1,2,4)",
    )
    parser.add_argument("--documents", type=int, default=DEFAULT_DOCUMENTS, help="per dossier")
    parser.add_argument("--database-url", help="PostgreSQL (a fresh schema): index and journal")
    parser.add_argument("--s3", choices=S3_CHOICES, default="none", help="blobs in S3")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="RSS sampling")
    parser.add_argument("--verify-journal", action="store_true", help="journal verify after")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--save", help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.sample_seconds <= 0:
        parser.error("--seconds and --sample-seconds must be positive, --warmup not negative")
    if min(args.clients, args.client_processes, args.documents) < 1:
        parser.error("--clients, --client-processes and --documents must be at least 1")
    if args.client_processes > 499:
        parser.error("--client-processes: at most 499 (two patients each)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings(
        seconds=args.seconds,
        warmup=args.warmup,
        clients=args.clients,
        client_processes=args.client_processes,
        server_processes=args.server_processes,
        documents=args.documents,
        database_url=args.database_url,
        s3=args.s3,
        sample_seconds=args.sample_seconds,
        verify_journal=args.verify_journal,
    )

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = run(settings, progress)
    if args.save:
        Path(args.save).write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(json.dumps(asdict(report), indent=2) if args.json else markdown(report))
    failed = any(r.errors for r in report.runs) or bool(report.journal and report.journal.exit_code)
    return FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())
