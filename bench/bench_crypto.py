"""Encryption throughput and memory: the vault's object format v1 against its peers.

For each document size (1 KiB, 1 MiB and 256 MiB by default) and each implementation,
encrypts and decrypts the same random plaintext and reports the median throughput in MB/s
(MB = 10^6 bytes of plaintext) and the peak memory the work itself needed:

- `raw`: `cryptography`'s AESGCM over the plaintext in 1 MiB segments, `encrypt_into` and
  `decrypt_into` a reused buffer, the ciphertext read in place, no framing at all: the
  practical limit of this machine (the goals are measured against it);
- `raw-bytes`: the same segments as fresh `bytes` (`encrypt`, `decrypt`), the ciphertext
  read with `BytesIO.read`: the limit for an API that, like `decrypt_stream`, reads through
  a function and yields `bytes` (for comparison only; a one-segment document is read without
  a copy, since `BytesIO` hands back its whole buffer);
- `vault`: `ObjectEncryptor` fed 1 MiB `bytes` chunks (as gRPC delivers them) with a sink
  that discards; `decrypt_views` (object format v1, 1 MiB segments, per-document salt and
  subkeys, the object size the index recorded) reading the ciphertext in place, as `raw`
  does: its source hands out views of the ciphertext, and the consumer gets each segment
  as a view of a reused plaintext buffer, valid during the call, as `raw` gives it;
- `vault-readinto`: the same, from a source with `readinto` (`BytesIO`, as a file or a
  `FileBlobStore` reader): each segment is copied into a reused buffer before it is
  opened, which `raw` does not pay (the I/O path's copy, for comparison only);
- `vault-segments`: `decrypt_segments` from the same `readinto` source: each segment's
  plaintext as new `bytes` (what a gRPC response needs), the sealed one in a reused buffer;
- `vault-bytes`: `decrypt_stream` reading through `BytesIO.read` and yielding fresh
  `bytes`, the API the service has used so far (pairs with `raw-bytes`);
- `aws`: the AWS Encryption SDK for Python (4.x) streaming API, a raw AES-256 master key,
  the committing suite without signatures (AES_256_GCM_HKDF_SHA512_COMMIT_KEY, the closest
  to the vault's guarantees) and 1 MiB frames;
- `tink`: Tink's streaming AEAD, AES256_GCM_HKDF_1MB, fed 1 MiB writes.

The peers' decrypting streams are read 1 MiB at a time, or all at once when the document is
smaller (Tink allocates what is asked for).

Every implementation hands its output to the same consumer, during the call that gives it:
it counts the bytes and reads one byte of every 4 KiB page (so that memory handed out
without being written, or a view no longer valid, costs or fails here as it would in a
real consumer; the cost is a few microseconds per MiB, the same for all).

Every (implementation, size, operation) runs in a fresh child process, so that peaks do not
mix. The child builds its input first (plaintext chunks, or the ciphertext its encryption
child wrote to a temporary file), resets the kernel's high-water mark of resident memory
(`/proc/self/clear_refs`), runs, then reads the high-water mark back (`VmHWM`): the "peak"
columns are that peak minus the resident size just before the run, i.e. the memory the
encryption or decryption needed beyond its input. (`ru_maxrss` is also recorded in the JSON,
but it cannot be reset and, after a vfork, starts from the parent's peak.) Every decryption
is checked against the SHA-256 of the plaintext once, outside the timed runs.

Run it from the repository root (Linux only; the `bench` extra must be installed):

    .venv/bin/python bench/bench_crypto.py [--sizes 1KiB 1MiB 256MiB] [--repeat N] [--json]

The default run takes about a minute on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto.objectformat import (
    ObjectEncryptor,
    ObjectRef,
    ViewSource,
    decrypt_segments,
    decrypt_stream,
    decrypt_views,
)

KIB = 1024
MIB = 1024 * KIB
MB = 1_000_000
SEGMENT = MIB  # segment, frame, chunk and read size for every implementation
DEFAULT_SIZES = ("1KiB", "1MiB", "256MiB")
IMPLEMENTATIONS = (
    "raw",
    "raw-bytes",
    "vault",
    "vault-readinto",
    "vault-segments",
    "vault-bytes",
    "aws",
    "tink",
)
PAGE = 4096
SMALL_REPEAT = 7  # timed runs per measurement below LARGE
LARGE_REPEAT = 5
LARGE = 64 * MIB
RUN_SECONDS = 0.2  # small documents are encrypted in batches that take about this long
KEY = bytes(range(32))
GOAL_SHARE_OF_RAW = 0.80
# "Flat": the largest size needs at most two segments more than a one-segment document
# (which has no look-ahead segment, and no previous segment still in its consumer's hands),
# give or take 512 KiB of allocator and measurement noise (seen between identical runs).
FLAT_TOLERANCE_KIB = 2 * SEGMENT // KIB + 512

Output = Callable[[memoryview], object]


class Implementation(Protocol):
    """One way of encrypting a document (built with a directory to share keys through)."""

    def encrypt(self, chunks: Sequence[bytes], output: Output) -> None:
        """Encrypts a document given as 1 MiB chunks (the last one shorter)."""

    def decrypt(self, ciphertext: bytes, size: int, consume: Output) -> None:
        """Decrypts a document of `size` bytes of plaintext (the index knows the size)."""


# -- the implementations -----------------------------------------------------------------


class RawAesGcm:
    """AES-256-GCM over 1 MiB segments with counter nonces: nothing but the cipher."""

    def __init__(self, tempdir: Path) -> None:
        self._buffer = bytearray(SEGMENT + 16)

    def encrypt(self, chunks: Sequence[bytes], output: Output) -> None:
        aead = AESGCM(KEY)
        with memoryview(self._buffer) as buffer:
            for index, chunk in enumerate(chunks):
                with buffer[: len(chunk) + 16] as sealed:
                    aead.encrypt_into(index.to_bytes(12, "big"), chunk, None, sealed)
                    output(sealed)

    def decrypt(self, ciphertext: bytes, size: int, consume: Output) -> None:
        aead = AESGCM(KEY)
        with memoryview(ciphertext) as data, memoryview(self._buffer) as buffer:
            for index, start in enumerate(range(0, len(data), SEGMENT + 16)):
                with (
                    data[start : start + SEGMENT + 16] as sealed,
                    buffer[: len(sealed) - 16] as out,
                ):
                    aead.decrypt_into(index.to_bytes(12, "big"), sealed, None, out)
                    consume(out)


class RawAesGcmBytes:
    """The same segments as fresh `bytes`, the ciphertext read through a read function: a
    copy and an allocation per segment that `raw` does not pay."""

    def __init__(self, tempdir: Path) -> None:
        pass

    def encrypt(self, chunks: Sequence[bytes], output: Output) -> None:
        aead = AESGCM(KEY)
        for index, chunk in enumerate(chunks):
            output(memoryview(aead.encrypt(index.to_bytes(12, "big"), chunk, None)))

    def decrypt(self, ciphertext: bytes, size: int, consume: Output) -> None:
        aead, read = AESGCM(KEY), io.BytesIO(ciphertext).read
        index = 0
        while sealed := read(SEGMENT + 16):
            consume(memoryview(aead.decrypt(index.to_bytes(12, "big"), sealed, None)))
            index += 1


class _InPlace:
    """An object already in memory, read in place: each read is a view of it."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._at = 0

    def read(self, size: int) -> memoryview:
        start = self._at
        self._at = min(start + size, len(self._data))
        return self._data[start : self._at]


