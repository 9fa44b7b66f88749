"""Architecture rules that a review could miss: the pure core stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [*sorted((ROOT / "vault" / "domain").glob("*.py")), ROOT / "vault" / "journal" / "chain.py"]
ADAPTER_LIBRARIES = {"boto3", "botocore", "sqlalchemy", "grpc", "grpc_health", "jwt", "psycopg"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
            if node.module.startswith("vault.") and not node.module.startswith(
                ("vault.domain", "vault.errors", "vault.journal.chain")
            ):
                roots.add(node.module)
    return roots


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_modules_import_no_adapter(path: Path) -> None:
    imported = _imported_roots(path)
    assert not imported & ADAPTER_LIBRARIES
    assert not {name for name in imported if name.startswith("vault.")}


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_generated_wire_types_stay_at_the_edges() -> None:
    edges = {"wire.py", "client.py", "servicer.py", "app.py"}
    for path in (ROOT / "vault").rglob("*.py"):
        if "v1" in path.parts or path.name in edges:
            continue
        assert not any(m.startswith("vault.v1") for m in _imported_modules(path)), path
