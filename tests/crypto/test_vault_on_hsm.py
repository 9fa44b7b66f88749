"""The whole service with its master key, index key and checkpoint key in an HSM (SoftHSM2)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_grpc import REPORT
from vault.auth import load_or_create_dev_issuer
from vault.config import Config
from vault.crypto.pkcs11.provider import Pkcs11KeyProvider
from vault.crypto.pkcs11.settings import Pkcs11Settings
from vault.journal.checkpoint import VerifierKey, open_note
from vault.server.app import BackgroundServer


def test_documents_and_checkpoints_round_trip_with_keys_in_the_hsm(
    hsm_provider: Pkcs11KeyProvider, hsm_settings: Pkcs11Settings, tmp_path: Path
) -> None:
    config = Config(
        listen="127.0.0.1:0", data_dir=tmp_path / "data", pkcs11=hsm_settings, workers=2
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        vault = RunningVault(server, issuer)
        with vault.client() as client:
            dossier = client.create_dossier(PATIENT_INS)
            stored = client.put_document(dossier.dossier_id, REPORT, b"x" * 3000)
            assert (
                b"".join(client.get_document(dossier.dossier_id, stored.document_id)) == b"x" * 3000
            )
    finally:
        server.stop()  # signs a last checkpoint, in the token
    assert not (config.data_dir / "master-keys.json").exists()  # no key file was needed
    (published,) = (config.data_dir / "checkpoints").glob("checkpoint-*.txt")
    key = VerifierKey(config.journal_origin, hsm_provider.checkpoint_signer().public_key)
    assert open_note(published.read_text(), key).size == 3