class Vault:
    """Object format v1 as the service uses it: `decrypt_views` over the ciphertext."""

    def __init__(self, tempdir: Path) -> None:
        self._ref = ObjectRef(uuid.UUID(int=1), uuid.UUID(int=2), 1, 1)

    def encrypt(self, chunks: Sequence[bytes], output: Output) -> None:
        encryptor = ObjectEncryptor(KEY, self._ref, output, segment_size=SEGMENT)
        for chunk in chunks:
            encryptor.write(chunk)
        encryptor.close()

    def decrypt(self, ciphertext: bytes, size: int, consume: Output) -> None:
        for plaintext in decrypt_views(KEY, self._ref, self._source(ciphertext), len(ciphertext)):
            consume(plaintext)

    def _source(self, ciphertext: bytes) -> ViewSource:
        return _InPlace(ciphertext)


class VaultReadinto(Vault):
    """`decrypt_views` from a `readinto` source: each segment copied into a reused buffer."""

    def _source(self, ciphertext: bytes) -> ViewSource:
        return io.BytesIO(ciphertext)


class VaultSegments(Vault):
    """`decrypt_segments` from a `readinto` source: new `bytes` per segment, one allocation."""

    def decrypt(self, ciphertext: bytes, size: int, consume: Output) -> None:
        source = io.BytesIO(ciphertext)
        for plaintext in decrypt_segments(KEY, self._ref, source, len(ciphertext)):
            consume(memoryview(plaintext))


