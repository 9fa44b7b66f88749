"""Where a server's CPU goes: py-spy's collapsed stacks, classified into components.

`py-spy record --format raw` writes one line per distinct stack, `frame;frame;...;frame
COUNT`, outermost frame first, each frame `function (path:line)`. Every sample is filed
under exactly one component, by these rules:

0. Waiting: py-spy (without `--idle`) keeps the samples of threads the kernel reports
   as running *or runnable*. On a loaded machine a thread just woken (by a queue, a
   condition, epoll) often waits for a CPU with its stack still at the blocking call,
   and is sampled there, although it uses no CPU. So a sample whose innermost frame is
   a blocking call is filed as *waiting* and left out of the CPU shares (its share of
   all samples is reported apart): `wait`/`acquire` in `threading.py`, `get` in
   `queue.py`, `select` in `selectors.py`, `result`/`wait` in
   `concurrent/futures/_base.py`, and the pool's `_worker` itself in
   `concurrent/futures/thread.py` (it only runs its own code between work items; as
   the innermost frame it is blocked in the queue's C `get`). A thread in disk wait
   (state D, an fsync in a commit) may still be sampled, under the frame that waits.
1. Owners: scanning from the innermost frame outwards, the first frame that belongs to
   an *owner* claims the whole sample, whatever it called: token verification
   (`jwt/`, `vault/auth.py`: the Ed25519 check in `cryptography` is the token's, not
   the documents' crypto), logging (`logging/`: formatting and writing a record), the
   journal (`vault/journal/`: its SQL is the journal's commit, not the index's). A
   journal sample is split by the innermost journal frame: *encoding* (`_fields`,
   `_check_value`, `canonical_bytes`), *hashing* (`entry_hash`, `link_hash`,
   `seal_entry`), *commit* (`group.py`, `sql.py`: batching, the INSERTs and COMMIT),
   else *other*.
2. Otherwise, any sample of grpc.aio's poller thread (named `Thread-N (_poll_wrapper)`)
   is grpc/asyncio: its work is in Cython, under `threading.py` frames only. Any other
   sample: the innermost frame that matches any rule below decides, rules tried in
   order for that frame:
   - DB driver: `psycopg/`, `sqlite3/`, `sqlalchemy/dialects/`, and the SQLAlchemy
     functions that only call into the DB-API (`do_execute`, `do_executemany`,
     `do_execute_no_params`, `do_commit`, `do_rollback`, `do_begin`, `do_close`, and
     the cursor fetch strategies' `fetch*` in `sqlalchemy/engine/cursor.py`): sqlite3
     has no Python frames, its C time (and a commit's fsync) shows under these;
   - SQLAlchemy compile: `sqlalchemy/sql/` (statement building, cache keys, compiler);
   - SQLAlchemy result/ORM: `sqlalchemy/orm/`, `sqlalchemy/engine/result.py`,
     `row.py`, `cursor.py`, `sqlalchemy/cyextension/`;
   - SQLAlchemy engine/pool: the rest of `sqlalchemy/` (connection checkout, events,
     transaction bookkeeping, util);
   - policy: `vault/domain/policy.py`, `vault/matrix.py`;
   - crypto: `cryptography/`, `vault/crypto/` (AES-GCM is in Rust, under these frames);
   - blob store (files): `vault/blobstore/file.py`;
   - boto3/botocore: `boto3/`, `botocore/`, `s3transfer/`, `urllib3/`,
     `vault/blobstore/s3/`;
   - protobuf/wire: `google/protobuf/`, `_pb2`, `vault/wire.py` (message building; the
     upb serialisation in C shows under the caller, often grpc's frames);
   - thread hand-offs: `concurrent/futures/`, `threading.py`, `queue.py`, and asyncio's
     `run_in_executor`, `call_soon_threadsafe`, `wrap_future`, `_chain_future`,
     `_copy_future_state`, `_set_state`, `_call_set_state`, `_write_to_self`,
     `_read_from_self`, `shield`;
   - grpc/asyncio: `grpc/`, `asyncio/`, `selectors.py`, `contextvars` (the event loop,
     grpc.aio's Cython server, whose C frames show under these);
   - servicer: `vault/server/` (the handlers' own code, and what they await that has
     no Python frame: grpc.aio's Cython reading a request stream, parsing messages);
   - vault (other): any other `vault/` frame (the service's own logic, the index's
     query building, the servicer's glue, and the stdlib they call: uuid, datetime);
3. No frame matched: other (interpreter start-up, garbage collection attributed to
   the frame it interrupted, stdlib called outside any of the above).

Each component also gets an *inclusive* share: the samples with at least one frame
matching its rule anywhere in the stack (so "SQLAlchemy compile incl." counts the
journal's statements too; it means little for thread hand-offs, grpc/asyncio, the
servicer and vault (other), whose frames root most stacks). Shares are of the samples that are not
waiting. A sample's thread is its first frame with `--threads` (`thread (TID): NAME`).

Caveat, measured on this machine: py-spy also samples threads in disk wait (state D):
a Python thread looping on write + fsync used 0.2 s of CPU in 3 s and got 1.9 s of
samples. So a share of samples overstates what waits on the disk (the blob's and the
database's fsync, under "blob store (files)" and "DB driver"), and on a loaded machine
what waits for a CPU. `Shares.weighted` corrects between threads: each thread's samples
share out the CPU that thread really used (/proc/<pid>/task/<tid>/stat over the same
window), so a committer thread that mostly waits on fsync weighs what it burns; within
a thread, samples in fsync still take some of the thread's CPU from its other frames.
py-spy's `--gil` mode (samples only the thread holding the GIL) leaves out every wait,
and also C code that releases the GIL (sqlite3's statements, fsync, large hashes): the
share of the GIL, the one Python core, per component.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

TOKEN = "token verification"
LOGGING = "logging"
JOURNAL_ENCODING = "journal: encoding"
JOURNAL_HASHING = "journal: hashing"
JOURNAL_COMMIT = "journal: commit (group, SQL)"
JOURNAL_OTHER = "journal: other"
DRIVER = "DB driver"
SQL_COMPILE = "SQLAlchemy compile"
SQL_RESULT = "SQLAlchemy result/ORM"
SQL_ENGINE = "SQLAlchemy engine/pool"
POLICY = "policy"
CRYPTO = "crypto"
BLOB_FILES = "blob store (files)"
BOTO = "boto3/botocore"
PROTOBUF = "protobuf/wire"
HANDOFF = "thread hand-offs"
GRPC_ASYNCIO = "grpc/asyncio"
SERVICER = "servicer (+ grpc.aio Cython under it)"
VAULT_OTHER = "vault (other)"
OTHER = "other"
JOURNAL = "journal"  # inclusive share only
WAITING = "waiting (woken, not on a CPU)"  # left out of the CPU shares
ROOTS = frozenset(
    {HANDOFF, GRPC_ASYNCIO, SERVICER, VAULT_OTHER, OTHER}
)  # no useful inclusive share

COMPONENTS = (
    TOKEN,
    POLICY,
    SQL_COMPILE,
    SQL_RESULT,
    SQL_ENGINE,
    DRIVER,
    JOURNAL_ENCODING,
    JOURNAL_HASHING,
    JOURNAL_COMMIT,
    JOURNAL_OTHER,
    CRYPTO,
    BLOB_FILES,
    PROTOBUF,
    GRPC_ASYNCIO,
    SERVICER,
    HANDOFF,
    BOTO,
    LOGGING,
    VAULT_OTHER,
    OTHER,
)

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")


@dataclass(frozen=True)
class Frame:
    function: str
    path: str  # with forward slashes, as py-spy prints it

    @classmethod
    def parse(cls, text: str) -> Frame:
        """`Class.method (path/to/file.py:12)`: the path as py-spy shortens it (relative
        to site-packages or the working directory), made to start with `/` so that rules
        can anchor on a directory name; the function without its class."""
        match = _FRAME.match(text.strip())
        if match is None:
            return cls(text.strip(), "")
        path = match["path"].replace("\\", "/")
        return cls(match["function"].rpartition(".")[2], path if path[:1] == "/" else f"/{path}")

    def under(self, *parts: str) -> bool:
        return any(part in self.path for part in parts)


_DRIVER_FUNCTIONS = {
    "do_execute",
    "do_executemany",
    "do_execute_no_params",
    "do_commit",
    "do_rollback",
    "do_begin",
    "do_close",
}
_HANDOFF_FUNCTIONS = {
    "run_in_executor",
    "call_soon_threadsafe",
    "wrap_future",
    "_chain_future",
    "_copy_future_state",
    "_set_state",
    "_call_set_state",
    "_call_check_cancel",
    "_write_to_self",
    "_read_from_self",
    "_process_self_data",
    "shield",
}
_WAITS = {
    "/threading.py": {"wait", "acquire"},
    "/queue.py": {"get"},
    "/selectors.py": {"select"},
    "/concurrent/futures/_base.py": {"result", "wait"},
    "/concurrent/futures/thread.py": {"_worker"},
}
_JOURNAL_ENCODING = {"_fields", "_check_value", "canonical_bytes"}
_JOURNAL_HASHING = {"entry_hash", "link_hash", "seal_entry"}


def waiting(frame: Frame) -> bool:
    """Whether this innermost frame is a blocking call (rule 0)."""
    return any(
        frame.path.endswith(path) and frame.function in functions
        for path, functions in _WAITS.items()
    )


def owner(frame: Frame) -> str | None:
    """The owner that claims every sample with this frame in it, if any."""
    if frame.under("/jwt/", "/vault/auth.py"):
        return TOKEN
    if frame.under("/logging/"):
        return LOGGING
    if frame.under("/vault/journal/"):
        if frame.function in _JOURNAL_ENCODING:
            return JOURNAL_ENCODING
        if frame.function in _JOURNAL_HASHING:
            return JOURNAL_HASHING
        if frame.under("/vault/journal/group.py", "/vault/journal/sql.py"):
            return JOURNAL_COMMIT
        return JOURNAL_OTHER
    return None


def component(frame: Frame) -> str | None:
    """The component this frame's own code belongs to (rule 2), if any."""
    if frame.under("/psycopg/", "/sqlite3/", "/sqlalchemy/dialects/"):
        return DRIVER
    if frame.under("/sqlalchemy/"):
        if frame.function in _DRIVER_FUNCTIONS:
            return DRIVER
        if frame.under("/sqlalchemy/engine/cursor.py") and frame.function.startswith("fetch"):
            return DRIVER
        if frame.under("/sqlalchemy/sql/"):
            return SQL_COMPILE
        if frame.under(
            "sqlalchemy/orm/",
            "sqlalchemy/engine/result.py",
            "sqlalchemy/engine/row.py",
            "sqlalchemy/engine/cursor.py",
            "sqlalchemy/cyextension/",
        ):
            return SQL_RESULT
        return SQL_ENGINE
    if frame.under("/vault/domain/policy.py", "/vault/matrix.py"):
        return POLICY
    if frame.under("/cryptography/", "/vault/crypto/"):
        return CRYPTO
    if frame.under("/vault/blobstore/file.py"):
        return BLOB_FILES
    if frame.under("/boto3/", "/botocore/", "/s3transfer/", "/urllib3/", "/vault/blobstore/s3/"):
        return BOTO
    if frame.under("/google/protobuf/", "_pb2", "/vault/wire.py"):
        return PROTOBUF
    if frame.under("/concurrent/futures/", "/threading.py", "/queue.py"):
        return HANDOFF
    if frame.under("/asyncio/") and frame.function in _HANDOFF_FUNCTIONS:
        return HANDOFF
    if frame.under("/grpc/", "/grpc/_cython", "/asyncio/", "/selectors.py", "/contextvars"):
        return GRPC_ASYNCIO
    if frame.under("/vault/server/"):
        return SERVICER
    if frame.under("/vault/"):
        return VAULT_OTHER
    return None


