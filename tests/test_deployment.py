"""The deployment files stay consistent with the code (there is no Docker engine here):
docker-compose.yml, the Dockerfile and .dockerignore are parsed and checked against the
one configuration (vault/config.py) and the properties docs/deployment.md promises."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from vault import settings as s
from vault.cli import main
from vault.config import CONFIG_FILE_VARIABLE, Config, file_keys
from vault.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
VAULT_IMAGE_SERVICES = ("vault-migrate", "vault", "vault-retention")
ROOT_SECRETS = {"minio-root-user", "minio-root-password"}
# A dummy value per secret file, so that the configuration can be read as the vault reads it.
SECRET_VALUES = {
    "vault-database-url": "postgresql+psycopg://vault:pw@postgres:5432/vault",
    "vault-s3-secret-key": "a-secret-key",
}


def _image_env() -> dict[str, str]:
    """The Dockerfile's ENV instructions (`ENV A=1 \\ B=2`)."""
    joined = DOCKERFILE.replace("\\\n", " ")
    pairs = [p for line in joined.splitlines() if line.startswith("ENV ") for p in line.split()[1:]]
    return dict(p.split("=", 1) for p in pairs)


def _with_secret_files(environment: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The environment with each /run/secrets/<name> replaced by a private file holding
    a dummy value: what the container sees, without a container."""
    resolved = {}
    for name, value in environment.items():
        if str(value).startswith("/run/secrets/"):
            secret = value.rsplit("/", 1)[1]
            path = tmp_path / secret
            path.write_text(SECRET_VALUES[secret] + "\n")
            path.chmod(0o600)
            value = str(path)
        resolved[name] = str(value)
    return resolved


def _served_config(tmp_path: Path) -> Config:
    return Config.from_env(
        _image_env() | _with_secret_files(SERVICES["vault"]["environment"], tmp_path)
    )


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    else:
        yield str(node)


# -- order and jobs ---------------------------------------------------------------------


def test_compose_starts_the_vault_after_its_database_and_its_bucket() -> None:
    assert set(SERVICES) >= {"postgres", "minio", "minio-init", "vault"}
    depends = SERVICES["vault"]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["minio-init"]["condition"] == "service_completed_successfully"
    assert SERVICES["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert all("healthcheck" in SERVICES[name] for name in ("postgres", "minio", "vault"))


def test_the_migration_job_upgrades_the_vaults_databases_before_it_starts() -> None:
    migrate, vault = SERVICES["vault-migrate"], SERVICES["vault"]
    assert migrate["command"] == ["dossier-vault", "db", "upgrade"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert vault["depends_on"]["vault-migrate"]["condition"] == "service_completed_successfully"
    assert migrate["image"] == vault["image"]
    database = ("VAULT_DATABASE_URL_FILE", "VAULT_JOURNAL_DATABASE_URL_FILE")
    assert [migrate["environment"].get(v) for v in database] == [
        vault["environment"].get(v) for v in database
    ]
    assert "vault-database-url" in migrate["secrets"]


def test_the_sweeper_runs_in_the_server_and_retention_daily() -> None:
    assert _served_config_values()["VAULT_GC_INTERVAL_SECONDS"] == "3600"
    retention = SERVICES["vault-retention"]
    script = " ".join(retention["command"])
    assert "dossier-vault retention run --yes" in script
    assert re.search(r"while true; do .* sleep 86400; done", script)
    assert retention["restart"] == "unless-stopped"
    assert retention["image"] == SERVICES["vault"]["image"]


def _served_config_values() -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES["vault"]["environment"].items()}


# -- S3: the vault's own user -----------------------------------------------------------


def test_the_init_job_creates_the_vaults_bucket_with_versioning() -> None:
    script = " ".join(SERVICES["minio-init"]["command"])
    bucket = SERVICES["vault"]["environment"]["VAULT_S3_BUCKET"]
    assert f"mc mb --ignore-existing minio/{bucket}" in script
    assert f"mc version enable minio/{bucket}" in script


def test_the_vault_holds_its_own_s3_user_never_the_root_credentials() -> None:
    """The root credentials reach MinIO and the init job only; the vault's user is the
    one the init job creates and binds to the vault's policy."""
    for name, service in SERVICES.items():
        uses_root = ROOT_SECRETS & set(service.get("secrets", []))
        assert not uses_root or name in ("minio", "minio-init"), name
        if name != "minio":
            assert not any(k.startswith("MINIO_ROOT") for k in service.get("environment", {}))
    user = SERVICES["vault"]["environment"]["VAULT_S3_ACCESS_KEY_ID"]
    script = " ".join(SERVICES["minio-init"]["command"])
    assert f'mc admin user add minio {user} "$$(cat /run/secrets/vault-s3-secret-key)"' in script
    assert f"mc admin policy attach minio dossier-vault --user {user}" in script
    assert "vault-s3-secret-key" in SERVICES["vault"]["secrets"]


def test_the_vaults_s3_policy_reaches_only_its_bucket_and_prefix() -> None:
    environment = SERVICES["vault"]["environment"]
    bucket, prefix = environment["VAULT_S3_BUCKET"], environment["VAULT_S3_PREFIX"]
    policy = json.loads(COMPOSE["configs"]["dossier-vault-s3-policy"]["content"])
    allowed = {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{prefix}*"}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert set(statement["Resource"]) <= allowed
        for action in statement["Action"]:
            assert "*" not in action, action
            assert not action.startswith(("s3:PutBucket", "s3:DeleteBucket")), action
            on_objects = action.endswith(("Object", "ObjectVersion", "Upload", "UploadParts"))
            if on_objects:
                assert statement["Resource"] == [f"arn:aws:s3:::{bucket}/{prefix}*"], action
    mounted = SERVICES["minio-init"]["configs"][0]
    assert mounted["source"] == "dossier-vault-s3-policy"
    script = " ".join(SERVICES["minio-init"]["command"])
    assert f"mc admin policy create minio dossier-vault {mounted['target']}" in script


# -- images -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "pattern"),
    [
        ("postgres", r"postgres:\d+\.\d+-[a-z]+"),
        ("minio", r"minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ"),
        ("minio-init", r"minio/mc:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ"),
    ],
)
def test_every_image_is_pinned_to_a_release(service: str, pattern: str) -> None:
    image = SERVICES[service]["image"]
    assert re.fullmatch(pattern + r"(@sha256:[0-9a-f]{64})?", image), image


def test_no_image_floats_on_latest() -> None:
    images = [service["image"] for service in SERVICES.values()]
    images += re.findall(r"^FROM\s+(\S+)", DOCKERFILE, re.MULTILINE)
    for image in images:
        assert ":" in image.rsplit("/", 1)[-1], f"{image} has no tag"
        assert not image.endswith(":latest"), image
    assert re.search(r"^FROM python:3\.11\.\d+-slim-\w+$", DOCKERFILE, re.MULTILINE)


def test_the_image_installs_the_runtime_dependencies_with_the_lock_file() -> None:
    install = next(line for line in DOCKERFILE.splitlines() if "pip install" in line)
    assert "-c constraints.txt ." in install
    assert "[dev]" not in DOCKERFILE
    assert 'CMD ["dossier-vault", "serve"]' in DOCKERFILE


def test_the_image_runs_as_an_unprivileged_user() -> None:
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.MULTILINE)
    assert users, "no USER instruction: the vault would run as root"
    assert users[-1] not in ("root", "0", "0:0")
    last_user = DOCKERFILE.rindex("\nUSER ")
    assert DOCKERFILE.rindex("pip install") < last_user  # nothing installed after it
    assert "PYTHONOPTIMIZE" not in DOCKERFILE  # vault/'s invariant asserts stay (ruff S101)


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert ignored >= {".venv", "var", ".git", "deploy"}
    for source in COMPOSE["secrets"].values():
        assert source["file"].startswith("./deploy/")


