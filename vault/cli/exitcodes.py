"""The command lines' one exit-code table, and the `exit codes:` epilogs built from it.

    0        success
    1..12,15..17 a `VaultError`, by class (`exit_code` in vault/errors.py)
    2        usage error (argparse)
    13, 14   retention: a run not confirmed; verify-destroyed found something left
    20..31   journal verify: one code per failure kind (29: no checkpoint matched)
    20..33   journal verify-proof: the same codes where they mean the same, 32 (the proof
             does not prove its claim) and 33 (a v1 checkpoint: no Merkle root)
    34       journal verify, verify-proof: with --witness-key, the checkpoint relied on
             lacks the witnesses' quorum of cosignatures (ADR 0044)
    36..38   journal verify of a tiles directory: the codes above, 33, and 36 (a tampered
             tile), 37 (a tampered entry bundle), 38 (a missing tile or bundle)
    40       scrub: damage found
    130      interrupted (Ctrl-C); nothing partial is left behind

Every command shares it; `--help` lists the codes a command can return. What it does
not: map a code to a gRPC status (the server's edge reads `VaultError.grpc_status`).
"""

from __future__ import annotations

from vault.errors import VaultError, error_classes
from vault.journal.proofs import ProofFailureKind
from vault.journal.tiles import TileFailureKind
from vault.journal.verify import FailureKind

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_CODES: dict[type[VaultError], int] = {kind: kind.exit_code for kind in error_classes()}

EXIT_NOT_CONFIRMED = 13
EXIT_REMAINS = 14

VERIFY_EXIT_CODES: dict[FailureKind, int] = {
    FailureKind.MALFORMED: 20,
    FailureKind.GAP: 21,
    FailureKind.REORDERING: 22,
    FailureKind.EDITED_ENTRY: 23,
    FailureKind.BROKEN_LINK: 24,
    FailureKind.TIME_BACKWARDS: 25,
    FailureKind.BAD_SIGNATURE: 26,
    FailureKind.REWRITTEN_HISTORY: 27,
    FailureKind.TAIL_CUT: 28,
    FailureKind.CERTIFICATE: 30,
    FailureKind.NON_CANONICAL: 31,
}
EXIT_NO_CHECKPOINT = 29
EXIT_NO_QUORUM = 34  # with --witness-key: too few valid witness cosignatures
PROOF_EXIT_CODES: dict[ProofFailureKind, int] = {
    ProofFailureKind.MALFORMED: 20,
    ProofFailureKind.BAD_SIGNATURE: 26,
    ProofFailureKind.NON_CANONICAL: 31,
    ProofFailureKind.BAD_PROOF: 32,
    ProofFailureKind.NO_ROOT: 33,
}
TILE_EXIT_CODES: dict[TileFailureKind, int] = {
    TileFailureKind.NO_ROOT: 33,
    TileFailureKind.TAMPERED_TILE: 36,
    TileFailureKind.TAMPERED_BUNDLE: 37,
    TileFailureKind.MISSING_TILE: 38,
}
EXIT_DAMAGED = 40  # scrub: a committed blob is missing or fails its tags


def epilog(success: str, codes: list[tuple[int, str]]) -> str:
    """`exit codes:`, success and usage first, then `codes` as given."""
    lines = ["exit codes:", f"  0   {success}", f"  {EXIT_USAGE}   usage error"]
    lines += [f"  {code:<3} {meaning}" for code, meaning in codes]
    lines.append(f"  {EXIT_INTERRUPTED} interrupted (Ctrl-C)")
    return "\n".join(lines)


def error_codes() -> list[tuple[int, str]]:
    """Each code once, in order, with the `VaultError` classes that return it (a
    subclass sharing its parent's code, OutOfRangeError, is named on the same line)."""
    names: dict[int, list[str]] = {}
    for kind, code in sorted(EXIT_CODES.items(), key=lambda item: item[1]):
        names.setdefault(code, []).append(kind.__name__)
    return [(code, ", ".join(kinds)) for code, kinds in names.items()]


def retention_codes(confirmation: str) -> list[tuple[int, str]]:
    """What the retention commands return besides the errors' codes."""
    return [
        (EXIT_NOT_CONFIRMED, f"run not confirmed (answer '{confirmation}' or --yes)"),
        (EXIT_REMAINS, "verify-destroyed found something left"),
    ]


def verify_codes() -> list[tuple[int, str]]:
    """What `journal verify` returns: a code per failure kind."""
    codes = [(code, kind.value) for kind, code in VERIFY_EXIT_CODES.items()]
    return [
        *codes,
        (EXIT_NO_CHECKPOINT, "no checkpoint matched (with --require-checkpoint)"),
        (EXIT_NO_QUORUM, "witness-quorum: too few witness cosignatures (with --witness-key)"),
    ]


def tile_codes() -> list[tuple[int, str]]:
    """What `journal verify` of a tiles directory returns besides `verify_codes`."""
    return [(code, f"{kind.value} (tiles)") for kind, code in TILE_EXIT_CODES.items()]


def proof_codes() -> list[tuple[int, str]]:
    """What `journal verify-proof` returns: a code per failure kind."""
    codes = [(code, kind.value) for kind, code in PROOF_EXIT_CODES.items()]
    return [*codes, (EXIT_NO_QUORUM, "witness-quorum: too few witness cosignatures")]
