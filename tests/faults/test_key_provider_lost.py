"""Drill: the key provider goes away mid-traffic (the HSM's token disappears).

The vault keeps its master, index and checkpoint keys in a SoftHSM2 token of this
drill's own (tools/softhsm_setup.sh, `dossier-vault keys provision`). While writers put
and read documents (each call unwraps its dossier key in the token), the token's
directory is moved away, as a token unplugged or an HSM partition lost: calls then fail
UNAVAILABLE, not INTERNAL, not DATA_LOSS (the data is intact: the keys are missing, not
wrong), not a hang; moved back, the vault reopens its session by itself and serves
again, with no restart. Then the audit, the verifier key read from the token.

SoftHSM2 is loaded only by the subprocesses (the server, the CLI): the test process
never loads it, so the crypto tests' session token is not disturbed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.faults.harness import (
    OK,
    UNAVAILABLE,
    Ledger,
    Traffic,
    Vault,
    audit,
    get,
    put,
    require,
    vault_env,
)

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SETUP = Path(__file__).resolve().parents[2] / "tools" / "softhsm_setup.sh"
LABEL = "vault-drill"


def _token(directory: Path) -> dict[str, str]:
    """A fresh SoftHSM2 token in `directory`; the environment that points at it."""
    require(None if Path(MODULE).exists() else f"{MODULE} is missing (softhsm2)")
    require(None if shutil.which("softhsm2-util") else "softhsm2-util is missing (softhsm2)")
    pins = {"VAULT_PKCS11_TOKEN_LABEL": LABEL, "VAULT_SOFTHSM_SO_PIN": "1234"}
    env = {**pins, "VAULT_PKCS11_PIN": "5678", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["bash", str(SETUP), str(directory)], env=env, capture_output=True, text=True, check=True
    )
    return {
        "SOFTHSM2_CONF": done.stdout.strip().removeprefix("export SOFTHSM2_CONF="),
        "VAULT_PKCS11_MODULE": MODULE,
        "VAULT_PKCS11_TOKEN_LABEL": LABEL,
        "VAULT_PKCS11_PIN": "5678",
    }


def test_the_hsm_token_lost_mid_traffic_fails_unavailable_then_serves_again(
    postgres_url: str, tmp_path: Path
) -> None:
    hsm = tmp_path / "hsm"
    env = vault_env(tmp_path / "var", postgres_url, **_token(hsm))
    vault = Vault(env, tmp_path / "server.log")
    vault.cli("keys", "provision")
    key = vault.cli("journal", "public-key").strip()  # signed in the token
    vault.start()
    ledger = Ledger()
    try:
        token = vault.token()
        channel, stub = vault.stub()
        with channel, Traffic(vault, ledger) as traffic:
            traffic.wait_until(lambda: ledger.count(OK) >= 8, "writes before the loss")
            (dossier, document, version), _ = next(iter(ledger.acknowledged.items()))

            (hsm / "tokens").rename(hsm / "unplugged")
            lost = ledger.mark()
            traffic.wait_until(lambda: ledger.count(UNAVAILABLE, lost) >= 4, "calls refused")
            assert put(stub, token, dossier, b"while the token is away")[0] is UNAVAILABLE
            assert get(stub, token, dossier, document, version)[0] is UNAVAILABLE

            (hsm / "unplugged").rename(hsm / "tokens")
            back = ledger.mark()
            traffic.wait_until(lambda: ledger.count(OK, back) >= 8, "writes after the return")
        tally = ledger.tally()
        assert set(tally) <= {"OK", "UNAVAILABLE"}, tally
        assert "Traceback" not in vault.log.read_text()  # a dependency down is no bug
        audit(vault, ledger, tmp_path, key)
    finally:
        vault.stop()
