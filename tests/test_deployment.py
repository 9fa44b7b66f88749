"""The deployment files stay consistent with the code (there is no Docker engine here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vault.config import Config

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_postgres_and_the_vault_after_it_is_healthy() -> None:
    services = COMPOSE["services"]
    assert set(services) >= {"postgres", "vault"}
    assert services["vault"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]


def test_compose_environment_is_one_the_vault_accepts() -> None:
    postgres = COMPOSE["services"]["postgres"]["environment"]
    environment = COMPOSE["services"]["vault"]["environment"]
    config = Config.from_env(environment)
    assert config.listen == "0.0.0.0:50051"
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