GRPC_POLLER = "_poll_wrapper"  # grpc.aio's poller thread: Cython, no Python frames


def classify(frames: list[Frame], thread: str | None = None) -> str:
    """The one component a sample (frames outermost first, in `thread`) is filed under."""
    if frames and waiting(frames[-1]):
        return WAITING
    if thread is not None and GRPC_POLLER in thread:
        return GRPC_ASYNCIO
    for frame in reversed(frames):
        claimed = owner(frame)
        if claimed is not None:
            return claimed
    for frame in reversed(frames):
        found = component(frame)
        if found is not None:
            return found
    return OTHER


def touched(frames: list[Frame]) -> set[str]:
    """Every component with a frame in this sample (for the inclusive shares)."""
    names: set[str] = set()
    for frame in frames:
        claimed = owner(frame)
        if claimed is not None:
            names.add(claimed)
            if claimed.startswith("journal"):
                names.add(JOURNAL)
        found = component(frame)
        if found is not None:
            names.add(found)
    return names


@dataclass(frozen=True)
class Shares:
    """Sample counts per component (exclusive and inclusive) and per thread, of the
    samples that are not waiting; and the waiting samples' count."""

    samples: int  # not waiting
    waiting: int
    exclusive: dict[str, int]
    inclusive: dict[str, int]
    threads: dict[str, int]
    by_thread_id: dict[int, dict[str, int]] = field(default_factory=dict)  # exclusive

    def share(self, count: int) -> float:
        return count / self.samples if self.samples else 0.0

    def weighted(self, cpu_by_thread_id: dict[int, float]) -> tuple[dict[str, float], float]:
        """CPU seconds per component when each thread's samples share out the CPU the
        thread really used (its /proc utime + stime over the window), and the CPU of
        threads with no sample (not Python threads: grpc's C core)."""
        seconds: dict[str, float] = {}
        for thread_id, counts in self.by_thread_id.items():
            cpu, total = cpu_by_thread_id.get(thread_id, 0.0), sum(counts.values())
            for name, count in counts.items():
                seconds[name] = seconds.get(name, 0.0) + cpu * count / total
        unsampled = sum(
            cpu for thread_id, cpu in cpu_by_thread_id.items() if thread_id not in self.by_thread_id
        )
        return dict(seconds), unsampled


