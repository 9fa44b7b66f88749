"""`dossier-vault journal verify DIR`: a mirrored tiles directory verified as an auditor runs
it, with an exit code per kind of tampering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.journal.test_tiles_verify import ENTRIES, publish
from tests.journal.test_verify import KEY
from tests.witness.fixtures import WITNESS_KEY
from vault.cli.exitcodes import PROOF_EXIT_CODES, TILE_EXIT_CODES, VERIFY_EXIT_CODES
from vault.journal.proofs import ProofFailureKind
from vault.journal.tiles import WIDTH, TileFailureKind


def verify(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", "journal", "verify", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])},
    )


@pytest.fixture
def tiles(tmp_path: Path) -> Path:
    directory = tmp_path / "mirror"
    publish(directory, ENTRIES, (3, WIDTH + 44))
    return directory


def test_a_tiles_directory_verifies_with_the_key_alone(tiles: Path) -> None:
    result = verify(str(tiles), "--key", KEY.encode(), "--expect-complete")
    assert result.returncode == 0, result.stderr
    assert "journal verified: 300 entries" in result.stdout
    assert "checkpoints matched: 2" in result.stdout
    assert "match the entries and the signed root" in result.stdout


def test_an_explicit_older_checkpoint_is_verified_from_the_same_tiles(tiles: Path) -> None:
    older = tiles / f"checkpoint-{3:020d}.txt"
    result = verify(str(tiles), "--key", KEY.encode(), "--checkpoint", str(older), "--json")
    assert result.returncode == 0, result.stderr
    assert (json.loads(result.stdout)["last_seq"], json.loads(result.stdout)["ok"]) == (3, True)


@pytest.mark.parametrize(
    ("spoil", "kind"),
    [
        ("tile/0/000", TileFailureKind.TAMPERED_TILE),
        ("tile/entries/000", TileFailureKind.TAMPERED_BUNDLE),
        ("tile/entries/001.p/44", TileFailureKind.MISSING_TILE),
    ],
)
def test_each_kind_of_tampering_exits_with_its_code(
    tiles: Path, spoil: str, kind: TileFailureKind
) -> None:
    target = tiles / spoil
    if kind is TileFailureKind.MISSING_TILE:
        target.unlink()
    else:
        data = bytearray(target.read_bytes())
        data[100] ^= 1
        target.write_bytes(bytes(data))
    result = verify(str(tiles), "--key", KEY.encode(), "--json")
    assert result.returncode == TILE_EXIT_CODES[kind]
    assert json.loads(result.stdout)["kind"] == kind.value


def test_tiles_without_the_verifier_key_are_a_usage_error(tiles: Path) -> None:
    result = verify(str(tiles))
    assert result.returncode == 3
    assert "verifier key" in result.stderr


def test_tile_exit_codes_are_distinct_documented_and_share_no_root_with_proofs() -> None:
    tile_codes = set(TILE_EXIT_CODES.values()) - {33}
    assert len(tile_codes) == len(TILE_EXIT_CODES) - 1
    assert not tile_codes & set(VERIFY_EXIT_CODES.values())
    assert not tile_codes & set(PROOF_EXIT_CODES.values())
    assert TILE_EXIT_CODES[TileFailureKind.NO_ROOT] == PROOF_EXIT_CODES[ProofFailureKind.NO_ROOT]
    help_text = verify("--help").stdout
    for kind, code in TILE_EXIT_CODES.items():
        assert f"{code:<3} {kind.value} (tiles)" in help_text


def cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", "journal", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])},
    )


@pytest.mark.parametrize(
    "claim", [("--seq", "1"), ("--seq", "300"), ("--seq", "2", "--size", "3"), ("--old-size", "3")]
)
def test_proofs_made_from_the_tiles_alone_verify_with_the_key(
    tiles: Path, tmp_path: Path, claim: tuple[str, ...]
) -> None:
    proof = tmp_path / "proof.json"
    made = cli("prove", "--tiles", str(tiles), *claim, "-o", str(proof))
    assert made.returncode == 0, made.stderr
    checked = cli("verify-proof", str(proof), "--key", KEY.encode(), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_proof_made_from_a_tampered_tile_does_not_verify(tiles: Path, tmp_path: Path) -> None:
    tile = tiles / "tile/0/000"
    data = bytearray(tile.read_bytes())
    data[32:64] = bytes(32)  # entry 2's leaf hash: entry 1's proof needs it
    tile.write_bytes(bytes(data))
    proof = tmp_path / "proof.json"
    assert cli("prove", "--tiles", str(tiles), "--seq", "1", "-o", str(proof)).returncode == 0
    checked = cli("verify-proof", str(proof), "--key", KEY.encode())
    assert checked.returncode == PROOF_EXIT_CODES[ProofFailureKind.BAD_PROOF]


def test_a_proof_of_an_entry_beyond_the_checkpoint_is_a_usage_error(tiles: Path) -> None:
    made = cli("prove", "--tiles", str(tiles), "--seq", "301", "-o", "/dev/null")
    assert made.returncode == 3
    assert "not in the checkpoint" in made.stderr


def test_checkpoint_with_an_export_file_is_a_usage_error(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    export.write_bytes(b"")
    result = verify(str(export), "--checkpoint", str(export))
    assert result.returncode == 3
    assert "--checkpoints DIR" in result.stderr


def test_tiles_whose_checkpoint_no_witness_cosigned_are_refused_when_a_quorum_is_asked(
    tiles: Path,
) -> None:
    result = verify(str(tiles), "--key", KEY.encode(), "--witness-key", WITNESS_KEY.encode())
    assert result.returncode == 34, result.stderr
    assert "witness-quorum" in result.stderr
