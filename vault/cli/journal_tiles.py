"""`dossier-vault journal verify DIR`: a tiles directory (a mirror of the published
checkpoint directory) verified offline, with the checkpoint verifier key.

The checkpoint verified against is `--checkpoint FILE`, else `DIR/checkpoint`; the
published checkpoints checked along the way are those of `--checkpoints`, else the
`checkpoint-*.txt` files of DIR itself. Exit codes: the export verifier's, plus one per
tiles failure (vault/cli/exitcodes.py). `journal prove --tiles DIR` makes a proof file
(docs/format.md, "Journal proofs v1") from such a directory alone, no server, no token;
`journal verify-proof` checks it as any other. What it does not: fetch a remote log
(mirror it first, e.g. `wget -m`), or read the vault.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from vault.cli.exitcodes import EXIT_NO_CHECKPOINT, TILE_EXIT_CODES, VERIFY_EXIT_CODES
from vault.cli.journal_files import read_text
from vault.cli.journal_witness import note_quorum_code, witness_policy
from vault.cli.output import print_json
from vault.cli.progress import Progress
from vault.errors import IntegrityError, InvalidArgumentError
from vault.journal.checkpoint import VerifierKey, published_name
from vault.journal.proofs import consistency_document, inclusion_document
from vault.journal.tilefiles import CHECKPOINT, TileDirectory
from vault.journal.tiles import (
    ENTRIES,
    WIDTH,
    TileSource,
    TileVerificationError,
    decode_bundle,
)
from vault.journal.tiles_verify import verify_tiles
from vault.journal.verify import Anchor, Summary, VerificationError


def is_tiles(name: str) -> bool:
    return name != "-" and Path(name).is_dir()


def _published(directory: Path) -> list[str | tuple[str, str]]:
    files = sorted(directory.glob("checkpoint-*.txt"))
    return [(file.name, read_text(file, "checkpoint file")) for file in files]


def cmd_verify_tiles(
    args: argparse.Namespace,
    key: VerifierKey | None,
    anchors: Callable[[], dict[int, Anchor]],
    summary_text: Callable[[Summary], str],
) -> int:
    directory = Path(args.export)
    if key is None:
        raise InvalidArgumentError("verifying tiles needs the verifier key: --key or --key-file")
    witnesses = witness_policy(args)
    note_file = Path(args.checkpoint) if args.checkpoint else directory / CHECKPOINT
    note = read_text(note_file, "checkpoint")
    published = _published(Path(args.checkpoints) if args.checkpoints else directory)
    progress = Progress(None, enabled=not args.json)
    try:
        summary, checked = verify_tiles(
            TileDirectory(directory),
            key,
            note,
            published,
            lambda lines, done: progress(done, f"{lines:,} entries"),
            expect_complete=args.expect_complete,
            anchors=anchors(),
        )
    except (VerificationError, TileVerificationError) as failure:
        progress.close()
        where: dict[str, object]
        if isinstance(failure, VerificationError):
            code, where = VERIFY_EXIT_CODES[failure.kind], {"seq": failure.seq}
        else:
            code, where = TILE_EXIT_CODES[failure.kind], {"path": failure.path}
        if args.json:
            failed = {"kind": failure.kind.value, **where, "detail": failure.detail}
            print_json({"ok": False, **failed}, compact=True)
        else:
            print(f"journal verification FAILED: {failure}", file=sys.stderr)
        return code
    progress.close()
    if code := note_quorum_code(args, witnesses, note):  # after every other check
        return code
    if args.json:
        tiles = {"tiles": checked.tiles, "bundles": checked.bundles}
        print_json({"ok": True, **summary.__dict__, **tiles}, compact=True)
    else:
        print(summary_text(summary))
        print(
            f"tiles: {checked.tiles} tile files and {checked.bundles} entry bundles of size "
            f"{checked.size} match the entries and the signed root"
        )
    if args.require_checkpoint and not summary.checkpoints_matched:
        return EXIT_NO_CHECKPOINT
    return 0


def _note(directory: Path, size: int) -> tuple[str, int]:
    """The published note of `size` (0: `checkpoint`, the latest) and its size, as its
    body states it (the proof's verifier checks the signature)."""
    name = published_name(size) if size else CHECKPOINT
    note = read_text(directory / name, "checkpoint")
    try:
        return note, int(note.split("\n")[1])
    except (IndexError, ValueError):
        raise InvalidArgumentError(f"{directory / name} is not a checkpoint note") from None


def proof_from_tiles(directory: Path, seq: int | None, old_size: int | None, size: int) -> bytes:
    """An inclusion (`seq`) or consistency (`old_size`) proof file, read from tiles alone."""
    note, size = _note(directory, size)
    tiles = TileDirectory(directory)
    source = TileSource(size, tiles.fetch)
    try:
        if seq is not None:
            if not 1 <= seq <= size:
                raise InvalidArgumentError(f"entry {seq} is not in the checkpoint of {size}")
            index = (seq - 1) // WIDTH
            width = min(WIDTH, size - index * WIDTH)
            entry = decode_bundle(tiles.fetch(ENTRIES, index, width))[(seq - 1) % WIDTH]
            return inclusion_document(note, seq, entry, source.inclusion_proof(seq - 1))
        old_note, old = _note(directory, old_size or 0)
        if not 0 < old <= size:
            raise InvalidArgumentError("a consistency proof needs 0 < old size <= size")
        return consistency_document(old_note, note, source.consistency_proof(old))
    except (TileVerificationError, ValueError, IndexError, IntegrityError) as error:
        raise InvalidArgumentError(f"the tiles cannot give this proof: {error}") from None
