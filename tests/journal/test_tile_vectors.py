"""tests/vectors/tiles-v1.json: the code reproduces it, a reading of docs/format.md written
here with hashlib alone gives its bytes, and its journal directory verifies offline."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests.journal.test_merkle import naive_mth
from tools.make_vectors import TILE_VECTORS
from tools.tile_vectors import build
from vault.journal.checkpoint import VerifierKey
from vault.journal.tilefiles import TileDirectory
from vault.journal.tiles_verify import verify_tiles

STORED: dict[str, Any] = json.loads(TILE_VECTORS.read_text())


def test_stored_vectors_are_what_the_code_produces() -> None:
    assert build() == STORED


def test_the_specification_read_independently_gives_the_layout_files() -> None:
    layout = STORED["layout"]
    entries = [f"entry {i}".encode() for i in range(layout["size"])]
    leaves = [hashlib.sha256(b"\0" + e).digest() for e in entries]
    bundle = b"".join(len(e).to_bytes(2, "big") + e for e in entries[256:512])
    expected = {
        "tile/0/000": b"".join(leaves[:256]),
        "tile/0/001": b"".join(leaves[256:512]),
        "tile/0/002.p/1": leaves[512],
        "tile/1/000.p/2": naive_mth(entries[:256]) + naive_mth(entries[256:512]),
        "tile/entries/001": bundle,
        "tile/entries/002.p/1": b"\x00\x09entry 512",
    }
    files = {f["path"]: f for f in layout["files"]}
    for name, data in expected.items():
        assert files[name]["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert files[name]["length"] == len(data)
    assert layout["root"] == naive_mth(entries).hex()
    assert STORED["paths"]["indexes"]["1234067"] == "x001/x234/067"


def test_the_journal_vectors_directory_verifies_with_the_key_alone(tmp_path: Path) -> None:
    journal = STORED["journal"]
    for name, data in journal["files"].items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(bytes.fromhex(data))
    key = VerifierKey.parse(journal["verifier_key"])
    summary, checked = verify_tiles(TileDirectory(tmp_path), key, journal["checkpoint"])
    assert (summary.last_seq, summary.roots_matched, checked.bundles) == (5, [5], 1)
