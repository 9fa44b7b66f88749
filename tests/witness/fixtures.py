"""A log in memory for the witness tests: leaves, its RFC 9162 tree, signed checkpoints."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vault.crypto.localkeys import LocalCheckpointSigner
from vault.journal.checkpoint import Checkpoint, VerifierKey, sign
from vault.journal.merkle import EMPTY_ROOT, consistency_ranges, leaf_hash, node_hash
from vault.witness.cosignature import WitnessKey
from vault.witness.server import WitnessServer
from vault.witness.settings import Witnessing
from vault.witness.state import StateFile
from vault.witness.witness import Witness

ORIGIN = "dossier-vault.test/journal"
LOG_SIGNER = LocalCheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
LOG_KEY = VerifierKey(ORIGIN, LOG_SIGNER.public_key)
WITNESS_SIGNER = LocalCheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64))))
WITNESS_NAME = "witness.test/w1"
WITNESS_KEY = WitnessKey(WITNESS_NAME, WITNESS_SIGNER.public_key)


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


class MemoryLog:
    """One history of the log: its entries' leaf hashes, as a TreeStore."""

    def __init__(self, entries: Iterable[bytes] = ()) -> None:
        self.leaves = [leaf_hash(e) for e in entries]

    def append(self, *entries: bytes) -> MemoryLog:
        self.leaves += [leaf_hash(e) for e in entries]
        return self

    def size(self) -> int:
        return len(self.leaves)

    def prove(self, ranges: Iterable[tuple[int, int]]) -> list[bytes]:
        return [mth(self.leaves[a:b]) for a, b in ranges]

    def proof(self, old: int) -> list[bytes]:
        return self.prove(consistency_ranges(old, self.size())) if old else []

    def note(self, time_us: int = 1_764_000_000_000_000) -> str:
        checkpoint = Checkpoint(ORIGIN, self.size(), mth(self.leaves), time_us, bytes(32))
        return sign(checkpoint, ORIGIN, LOG_SIGNER)


def history(tag: str, count: int) -> MemoryLog:
    return MemoryLog(f'{{"entry":"{tag}-{i}"}}'.encode() for i in range(1, count + 1))


@contextmanager
def serving(state: Path, key: tuple[str, LocalCheckpointSigner] | None = None) -> Iterator[str]:
    """A witness of the test log over HTTP on loopback; yields its URL prefix."""
    name, signer = key or (WITNESS_NAME, WITNESS_SIGNER)
    witness = Witness(name, signer, [LOG_KEY], StateFile(state))
    server = WitnessServer(("127.0.0.1", 0), witness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def witnessing(
    urls: list[str], keys: list[WitnessKey], quorum: int, timeout: float = 5.0
) -> Witnessing:
    return Witnessing(tuple(urls), tuple(keys), quorum, timeout)
