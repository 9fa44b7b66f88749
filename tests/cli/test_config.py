"""`dossier-vault config check`: the effective configuration with its sources, secrets
never printed, one line per dependency, and the exit code of what failed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from tests.blobstore.support import create_bucket
from tests.conftest import free_port, run
from vault.errors import ConfigurationError, UnavailableError

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

DB_PASSWORD = "pw-hunter2-never-shown"
S3_SECRET = "s3-secret-never-shown"


def _env(tmp_path: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    return {**env, "VAULT_DATA_DIR": str(tmp_path / "var"), **variables}


def _output(done: subprocess.CompletedProcess[bytes]) -> str:
    return done.stdout.decode() + done.stderr.decode()


def test_config_check_on_the_embedded_default_passes_and_prints_no_secret(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path, VAULT_S3_SECRET_ACCESS_KEY=S3_SECRET)  # no bucket: S3 stays off
    done = run(env, "config", "check")
    out = _output(done)
    assert done.returncode == 0, out
    for check in ("index database", "journal database", "blob store", "key provider"):
        assert f"ok    {check}:" in out
    assert "ok    checkpoint directory:" in out
    assert S3_SECRET not in out


def test_config_check_on_postgresql_and_s3_passes_and_prints_no_secret(
    tmp_path: Path, postgres_url: str, s3_endpoint: str, s3_admin: S3Client
) -> None:
    bucket = create_bucket(s3_admin)
    url = make_url(postgres_url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    key_file = tmp_path / "s3-key"
    key_file.write_text(S3_SECRET + "\n")
    key_file.chmod(0o600)
    config = tmp_path / "vault.toml"
    config.write_text(
        f'[s3]\nbucket = "{bucket}"\nendpoint_url = "{s3_endpoint}"\npath_style = true\n'
        f'secret_access_key_file = "{key_file}"\n'
    )
    env = _env(tmp_path, VAULT_DATABASE_URL=url, VAULT_S3_ACCESS_KEY_ID="AKIA-NOT-SHOWN")
    done = run(env, "--config", str(config), "config", "check")
    out = _output(done)
    assert done.returncode == 0, out
    assert f"ok    blob store: bucket {bucket}: probe object written and deleted" in out
    assert DB_PASSWORD not in out
    assert S3_SECRET not in out
    assert "AKIA-NOT-SHOWN" not in out
    assert ":***@" in out
    assert "<secret>  (file: VAULT_S3_SECRET_ACCESS_KEY)" in out
    assert "<secret>  (environment: VAULT_S3_ACCESS_KEY_ID)" in out
    assert s3_admin.list_objects_v2(Bucket=bucket).get("KeyCount") == 0  # the probe is gone


def test_config_check_shows_where_each_value_came_from(tmp_path: Path) -> None:
    config = tmp_path / "vault.toml"
    config.write_text("workers = 3\nblob_workers = 5\n")
    env = _env(tmp_path, VAULT_CONFIG_FILE=str(config), VAULT_WORKERS="7")
    done = run(env, "config", "check")
    out = done.stdout.decode()
    assert done.returncode == 0, _output(done)
    lines = {" ".join(line.split()) for line in out.splitlines()}  # whatever the padding
    assert "workers 7 (environment: VAULT_WORKERS)" in lines
    assert "blob_workers 5 (file: VAULT_BLOB_WORKERS)" in lines
    assert "blob_queue 512 (default: VAULT_BLOB_QUEUE)" in lines
    assert f"configuration file: {config}" in out


def test_config_check_with_the_database_unreachable_fails_with_the_unavailable_code(
    tmp_path: Path,
) -> None:
    closed = free_port()  # nothing listens there
    url = f"postgresql+psycopg://vault:{DB_PASSWORD}@127.0.0.1:{closed}/vault"
    done = run(_env(tmp_path, VAULT_DATABASE_URL=url), "config", "check")
    out = _output(done)
    assert done.returncode == UnavailableError.exit_code, out
    assert "FAIL  index database: database unavailable" in out
    assert "ok    blob store:" in out  # the other checks still run and say so
    assert DB_PASSWORD not in out


def test_config_check_with_a_bad_setting_fails_with_the_configuration_code_naming_it(
    tmp_path: Path,
) -> None:
    done = run(_env(tmp_path, VAULT_WORKERS="many-workers"), "config", "check")
    err = done.stderr.decode()
    assert done.returncode == ConfigurationError.exit_code, err
    assert "VAULT_WORKERS (file key workers) must be an integer" in err
    assert "many-workers" not in err


def test_config_check_refuses_a_secret_in_the_file_with_the_configuration_code(
    tmp_path: Path,
) -> None:
    config = tmp_path / "vault.toml"
    config.write_text(f'database_url = "postgresql://vault:{DB_PASSWORD}@db/vault"\n')
    done = run(_env(tmp_path), "--config", str(config), "config", "check")
    assert done.returncode == ConfigurationError.exit_code
    assert "database_url holds a password, refused in the file" in done.stderr.decode()
    assert DB_PASSWORD not in _output(done)


def test_config_check_with_a_checkpoint_directory_not_writable_fails(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    done = run(_env(tmp_path, VAULT_CHECKPOINT_DIR=str(blocked / "cp")), "config", "check")
    assert done.returncode == ConfigurationError.exit_code, _output(done)
    assert "FAIL  checkpoint directory:" in done.stdout.decode()


def test_config_check_json_gives_each_setting_and_check_without_a_secret(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.sqlite3'}"
    env = _env(tmp_path, VAULT_JOURNAL_DATABASE_URL=url, VAULT_S3_SECRET_ACCESS_KEY=S3_SECRET)
    done = run(env, "config", "check", "--json")
    assert done.returncode == 0, _output(done)
    shown = json.loads(done.stdout)
    settings = {row["setting"]: row for row in shown["settings"]}
    assert settings["VAULT_JOURNAL_DATABASE_URL"] == {
        "setting": "VAULT_JOURNAL_DATABASE_URL",
        "file_key": "journal_database_url",
        "value": url,
        "origin": "environment",
    }
    assert settings["VAULT_S3_*"]["origin"] == "off"
    assert [check["ok"] for check in shown["checks"]] == [True] * 5
    assert S3_SECRET not in _output(done)
