"""Through the real gRPC server: with its only witness down, the vault goes on appending
(dossiers are created) and publishes nothing; once the witness is up, the next round
publishes a checkpoint carrying its cosignature."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.cli.test_journal_tiles import verify
from tests.conftest import PATIENT_INS, free_port
from tests.witness.fixtures import WITNESS_KEY, WITNESS_NAME, WITNESS_SIGNER
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.composition import key_provider
from vault.config import Config
from vault.domain.model import ActorKind
from vault.journal.checkpoint import VerifierKey, open_note
from vault.server.app import BackgroundServer
from vault.witness.cosignature import require_quorum
from vault.witness.server import WitnessServer
from vault.witness.settings import Witnessing
from vault.witness.state import StateFile
from vault.witness.witness import Witness


def published(config: Config) -> list[str]:
    return [p.read_text() for p in sorted(config.checkpoint_dir.glob("checkpoint-*.txt"))]


def test_served_vault_appends_while_its_witness_is_down_and_publishes_cosigned_after(
    db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    config = Config(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        database_url=db_url,
        workers=4,
        checkpoint_every=1,
        witness=Witnessing((f"http://127.0.0.1:{port}",), (WITNESS_KEY,), 1, 2.0),
    )
    log_key = VerifierKey(
        config.journal_origin, key_provider(config).checkpoint_signer().public_key
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        token = mint_token(issuer, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=600)
        client = VaultClient(server.target, token)
        client.create_dossier(PATIENT_INS)  # appended and answered, the witness down
        assert published(config) == []
        witness = Witness(WITNESS_NAME, WITNESS_SIGNER, [log_key], StateFile(tmp_path / "w.json"))
        with WitnessServer(("127.0.0.1", port), witness) as up:
            threading.Thread(target=up.serve_forever, daemon=True).start()
            deadline = time.monotonic() + 60
            while not published(config):
                assert time.monotonic() < deadline, "no cosigned checkpoint was published"
                time.sleep(0.2)
            up.shutdown()
        client.close()
    finally:
        server.stop()
    note = published(config)[-1]
    assert open_note(note, log_key).size >= 1
    assert require_quorum(note, [WITNESS_KEY], 1) == 1
    tiles = str(config.checkpoint_dir)  # its `checkpoint` is the cosigned note too
    cosigned = verify(tiles, "--key", log_key.encode(), "--witness-key", WITNESS_KEY.encode())
    assert cosigned.returncode == 0, cosigned.stderr
