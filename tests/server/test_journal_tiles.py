"""Tiles through the real server: entries appended over gRPC, a checkpoint published, and
the published directory, mirrored with plain file copies, verified offline; the proofs an
auditor computes from the tiles alone are the server's."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import CLI, PATIENT_INS, RunningVault
from tests.server.test_journal_api import NOTE, auditor, seed
from tests.server.test_journal_proofs import checkpointer
from vault.journal.checkpoint import open_note
from vault.journal.docset import document_set
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


def test_a_copy_of_2000_documents_journals_a_small_entry_and_the_tiles_keep_growing(
    running_vault: RunningVault,
) -> None:
    """The patient's copy of a dossier of 2,000 documents once wrote an entry naming
    them all (78 KB: beyond what a bundle frames, and tiling stopped for good). It now
    records their count and digest (ADR 0045): a small entry, tiled like any other."""
    signer = checkpointer(running_vault)
    with running_vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS).dossier_id
        with ThreadPoolExecutor(8) as pool:
            stored = list(
                pool.map(lambda i: patient.put_document(dossier, NOTE, b"%d" % i), range(2000))
            )
        copy = io.BytesIO()
        patient.export_dossier(dossier, copy)
    with running_vault.client(auditor(running_vault)) as client:
        lines = list(client.export_journal())
    copies = [json.loads(line)["entry"] for line in lines if b'"dossier.export"' in line]
    assert len(copies) == 1
    entry = json.dumps(copies[0], separators=(",", ":"))
    assert len(entry) < 1024
    with zipfile.ZipFile(copy) as zipped:
        metadata = json.loads(zipped.read("IHE_XDM/SUBSET01/METADATA.JSON"))
    versions = [(d["document_id"], d["version"]) for d in metadata["documents"]]
    assert len(versions) == len(stored) == 2000
    count, digest = document_set(versions)  # what an auditor holding the copy recomputes
    assert (copies[0]["documents_count"], copies[0]["documents_sha256"]) == (count, digest)
    note = signer.checkpoint()
    assert note is not None
    size = open_note(note, signer.verifier_key).size
    assert size >= copies[0]["seq"]
    published = running_vault.config.checkpoint_dir
    assert (published / "checkpoint").read_text() == note  # tiled past the copy's entry