_THREAD = re.compile(r"^thread \((?P<id>\w+)\)(?::\s*(?P<name>.*))?$")


def thread_id(root: str) -> int | None:
    """The OS thread id from a `--threads` root frame, `thread (TID): NAME`."""
    match = _THREAD.match(root.strip())
    if match is None:
        return None
    try:
        return int(match["id"], 0)
    except ValueError:
        return None


def thread_name(root: str) -> str | None:
    """The thread's name from a `--threads` root frame, `thread (TID): NAME`, its
    numbers replaced by N (the pool's `vault_0`, `vault_1` are `vault_N`); None
    if the frame is not a thread's."""
    match = _THREAD.match(root.strip())
    if match is None:
        return None
    name = match["name"] or "unnamed"
    return re.sub(r"\d+", "N", name.strip())


def parse_collapsed(lines: Iterable[str]) -> Shares:
    """Counts from py-spy's raw output (one `stack COUNT` line per distinct stack)."""
    exclusive: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    by_thread_id: dict[int, Counter[str]] = {}
    total = waits = 0
    for line in lines:
        line = line.rstrip("\n")
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        parts = stack.split(";")
        thread, tid = thread_name(parts[0]), thread_id(parts[0])
        if thread is not None:
            parts = parts[1:]
        frames = [Frame.parse(part) for part in parts]
        filed = classify(frames, thread)
        if filed == WAITING:
            waits += count
            continue
        if thread is not None:
            threads[thread] += count
        if tid is not None:
            by_thread_id.setdefault(tid, Counter())[filed] += count
        exclusive[filed] += count
        for name in touched(frames):
            inclusive[name] += count
        total += count
    return Shares(
        total,
        waits,
        dict(exclusive),
        dict(inclusive),
        dict(threads),
        {tid: dict(counts) for tid, counts in by_thread_id.items()},
    )