class VaultBytes(Vault):
    """`decrypt_stream`: the ciphertext read as fresh `bytes`, the plaintext yielded as such."""

    def decrypt(self, ciphertext: bytes, size: int, consume: Output) -> None:
        for plaintext in decrypt_stream(KEY, self._ref, io.BytesIO(ciphertext).read):
            consume(memoryview(plaintext))


class AwsEncryptionSdk:
    """The AWS Encryption SDK's streaming client with a raw AES-256 wrapping key."""

    def __init__(self, tempdir: Path) -> None:
        import aws_encryption_sdk
        from aws_encryption_sdk.identifiers import (
            Algorithm,
            CommitmentPolicy,
            EncryptionKeyType,
            WrappingAlgorithm,
        )
        from aws_encryption_sdk.internal.crypto.wrapping_keys import (
            WrappingKey,
        )
        from aws_encryption_sdk.key_providers.raw import (
            RawMasterKey,
        )

        self._client = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        )
        self._algorithm = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
        self._key = RawMasterKey(
            provider_id="bench",
            key_id=b"bench-key",
            wrapping_key=WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                wrapping_key=KEY,
                wrapping_key_type=EncryptionKeyType.SYMMETRIC,
            ),
        )
        self._joined: tuple[Sequence[bytes], bytes] | None = None

    def _source(self, chunks: Sequence[bytes]) -> io.BytesIO:
        if self._joined is None or self._joined[0] is not chunks:  # joined once, untimed
            self._joined = (chunks, b"".join(chunks))
        return io.BytesIO(self._joined[1])

    def encrypt(self, chunks: Sequence[bytes], output: Output) -> None:
        stream = self._client.stream(
            mode="e",
            source=self._source(chunks),
            key_provider=self._key,
            algorithm=self._algorithm,
            frame_length=SEGMENT,
        )
        with stream as encryptor:
            while piece := encryptor.read(SEGMENT):
                output(memoryview(piece))

    def decrypt(self, ciphertext: bytes, size: int, consume: Output) -> None:
        stream = self._client.stream(
            mode="d", source=io.BytesIO(ciphertext), key_provider=self._key
        )
        with stream as decryptor:
            while piece := decryptor.read(_piece(size)):
                consume(memoryview(piece))

    def prepare(self, chunks: Sequence[bytes]) -> None:
        self._source(chunks)


def _piece(size: int) -> int:
    """How much a peer's stream is asked for at a time: a segment, or the whole document if
    it is smaller (Tink allocates what is asked for: 1 MiB reads of a 1 KiB document cost 5x)."""
    return max(1, min(SEGMENT, size))


class _Discard(io.RawIOBase):
    """A writable file that forgets what it is given (Tink writes into a file object)."""

    def __init__(self, output: Output) -> None:
        super().__init__()
        self._output = output

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        with memoryview(data) as view:
            self._output(view)
            return view.nbytes


