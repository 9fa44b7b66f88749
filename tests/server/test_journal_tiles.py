"""Tiles through the real server: entries appended over gRPC, a checkpoint published, and
the published directory, mirrored with plain file copies, verified offline; the proofs an
auditor computes from the tiles alone are the server's."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import CLI, RunningVault
from tests.server.test_journal_api import auditor, seed
from tests.server.test_journal_proofs import checkpointer
from vault.journal.checkpoint import open_note
from vault.journal.merkle import leaf_hash, verify_inclusion
from vault.journal.tilefiles import TileDirectory
from vault.journal.tiles import WIDTH, TileSource, decode_bundle


def test_published_tiles_verify_offline_and_give_the_servers_proofs(
    running_vault: RunningVault, tmp_path: Path
) -> None:
    seed(running_vault)
    signer = checkpointer(running_vault)
    first = signer.checkpoint()
    assert first is not None
    with running_vault.client(auditor(running_vault)) as client:
        while len(list(client.export_journal())) <= WIDTH + 10:
            client.query_journal()
    note = signer.checkpoint()
    assert note is not None
    published = running_vault.config.checkpoint_dir
    assert (published / "checkpoint").read_text() == note
    assert (published / "tile/0/000").stat().st_size == WIDTH * 32
    mirror = tmp_path / "mirror"
    shutil.copytree(published, mirror)  # what `wget -m` of the served directory gives
    key = signer.verifier_key
    verified = subprocess.run(
        [*CLI, "journal", "verify", str(mirror), "--key", key.encode(), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    summary = json.loads(verified.stdout)
    size = open_note(note, key).size
    assert (summary["last_seq"], summary["roots_matched"][-1]) == (size, size)

    source, root = TileSource(size, TileDirectory(mirror).fetch), open_note(note, key).root
    assert source.root() == root
    entry = decode_bundle((mirror / "tile/entries/000").read_bytes())[1]
    verify_inclusion(1, size, leaf_hash(entry), source.inclusion_proof(1), root or b"")
    with running_vault.client(auditor(running_vault)) as client:
        served = json.loads(client.inclusion_proof(2, size))
    assert served["hashes"] == [h.hex() for h in source.inclusion_proof(1)]