# -- the configuration ------------------------------------------------------------------


def test_compose_environment_is_one_the_vault_accepts(tmp_path: Path) -> None:
    config = _served_config(tmp_path)
    assert config.listen == "0.0.0.0:50051"
    assert config.s3 is not None
    assert config.s3.endpoint_url == "http://minio:9000"
    assert config.s3.path_style
    assert config.s3.secret_access_key == SECRET_VALUES["vault-s3-secret-key"]
    assert config.index_url == SECRET_VALUES["vault-database-url"]
    assert config.require_production_keys
    mounted = [c["target"] for c in SERVICES["vault"]["configs"]]
    assert [str(p) for p in config.token_public_keys] == mounted
    assert config.master_key_file is not None
    volumes = dict(v.split(":")[::-1] for v in SERVICES["vault"]["volumes"])
    assert volumes[str(config.master_key_file.parent)] == "vault-keys"


def test_every_vault_variable_in_compose_and_the_image_is_a_declared_setting() -> None:
    """A misspelt or removed variable would be silently ignored by the vault."""
    declared = set()
    for one in file_keys().values():
        declared |= {one.variable, one.secret_file_variable if one.spec.secret else one.variable}
    declared.add(CONFIG_FILE_VARIABLE)
    used = set(re.findall(r"\bVAULT_[A-Z0-9_]+", " ".join(_strings(SERVICES))))
    used |= {name for name in _image_env() if name.startswith(s.PREFIX)}
    assert used, "no VAULT_ variable found: the test reads the wrong thing"
    assert used <= declared, used - declared