class Tink:
    """Tink's streaming AEAD; the keyset is shared with the decrypting child via a file."""

    def __init__(self, tempdir: Path) -> None:
        import tink
        from tink import secret_key_access, streaming_aead

        streaming_aead.register()
        keyset = tempdir / "tink-keyset.bin"
        token = secret_key_access.TOKEN
        if keyset.exists():
            handle = tink.proto_keyset_format.parse(keyset.read_bytes(), token)
        else:
            template = streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB
            handle = tink.new_keyset_handle(template)
            keyset.write_bytes(tink.proto_keyset_format.serialize(handle, token))
        self._primitive = handle.primitive(streaming_aead.StreamingAead)

    def encrypt(self, chunks: Sequence[bytes], output: Output) -> None:
        with self._primitive.new_encrypting_stream(_Discard(output), b"") as encryptor:
            for chunk in chunks:
                encryptor.write(chunk)

    def decrypt(self, ciphertext: bytes, size: int, consume: Output) -> None:
        with self._primitive.new_decrypting_stream(io.BytesIO(ciphertext), b"") as decryptor:
            while piece := decryptor.read(_piece(size)):
                consume(memoryview(piece))


def _implementation(name: str, tempdir: Path) -> Implementation:
    factories: dict[str, Callable[[Path], Implementation]] = {
        "raw": RawAesGcm,
        "raw-bytes": RawAesGcmBytes,
        "vault": Vault,
        "vault-readinto": VaultReadinto,
        "vault-segments": VaultSegments,
        "vault-bytes": VaultBytes,
        "aws": AwsEncryptionSdk,
        "tink": Tink,
    }
    return factories[name](tempdir)


# -- one measurement, in a child process ----------------------------------------------------


def _status_kib(field: str) -> int:
    """A `kB` line of /proc/self/status, e.g. VmRSS or VmHWM."""
    match = re.search(rf"^{field}:\s+(\d+) kB$", Path("/proc/self/status").read_text(), re.M)
    if match is None:
        raise RuntimeError(f"/proc/self/status has no {field}")
    return int(match.group(1))


def _reset_peak() -> None:
    """Sets the resident high-water mark (VmHWM) back to the current resident size."""
    Path("/proc/self/clear_refs").write_text("5")


def _counter() -> tuple[list[int], Output]:
    """The consumer: counts the bytes it is given and reads one byte of every page."""
    total = [0]

    def count(view: memoryview) -> None:
        total[0] += view.nbytes
        view[::PAGE].tobytes()

    return total, count


def _time_runs(once: Callable[[], None], size: int, repeat: int) -> tuple[list[float], int]:
    """Median-ready MB/s figures: one warm-up, then `repeat` timed batches of documents."""
    start = time.perf_counter()
    once()
    single = time.perf_counter() - start
    documents = max(1, round(RUN_SECONDS / max(single, 1e-9))) if size < LARGE else 1
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(documents):
            once()
        rates.append(size * documents / (time.perf_counter() - start) / MB)
    return rates, documents


@dataclass(frozen=True)
class Measurement:
    """One (implementation, size, operation), measured in one child process."""

    implementation: str
    size: int
    operation: str
    mb_s: float
    runs_mb_s: list[float]
    documents_per_run: int
    rss_before_kib: int
    peak_kib: int
    ru_maxrss_kib: int
    sha256: str

    @property
    def peak_delta_kib(self) -> int:
        return self.peak_kib - self.rss_before_kib


def _plaintext(size: int) -> list[bytes]:
    return [os.urandom(min(SEGMENT, size - start)) for start in range(0, size, SEGMENT)]


class _Timed(NamedTuple):
    rates: list[float]
    documents: int
    rss_before_kib: int
    peak_kib: int
    ru_maxrss_kib: int


