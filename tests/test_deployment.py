"""The deployment files stay consistent with the code (there is no Docker engine here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vault.config import Config

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_starts_the_vault_after_its_database_and_its_bucket() -> None:
    services = COMPOSE["services"]
    assert set(services) >= {"postgres", "minio", "minio-init", "vault"}
    depends = services["vault"]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["minio-init"]["condition"] == "service_completed_successfully"
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert all("healthcheck" in services[name] for name in ("postgres", "minio", "vault"))


def test_the_migration_job_upgrades_the_vaults_databases_before_it_starts() -> None:
    services = COMPOSE["services"]
    migrate, vault = services["vault-migrate"], services["vault"]
    assert migrate["command"] == ["dossier-vault", "db", "upgrade"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert vault["depends_on"]["vault-migrate"]["condition"] == "service_completed_successfully"
    assert migrate["image"] == vault["image"]
    migrating = Config.from_env(migrate["environment"])
    serving = Config.from_env(vault["environment"])
    assert (migrating.index_url, migrating.journal_url) == (serving.index_url, serving.journal_url)


def test_the_init_job_creates_the_vaults_bucket_with_versioning() -> None:
    services = COMPOSE["services"]
    script = " ".join(services["minio-init"]["command"])
    bucket = services["vault"]["environment"]["VAULT_S3_BUCKET"]
    assert f"mc mb --ignore-existing vault/{bucket}" in script
    assert f"mc version enable vault/{bucket}" in script
    minio = services["minio"]["environment"]
    vault = services["vault"]["environment"]
    assert vault["VAULT_S3_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert vault["VAULT_S3_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]


def test_compose_environment_is_one_the_vault_accepts() -> None:
    postgres = COMPOSE["services"]["postgres"]["environment"]
    environment = COMPOSE["services"]["vault"]["environment"]
    config = Config.from_env(environment)
    assert config.listen == "0.0.0.0:50051"
    assert config.s3 is not None
    assert config.s3.endpoint_url == "http://minio:9000"
    assert config.s3.path_style
    assert config.index_url.startswith("postgresql+psycopg://")
    user, database = postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]
    assert config.index_url.endswith(
        f"{user}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{database}"
    )


def test_every_named_volume_is_declared() -> None:
    declared = set(COMPOSE["volumes"])
    for service in COMPOSE["services"].values():
        for volume in service.get("volumes", []):
            name = volume.split(":")[0]
            assert name.startswith((".", "/")) or name in declared


def test_the_image_installs_with_the_pinned_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-c constraints.txt" in dockerfile
    assert 'CMD ["dossier-vault", "serve"]' in dockerfile
