"""Architecture rules that a review could miss: the pure core stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [
    *sorted((ROOT / "vault" / "domain").glob("*.py")),
    ROOT / "vault" / "journal" / "chain.py",
    ROOT / "vault" / "journal" / "canonical.py",
    ROOT / "vault" / "journal" / "merkle.py",
]
ADAPTER_LIBRARIES = {"boto3", "botocore", "sqlalchemy", "grpc", "grpc_health", "jwt", "psycopg"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
            if node.module.startswith("vault.") and not node.module.startswith(
                ("vault.domain", "vault.errors", "vault.journal.chain", "vault.journal.canonical")
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
    edges = {"wire.py", "wire_grants.py", "client.py", "servicer.py", "app.py"}
    edge_packages = {"rpcs", "clientcalls"}
    for path in (ROOT / "vault").rglob("*.py"):
        if {"v1", *edge_packages} & set(path.parts) or path.name in edges:
            continue
        assert not any(m.startswith("vault.v1") for m in _imported_modules(path)), path


ADAPTERS = (
    "vault.index.sql",
    "vault.blobstore.file",
    "vault.blobstore.s3",
    "vault.crypto.localkeys",
    "vault.crypto.pkcs11",
    "vault.journal.sql",
    "vault.journal.group",
    "vault.sqlstore",
    "vault.composition",
    "vault.server",
    "vault.cli",
)
SERVICE = sorted((ROOT / "vault" / "service").glob("*.py"))


@pytest.mark.parametrize("path", SERVICE, ids=lambda p: str(p.relative_to(ROOT)))
def test_use_cases_depend_on_ports_never_on_adapters(path: Path) -> None:
    imported = _imported_modules(path)
    assert not {m.split(".")[0] for m in imported} & ADAPTER_LIBRARIES
    assert not {m for m in imported if m.startswith(ADAPTERS)}


def _prints(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id == "print":
            return True
        if isinstance(node.func, ast.Attribute) and ast.unparse(node.func) in {
            "sys.stdout.write",
            "sys.stderr.write",
        }:
            return True
    return False


def test_only_the_cli_package_prints() -> None:
    shipped = [*(ROOT / "vault").rglob("*.py"), *(ROOT / "retention").rglob("*.py")]
    printing = {p.relative_to(ROOT) for p in shipped if _prints(p)}
    assert printing, "the rule sees nothing: the CLI prints"
    assert {p for p in printing if p.parts[:2] != ("vault", "cli")} == set()


MAX_MODULE_LINES = 520  # "about 500": one concept per module


def test_no_module_outgrows_one_concept() -> None:
    shipped = [*(ROOT / "vault").rglob("*.py"), *(ROOT / "retention").rglob("*.py")]
    sizes = {
        str(p.relative_to(ROOT)): len(p.read_text().splitlines())
        for p in shipped
        if "v1" not in p.parts  # generated code
    }
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_only_entry_points_build_the_adapters() -> None:
    """The composition root is used by the server and the command lines, nothing else;
    the server itself builds no adapter."""
    entry_points = {ROOT / "vault" / "server" / "app.py", *(ROOT / "vault" / "cli").rglob("*.py")}
    for path in (ROOT / "vault").rglob("*.py"):
        if path in entry_points or path.name == "composition.py":
            continue
        assert "vault.composition" not in _imported_modules(path), path
    served = _imported_modules(ROOT / "vault" / "server" / "app.py")
    assert not {m for m in served if m.startswith(ADAPTERS[:8])}