def _measure(once: Callable[[], None], size: int, repeat: int) -> _Timed:
    """Timed runs, and the resident memory before them and at their peak."""
    gc.collect()
    before = _status_kib("VmRSS")
    _reset_peak()
    rates, documents = _time_runs(once, size, repeat)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return _Timed(rates, documents, before, _status_kib("VmHWM"), maxrss)


def child(spec: dict[str, Any]) -> Measurement:
    """Runs one measurement; the encryption child leaves its ciphertext in `file`."""
    name, size, operation = spec["implementation"], spec["size"], spec["operation"]
    tempdir, file = Path(spec["tempdir"]), Path(spec["file"])
    implementation = _implementation(name, tempdir)
    total, count = _counter()
    if operation == "encrypt":
        chunks = _plaintext(size)
        if isinstance(implementation, AwsEncryptionSdk):
            implementation.prepare(chunks)
        timed = _measure(lambda: implementation.encrypt(chunks, count), size, spec["repeat"])
        with file.open("wb") as out:
            implementation.encrypt(chunks, out.write)
        digest = _sha(chunks)
    else:
        ciphertext = file.read_bytes()
        timed = _measure(
            lambda: implementation.decrypt(ciphertext, size, count), size, spec["repeat"]
        )
        hasher = hashlib.sha256()
        implementation.decrypt(ciphertext, size, hasher.update)
        digest = hasher.hexdigest()
        if digest != spec["sha256"] or total[0] % max(size, 1):
            raise RuntimeError(f"{name} decrypted something else than it encrypted")
    return Measurement(
        name,
        size,
        operation,
        statistics.median(timed.rates),
        timed.rates,
        timed.documents,
        timed.rss_before_kib,
        timed.peak_kib,
        timed.ru_maxrss_kib,
        digest,
    )


def _sha(chunks: Sequence[bytes]) -> str:
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def run_child(spec: dict[str, Any]) -> Measurement:
    result = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"child {spec} failed:\n{result.stderr}")
    fields = json.loads(result.stdout)
    return Measurement(**fields)


# -- the whole run ----------------------------------------------------------------------


