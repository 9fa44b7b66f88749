"""SoftHSM2 fixtures: one token for the whole test session, fresh key labels per test.

The PKCS#11 module reads SOFTHSM2_CONF once, at C_Initialize, and python-pkcs11 loads a
module once per process: so `softhsm` (session scope) creates the token with
tools/softhsm_setup.sh and sets SOFTHSM2_CONF before anything loads the module, and every
test of the session shares that one configuration. Tests stay independent by giving each
its own key label prefix (`hsm_settings`) instead of its own token.

Without SoftHSM2 the tests are skipped on a developer's machine but fail in CI (`CI` set):
CI must never pass without the HSM.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest
from pkcs11.types import Session

from vault.crypto.pkcs11.admin import provision
from vault.crypto.pkcs11.provider import Pkcs11KeyProvider
from vault.crypto.pkcs11.settings import Pkcs11Settings

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SETUP_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "softhsm_setup.sh"
TOKEN_LABEL = "dossier-vault-test"
SO_PIN = "1234"  # test token only
USER_PIN = "5678"  # test token only


@dataclass(frozen=True)
class SoftHsm:
    """The session's SoftHSM2 token."""

    module: str
    conf: Path
    token_label: str
    user_pin: str

    def settings(self, prefix: str | None = None, pin: str | None = None) -> Pkcs11Settings:
        return Pkcs11Settings(
            module=self.module,
            token_label=self.token_label,
            pin=self.user_pin if pin is None else pin,
            key_label_prefix=prefix or fresh_prefix(),
        )

    def token(self) -> pkcs11.Token:
        # The real path, as the provider loads it: a second path would load the module twice.
        return pkcs11.lib(os.path.realpath(self.module)).get_token(token_label=self.token_label)


def fresh_prefix() -> str:
    """A key label prefix no other test uses: a fresh, empty key set in the shared token."""
    return f"t{uuid.uuid4().hex[:16]}"


def _softhsm_problem() -> str | None:
    if not Path(SOFTHSM_MODULE).exists():
        return f"{SOFTHSM_MODULE} is missing (install the softhsm2 package)"
    if shutil.which("softhsm2-util") is None:
        return "softhsm2-util is missing (install the softhsm2 package)"
    return None


def _require_softhsm() -> None:
    problem = _softhsm_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(problem + ": SoftHSM2 is required in CI")
    pytest.skip(problem)


def _run_setup_script(directory: Path) -> Path:
    env = {
        **os.environ,
        "VAULT_PKCS11_TOKEN_LABEL": TOKEN_LABEL,
        "VAULT_SOFTHSM_SO_PIN": SO_PIN,
        "VAULT_PKCS11_PIN": USER_PIN,
    }
    done = subprocess.run(
        ["bash", str(SETUP_SCRIPT), str(directory)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    conf = directory / "softhsm2.conf"
    assert done.stdout.strip() == f"export SOFTHSM2_CONF={conf}"
    return conf


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    _require_softhsm()
    if os.path.realpath(SOFTHSM_MODULE) in pkcs11._loaded:
        pytest.fail("SoftHSM2 was loaded before the softhsm fixture could set SOFTHSM2_CONF")
    conf = _run_setup_script(tmp_path_factory.mktemp("softhsm"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        yield SoftHsm(SOFTHSM_MODULE, conf, TOKEN_LABEL, USER_PIN)


@pytest.fixture
def hsm_settings(softhsm: SoftHsm) -> Pkcs11Settings:
    """Settings on a prefix of their own, provisioned: index key and master key v1."""
    settings = softhsm.settings()
    provision(settings)
    return settings


@pytest.fixture
def hsm_provider(hsm_settings: Pkcs11Settings) -> Iterator[Pkcs11KeyProvider]:
    with Pkcs11KeyProvider(hsm_settings) as provider:
        yield provider


@pytest.fixture
def token_session(softhsm: SoftHsm, hsm_provider: Pkcs11KeyProvider) -> Iterator[Session]:
    """A read/write session riding on the provider's login, to inspect or plant objects."""
    session = softhsm.token().open(rw=True)
    try:
        yield session
    finally:
        session.close()
