# The vault's image: `docker compose up` builds it (see docker-compose.yml).
FROM python:3.11-slim

RUN useradd --system --home-dir /var/lib/dossier-vault --create-home vault
WORKDIR /opt/dossier-vault
COPY pyproject.toml constraints.txt README.md ./
COPY vault ./vault
COPY retention ./retention
RUN pip install --no-cache-dir -c constraints.txt .

USER vault
ENV VAULT_LISTEN=0.0.0.0:50051 \
    VAULT_DATA_DIR=/var/lib/dossier-vault
EXPOSE 50051
CMD ["dossier-vault", "serve"]
