# Dossier Vault. Quick start: `make run` (serve on the embedded default), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck proto proto-check vectors pytest bench lock clean audit

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dossier-vault serve

test: lint typecheck proto-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

proto: $(STAMP)
	$(BIN)/python tools/gen_proto.py

proto-check: $(STAMP)
	$(BIN)/python tools/gen_proto.py --check

vectors: $(STAMP)
	$(BIN)/python tools/make_vectors.py

# The Node.js client's npm modules (tests/server/test_node_client.py, tests/test_proto_lint.py),
# at the versions clients/node/package-lock.json pins. CI (CI set) fails without npm; a
# developer's machine without it skips those tests.
NODE_MODULES := clients/node/node_modules/.package-lock.json

$(NODE_MODULES): clients/node/package.json clients/node/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix clients/node --ignore-scripts --no-audit --no-fund; \
	elif [ -n "$$CI" ]; then \
	  echo "FATAL: npm (Node.js 20+) is required in CI for clients/node" >&2; exit 1; \
	else \
	  echo "npm not found: the Node.js client's tests will be skipped" >&2; \
	fi

# Two workers (pytest-xdist): the suite mostly waits on servers, subprocesses and fsync;
# `make pytest PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= 2
pytest: $(STAMP) $(NODE_MODULES)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,bench]"
	$(BIN)/python -m bench.bench_documents
	$(BIN)/python -m bench.bench_journal
	$(BIN)/python -m bench.bench_merkle
	$(BIN)/python -m bench.bench_tiles
	$(BIN)/python -m bench.bench_rotation
	$(BIN)/python -m bench.bench_s3
	$(BIN)/python -m bench.bench_crypto
	$(BIN)/python -m bench.bench_index
	$(BIN)/python -m bench.bench_retention

# Every locked dependency (constraints.txt) against PyPI's vulnerability advisories. Needs
# PyPI's JSON API (pypi.org/pypi/<name>/<version>/json), so it is not part of `make test`:
# where that does not answer, --strict fails rather than passing on nothing audited.
audit: $(STAMP)
	$(BIN)/pip-audit --strict --no-deps --disable-pip --progress-spinner off -r constraints.txt

lock: $(STAMP)
	{ head -n 2 constraints.txt; $(BIN)/python -m pip freeze --exclude-editable; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
