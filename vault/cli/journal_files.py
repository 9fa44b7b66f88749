"""The files the journal commands read and write: verifier keys, small texts, proof files.

A file the auditor names that cannot be read, or is not UTF-8 where text is expected, is
a usage error (InvalidArgumentError), never a traceback. Proof files are written to
`NAME.partial` and renamed when complete, like exports.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vault.errors import InvalidArgumentError
from vault.journal.checkpoint import VerifierKey
from vault.journal.proofs import MAX_PROOF_FILE


def read_text(path: Path, what: str) -> str:
    """A small text file the auditor named; unreadable or not UTF-8 is a usage error."""
    try:
        return path.read_bytes().decode()
    except UnicodeDecodeError:
        raise InvalidArgumentError(f"{what} {path} is not UTF-8 text") from None
    except OSError as e:
        raise InvalidArgumentError(f"cannot read {what} {path}: {e.strerror}") from None


def add_key_flags(parser: argparse.ArgumentParser) -> None:
    """`--key` or `--key-file`: the checkpoint verifier key, for the offline verifiers."""
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--key", help="checkpoint verifier key (name+id+base64)")
    keys.add_argument("--key-file", help="file holding the verifier key")


def verifier_key(args: argparse.Namespace) -> VerifierKey | None:
    """`--key` or `--key-file`, if either was given."""
    text = args.key or (read_text(Path(args.key_file), "key file") if args.key_file else "")
    return VerifierKey.parse(text) if text else None


def read_proof_file(name: str) -> bytes:
    """A proof file's bytes (`-`: standard input), at most one byte past the limit (the
    verifier refuses a larger one)."""
    if name == "-":
        return sys.stdin.buffer.read(MAX_PROOF_FILE + 1)
    try:
        with Path(name).open("rb") as source:
            return source.read(MAX_PROOF_FILE + 1)
    except OSError as e:
        raise InvalidArgumentError(f"cannot read proof file {name}: {e.strerror}") from None


def write_atomically(destination: Path, data: bytes) -> None:
    partial = destination.with_name(destination.name + ".partial")
    try:
        partial.write_bytes(data)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
