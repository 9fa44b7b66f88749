"""TLS configuration: the VAULT_TLS_* variables, files that stop the server before it
opens anything, and the warning for a plaintext port reachable from the network."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.pki import TestCA
from vault.config import Config, TlsSettings
from vault.errors import ConfigurationError
from vault.server.app import BackgroundServer
from vault.server.tls_credentials import is_loopback, warn_if_exposed

KINDS = '[[client]]\ncn = "portal"\nkinds = ["patient"]\n'


def test_no_tls_variable_means_plaintext() -> None:
    assert Config.from_env({}).tls is None


def test_tls_variables_name_the_files() -> None:
    config = Config.from_env(
        {
            "VAULT_TLS_CERT": "/etc/vault/server.pem",
            "VAULT_TLS_KEY": "/etc/vault/server.key",
            "VAULT_TLS_CLIENT_CA": "/etc/vault/portals-ca.pem",
            "VAULT_TLS_CLIENT_KINDS": "/etc/vault/client-kinds.toml",
        }
    )
    assert config.tls == TlsSettings(
        Path("/etc/vault/server.pem"),
        Path("/etc/vault/server.key"),
        Path("/etc/vault/portals-ca.pem"),
        Path("/etc/vault/client-kinds.toml"),
    )
    assert config.tls.mutual


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"VAULT_TLS_CERT": "s.pem"}, "both VAULT_TLS_CERT and VAULT_TLS_KEY"),
        ({"VAULT_TLS_CLIENT_CA": "ca.pem", "VAULT_TLS_CLIENT_KINDS": "k.toml"}, "both"),
        (
            {"VAULT_TLS_CERT": "s.pem", "VAULT_TLS_KEY": "s.key", "VAULT_TLS_CLIENT_CA": "ca.pem"},
            "VAULT_TLS_CLIENT_KINDS together",
        ),
        (
            {"VAULT_TLS_CERT": "s.pem", "VAULT_TLS_KEY": "s.key", "VAULT_TLS_CLIENT_KINDS": "k"},
            "VAULT_TLS_CLIENT_KINDS together",
        ),
    ],
    ids=["cert-without-key", "client-ca-without-server-cert", "ca-without-kinds", "kinds-only"],
)
def test_partial_tls_configuration_never_falls_back_to_plaintext(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Config.from_env(environ)


def _start(tmp_path: Path, settings: TlsSettings) -> None:
    data_dir = tmp_path / "data"
    config = Config(listen="127.0.0.1:0", data_dir=data_dir, workers=2, tls=settings)
    try:
        BackgroundServer(config).start().stop()
    finally:
        assert not data_dir.exists()  # refused before creating anything


def test_missing_server_certificate_stops_the_server_at_startup(tmp_path: Path) -> None:
    ca = TestCA(tmp_path, "vault")
    server = ca.issue("server", server=True)
    with pytest.raises(ConfigurationError, match="cannot read the server certificate"):
        _start(tmp_path, TlsSettings(tmp_path / "absent.pem", server.key))


def test_server_key_of_another_certificate_stops_the_server_at_startup(tmp_path: Path) -> None:
    ca = TestCA(tmp_path, "vault")
    server, other = ca.issue("server", server=True), ca.issue("other", server=True)
    with pytest.raises(ConfigurationError, match="does not match"):
        _start(tmp_path, TlsSettings(server.cert, other.key))


def test_client_ca_that_is_not_pem_stops_the_server_at_startup(tmp_path: Path) -> None:
    ca = TestCA(tmp_path, "vault")
    server = ca.issue("server", server=True)
    kinds, garbage = tmp_path / "kinds.toml", tmp_path / "ca.pem"
    kinds.write_text(KINDS)
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    with pytest.raises(ConfigurationError, match="client CA bundle"):
        _start(tmp_path, TlsSettings(server.cert, server.key, garbage, kinds))


def test_bad_client_kinds_file_stops_the_server_at_startup(tmp_path: Path) -> None:
    ca = TestCA(tmp_path, "vault")
    server = ca.issue("server", server=True)
    kinds = tmp_path / "kinds.toml"
    kinds.write_text('[[client]]\ncn = "portal"\nkinds = ["superuser"]\n')
    with pytest.raises(ConfigurationError, match="kinds must be among"):
        _start(tmp_path, TlsSettings(server.cert, server.key, ca.bundle, kinds))


@pytest.mark.parametrize(
    ("listen", "loopback"),
    [
        ("127.0.0.1:50051", True),
        ("127.0.0.2:50051", True),
        ("localhost:50051", True),
        ("[::1]:50051", True),
        ("unix:/run/vault.sock", True),
        ("0.0.0.0:50051", False),
        ("[::]:50051", False),
        ("10.1.2.3:50051", False),
        ("vault.internal:50051", False),
    ],
)
def test_what_counts_as_loopback(listen: str, loopback: bool) -> None:
    assert is_loopback(listen) is loopback


def test_plaintext_off_loopback_is_a_loud_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="vault.server.tls_credentials"):
        warn_if_exposed("0.0.0.0:50051", None)
    assert "LISTENING WITHOUT TLS on 0.0.0.0:50051" in caplog.text


def test_tls_without_client_certificates_off_loopback_is_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="vault.server.tls_credentials"):
        warn_if_exposed("10.1.2.3:50051", TlsSettings(Path("s.pem"), Path("s.key")))
    assert "without client certificates" in caplog.text


def test_loopback_or_mutual_tls_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    mutual = TlsSettings(Path("s.pem"), Path("s.key"), Path("ca.pem"), Path("k.toml"))
    with caplog.at_level(logging.WARNING, logger="vault.server.tls_credentials"):
        warn_if_exposed("127.0.0.1:50051", None)
        warn_if_exposed("0.0.0.0:50051", mutual)
    assert caplog.text == ""
