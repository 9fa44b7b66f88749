# The vault's image: `docker compose up` builds it (see docker-compose.yml, docs/deployment.md).
# The runtime dependencies only (no dev extras), each at the version constraints.txt locks;
# the process runs as the unprivileged user `vault` (uid 10001: the owner the secret files
# mounted from the host need, mode 0600), and refuses to start on development keys.
FROM python:3.11.13-slim-bookworm

RUN groupadd --system --gid 10001 vault \
    && useradd --system --uid 10001 --gid vault --home-dir /var/lib/dossier-vault \
        --create-home --shell /usr/sbin/nologin vault \
    && install -d -o vault -g vault -m 0700 /var/lib/dossier-vault-keys
WORKDIR /opt/dossier-vault
COPY pyproject.toml constraints.txt README.md ./
COPY vault ./vault
COPY retention ./retention
RUN pip install --no-cache-dir --disable-pip-version-check -c constraints.txt . \
    && pip check

USER vault
ENV VAULT_LISTEN=0.0.0.0:50051 \
    VAULT_DATA_DIR=/var/lib/dossier-vault \
    VAULT_REQUIRE_PRODUCTION_KEYS=true
EXPOSE 50051 9464
CMD ["dossier-vault", "serve"]