def test_secrets_are_files_never_inline_values() -> None:
    """Passwords and secret keys come from docker secrets (`*_FILE`): `docker inspect`
    and the compose file show paths, not values."""
    secret_variables = {one.variable for one in s.declared(Config) if one.spec.secret}
    # the access key id is the user's name, which the init job's script shows anyway
    secret_variables.discard("VAULT_S3_ACCESS_KEY_ID")
    for name, service in SERVICES.items():
        for variable, value in service.get("environment", {}).items():
            assert variable not in secret_variables, (name, variable)
            if re.search(r"PASSWORD|SECRET", variable):
                assert variable.endswith("_FILE"), (name, variable)
                assert str(value).startswith("/run/secrets/"), (name, variable)
                assert str(value).rsplit("/", 1)[1] in service["secrets"], (name, variable)
    declared = set(COMPOSE["secrets"])
    assert all(set(svc.get("secrets", [])) <= declared for svc in SERVICES.values())


def test_the_image_refuses_development_keys(tmp_path: Path) -> None:
    environment = _image_env() | _with_secret_files(SERVICES["vault"]["environment"], tmp_path)
    del environment["VAULT_TOKEN_PUBLIC_KEYS"]
    with pytest.raises(ConfigurationError, match="VAULT_TOKEN_PUBLIC_KEYS"):
        Config.from_env(environment)
    environment = _image_env() | {"VAULT_TOKEN_PUBLIC_KEYS": "/etc/issuer.pem"}
    with pytest.raises(ConfigurationError, match="VAULT_MASTER_KEY_FILE"):
        Config.from_env(environment)


def test_an_hsm_is_a_production_master_key(tmp_path: Path) -> None:
    environment = _image_env() | _with_secret_files(SERVICES["vault"]["environment"], tmp_path)
    del environment["VAULT_MASTER_KEY_FILE"]
    hsm = {"VAULT_PKCS11_MODULE": "/usr/lib/hsm.so", "VAULT_PKCS11_TOKEN_LABEL": "vault"}
    config = Config.from_env(environment | hsm | {"VAULT_PKCS11_PIN": "1234"})
    assert config.pkcs11 is not None
    assert config.master_key_file is None


def test_no_development_token_is_minted_where_production_keys_are_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in _image_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VAULT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VAULT_TOKEN_PUBLIC_KEYS", str(tmp_path / "issuer.pem"))
    monkeypatch.setenv("VAULT_MASTER_KEY_FILE", str(tmp_path / "master-keys.json"))
    code = main(["dev-token", "--kind", "patient", "--subject", "x"])
    assert code == ConfigurationError.exit_code
    assert "no development issuer" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no issuer key created


# -- health and metrics -----------------------------------------------------------------


def _health_probe(port: int) -> list[str]:
    """The compose health check's command, aimed at `port`."""
    command: list[str] = SERVICES["vault"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    listen_port = SERVICES["vault"]["environment"]["VAULT_LISTEN"].rsplit(":", 1)[1]
    code = command[3].replace(f"127.0.0.1:{listen_port}", f"127.0.0.1:{port}")
    assert code != command[3]
    return [sys.executable, "-c", code]


def test_the_health_check_follows_the_servers_grpc_health() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert subprocess.run(_health_probe(port), check=False).returncode == 0
        servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert subprocess.run(_health_probe(port), check=False).returncode == 1
    finally:
        server.stop(None)
    assert subprocess.run(_health_probe(port), check=False).returncode != 0


def test_the_metrics_port_is_published_on_loopback_only(tmp_path: Path) -> None:
    metrics = _served_config(tmp_path).metrics_listen
    assert metrics is not None
    port = metrics.rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}:{port}" in SERVICES["vault"]["ports"]
    assert all(p.startswith("127.0.0.1:") for p in SERVICES["vault"]["ports"])
    assert f"EXPOSE 50051 {port}" in DOCKERFILE


def test_every_named_volume_is_declared() -> None:
    declared = set(COMPOSE["volumes"])
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            name = volume.split(":")[0]
            assert name.startswith((".", "/")) or name in declared