def parse_size(text: str) -> int:
    """`1KiB`, `1MiB`, `256MiB`, `4096` (bytes), case-insensitive; `K`/`M`/`G` for KiB..."""
    match = re.fullmatch(r"(\d+)\s*([kmg]?)(?:i?b)?", text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return int(match.group(1)) * {"": 1, "k": KIB, "m": MIB, "g": MIB * KIB}[match.group(2)]


def size_label(size: int) -> str:
    for unit, name in ((MIB * KIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} B"


def measure_all(
    sizes: Sequence[int], implementations: Sequence[str], repeat: int | None
) -> list[Measurement]:
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="bench-crypto-") as tempdir:
        for size in sizes:
            for name in implementations:
                file = Path(tempdir) / f"{name}-{size}.bin"
                spec: dict[str, Any] = {
                    "implementation": name,
                    "size": size,
                    "tempdir": tempdir,
                    "file": str(file),
                    "repeat": repeat or (SMALL_REPEAT if size < LARGE else LARGE_REPEAT),
                }
                for operation in ("encrypt", "decrypt"):
                    print(f"{size_label(size)} {name} {operation}...", file=sys.stderr)
                    result = run_child({**spec, "operation": operation})
                    spec["sha256"] = result.sha256
                    results.append(result)
                file.unlink()
    return results


def _find(results: Sequence[Measurement], name: str, size: int, op: str) -> Measurement | None:
    return next(
        (r for r in results if (r.implementation, r.size, r.operation) == (name, size, op)),
        None,
    )


def goals(results: Sequence[Measurement]) -> list[dict[str, Any]]:
    """The issue's goals, each with its figures and whether it is met."""
    sizes = sorted({r.size for r in results if r.size >= MIB})
    checks: list[dict[str, Any]] = []
    for size in sizes:
        for op in ("encrypt", "decrypt"):
            vault, raw = _find(results, "vault", size, op), _find(results, "raw", size, op)
            if vault and raw:
                share = vault.mb_s / raw.mb_s
                checks.append(
                    {
                        "goal": f"vault {op} >= 80% of raw AES-GCM at {size_label(size)}",
                        "figure": f"{share:.0%}",
                        "met": share >= GOAL_SHARE_OF_RAW,
                    }
                )
            peers = [p for p in (_find(results, n, size, op) for n in ("aws", "tink")) if p]
            if vault and peers:
                best = max(peers, key=lambda p: p.mb_s)
                checks.append(
                    {
                        "goal": f"vault {op} beats the peers at {size_label(size)}",
                        "figure": f"{vault.mb_s:,.0f} vs {best.implementation} {best.mb_s:,.0f}",
                        "met": all(vault.mb_s > p.mb_s for p in peers),
                    }
                )
    for op in ("encrypt", "decrypt"):
        vaults = sorted(
            (
                r
                for r in results
                if r.implementation == "vault" and r.size >= MIB and r.operation == op
            ),
            key=lambda r: r.size,
        )
        if len(vaults) >= 2:
            small, large = vaults[0], vaults[-1]
            growth = large.peak_delta_kib - small.peak_delta_kib
            checks.append(
                {
                    "goal": f"vault {op} peak memory flat from {size_label(small.size)} to "
                    f"{size_label(large.size)}",
                    "figure": f"{small.peak_delta_kib / KIB:.1f} -> "
                    f"{large.peak_delta_kib / KIB:.1f} MiB",
                    "met": growth <= FLAT_TOLERANCE_KIB,
                }
            )
    return checks


def markdown(results: Sequence[Measurement], checks: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| size | implementation | encrypt MB/s | decrypt MB/s | encrypt % of raw "
        "| decrypt % of raw | encrypt peak MiB | decrypt peak MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sorted({r.size for r in results}):
        for name in IMPLEMENTATIONS:
            enc, dec = _find(results, name, size, "encrypt"), _find(results, name, size, "decrypt")
            if enc is None or dec is None:
                continue
            cells = [size_label(size), name, f"{enc.mb_s:,.0f}", f"{dec.mb_s:,.0f}"]
            for mine in (enc, dec):
                raw = _find(results, "raw", size, mine.operation)
                cells.append(f"{mine.mb_s / raw.mb_s:.0%}" if raw else "-")
            cells += [f"{enc.peak_delta_kib / KIB:.1f}", f"{dec.peak_delta_kib / KIB:.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| goal | figure | met |", "|---|---|---|"]
    lines += [f"| {c['goal']} | {c['figure']} | {'yes' if c['met'] else 'NO'} |" for c in checks]
    return "\n".join(lines)


def _machine() -> dict[str, Any]:
    from cryptography import __version__ as cryptography_version

    return {
        "python": platform.python_version(),
        "cryptography": cryptography_version,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=parse_size,
        default=None,
        help="document sizes, e.g. 1KiB 1MiB 256MiB (default)",
    )
    parser.add_argument(
        "--implementations", nargs="+", choices=IMPLEMENTATIONS, default=list(IMPLEMENTATIONS)
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help=f"timed runs per measurement ({SMALL_REPEAT}; {LARGE_REPEAT} "
        f"from {size_label(LARGE)})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asdict(child(json.loads(args.child)))))
        return 0
    sizes = args.sizes or [parse_size(s) for s in DEFAULT_SIZES]
    started = time.perf_counter()
    results = measure_all(sizes, args.implementations, args.repeat)
    checks = goals(results)
    if args.json:
        report = {
            "machine": _machine(),
            "seconds": round(time.perf_counter() - started, 1),
            "results": [{**asdict(r), "peak_delta_kib": r.peak_delta_kib} for r in results],
            "goals": checks,
        }
        print(json.dumps(report, indent=2))
    else:
        print(markdown(results, checks))
        print(
            f"\n({time.perf_counter() - started:.0f} s; MB = 10^6 bytes of plaintext; "
            "peak = resident memory needed beyond the input)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
