"""`dossier-vault-retention` as operators run it, in its own process: plan, run with a
SIGKILL half-way and a rerun, certificates that `journal verify` accepts, one run at a
time, and bad input with its exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from retention.lock import single_run
from tests.retention.conftest import RetentionVault
from tests.retention.test_destroyer import _check_destroyed
from vault.cli.exitcodes import EXIT_NOT_CONFIRMED
from vault.composition import open_retention
from vault.domain.model import ActorKind
from vault.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError

RETENTION = [sys.executable, "-m", "vault.cli.retention"]
DOSSIER_VAULT = [sys.executable, "-m", "vault.cli"]


def environment(retention_vault: RetentionVault) -> dict[str, str]:
    config = retention_vault.config
    assert config.s3 is not None
    s3 = config.s3
    return {
        **os.environ,
        "VAULT_DATA_DIR": str(config.data_dir),
        "VAULT_DATABASE_URL": config.database_url,
        "VAULT_S3_BUCKET": s3.bucket,
        "VAULT_S3_ENDPOINT_URL": s3.endpoint_url or "",
        "VAULT_S3_REGION": s3.region or "",
        "VAULT_S3_ACCESS_KEY_ID": s3.access_key_id or "",
        "VAULT_S3_SECRET_ACCESS_KEY": s3.secret_access_key or "",
        "VAULT_S3_PATH_STYLE": "true",
        "VAULT_TARGET": retention_vault.vault.server.target,
    }


def retention(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RETENTION, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_plan_run_killed_and_rerun_then_every_certificate_verifies(
    retention_vault: RetentionVault, tmp_path: Path
) -> None:
    env = environment(retention_vault)
    due = [retention_vault.closed_dossier(n, documents=3) for n in range(10, 22)]
    for dossier in due:
        retention_vault.ten_years_pass(dossier)
    planned = json.loads(retention(env, "plan", "--json").stdout)
    assert planned["dossiers"] == len(due)
    assert planned["bytes"] > 0
    assert retention(env, "run").returncode == EXIT_NOT_CONFIRMED  # no terminal, no --yes

    killed = subprocess.Popen([*RETENTION, "run", "--yes"], env=env, stdout=subprocess.DEVNULL)
    with open_retention(retention_vault.config) as adapters:
        deadline = time.monotonic() + 60
        while not adapters.index.destructions(0, 2**62) and time.monotonic() < deadline:
            if adapters.index.unfinished_destructions():
                break
            time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)

    rerun = retention(env, "run", "--yes", "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert retention(env, "plan", "--json").stdout.count('"dossiers": 0') == 1
    for dossier in due:
        _check_destroyed(retention_vault, dossier)
    for dossier in (due[0], due[-1]):  # the command itself (a process each: two suffice)
        assert retention(env, "verify-destroyed", str(dossier)).returncode == 0

    certificates = tmp_path / "certificates"
    report = json.loads(
        retention(env, "report", "--json", "--certificates", str(certificates)).stdout
    )
    assert len(report) == len(due)
    export, key = tmp_path / "journal.jsonl", tmp_path / "journal.vkey"
    auditor = _token(env, "auditor", "audit-1")
    exported = _vault(auditor, "journal", "export", "-o", str(export))
    assert exported.returncode == 0, exported.stderr
    key.write_text(_vault(env, "journal", "public-key").stdout)
    files = sorted(str(p) for p in certificates.glob("destruction-*.txt"))
    flags = [arg for path in files for arg in ("--certificate", path)]
    verified = _vault(env, "journal", "verify", str(export), "--key-file", str(key), *flags)
    assert verified.returncode == 0, verified.stderr + verified.stdout
    forged = tmp_path / "forged.txt"
    forged.write_text(Path(files[0]).read_text().replace("reason deadline", "reason other"))
    refused = _vault(
        env, "journal", "verify", str(export), "--key-file", str(key), "--certificate", str(forged)
    )
    assert refused.returncode == 30


def _token(env: dict[str, str], kind: str, subject: str) -> dict[str, str]:
    minted = _vault(env, "dev-token", "--kind", kind, "--subject", subject)
    assert minted.returncode == 0, minted.stderr
    return {**env, "VAULT_TOKEN": minted.stdout.strip()}


def _vault(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DOSSIER_VAULT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_second_run_refuses_while_one_is_running(retention_vault: RetentionVault) -> None:
    env = environment(retention_vault)
    with open_retention(retention_vault.config) as adapters, single_run(adapters.index.engine):
        second = retention(env, "run", "--yes")
    assert second.returncode == FailedPreconditionError.exit_code
    assert "another retention run" in second.stderr


def test_holds_from_the_cli_are_journaled_and_a_missing_one_is_not_found(
    retention_vault: RetentionVault,
) -> None:
    env = environment(retention_vault)
    dossier = retention_vault.closed_dossier(30)
    placed = retention(env, "hold", "--dossier", str(dossier), "--reason", "RG 26/1", "--json")
    assert placed.returncode == 0, placed.stderr
    hold = json.loads(placed.stdout)["hold_id"]
    missing = retention(
        env, "release", "--dossier", str(dossier), "--hold", str(hold + 7), "--reason", "x"
    )
    assert missing.returncode == NotFoundError.exit_code
    released = retention(
        env, "release", "--dossier", str(dossier), "--hold", str(hold), "--reason", "lifted"
    )
    assert released.returncode == 0, released.stderr
    with retention_vault.vault.client(retention_vault.vault.token(ActorKind.AUDITOR, "a")) as a:
        records, _ = a.query_journal(dossier_id=dossier)
    actions = [(e.action, e.actor_kind) for _, e in records]
    assert ("dossier.hold", "operator") in actions
    assert ("dossier.release", "operator") in actions


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["verify-destroyed", str(uuid.UUID(int=7))], NotFoundError.exit_code),
        (["verify-destroyed", "not-an-id"], InvalidArgumentError.exit_code),
        (["plan", "--by", "2001-01-01"], InvalidArgumentError.exit_code),
        (["plan", "--by", "tomorrow"], InvalidArgumentError.exit_code),
        (["hold", "--dossier", str(uuid.UUID(int=7)), "--reason", "x"], NotFoundError.exit_code),
    ],
    ids=["unknown-dossier", "malformed-id", "by-in-the-past", "by-not-a-date", "hold-unknown"],
)
def test_bad_input_gets_its_exit_code(
    retention_vault: RetentionVault, args: list[str], code: int
) -> None:
    result = retention(environment(retention_vault), *args)
    assert result.returncode == code, result.stderr


def test_a_run_leaves_its_counts_for_a_textfile_collector_and_no_identifier(
    retention_vault: RetentionVault, tmp_path: Path
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    env = environment(retention_vault)
    due = [retention_vault.closed_dossier(n, documents=2) for n in range(40, 43)]
    for dossier in due:
        retention_vault.ten_years_pass(dossier)
    metrics = tmp_path / "vault_retention.prom"
    done = retention(env, "run", "--yes", "--json", "--metrics-file", str(metrics))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    text = metrics.read_text()
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert values["vault_retention_last_run_destroyed_dossiers"] == len(due) == report["dossiers"]
    assert values["vault_retention_last_run_destroyed_bytes"] == report["bytes"] > 0
    assert values["vault_retention_last_run_end_timestamp_seconds"] > time.time() - 600
    assert all(str(dossier) not in text and dossier.hex not in text for dossier in due)
    assert metrics.stat().st_mode & 0o777 == 0o644  # the collector's own user reads it
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
