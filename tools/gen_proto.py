"""Generate (or check) the Python code for protos/vault/v1/*.proto.

`python tools/gen_proto.py` rewrites vault/v1/; `--check` regenerates into a
temporary directory and fails when the committed files differ, so the wire
contract and the code that speaks it cannot drift apart.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT_PACKAGE = Path("vault") / "v1"
BIN = Path(sys.executable).parent  # the plugins of mypy-protobuf live beside python
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def generate(out_root: Path) -> list[Path]:
    sources = sorted(PROTOS.glob("vault/v1/*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
        f"-I{PROTOS}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *(str(s) for s in sources),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(p.relative_to(out_root) for p in (out_root / OUT_PACKAGE).iterdir())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if vault/v1 is stale")
    args = parser.parse_args()
    if not args.check:
        generate(ROOT)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        committed = sorted(
            p.relative_to(ROOT) for p in (ROOT / OUT_PACKAGE).iterdir() if p.name.endswith(SUFFIXES)
        )
        stale = (
            [str(p) for p in fresh if not filecmp.cmp(Path(tmp) / p, ROOT / p, shallow=False)]
            if fresh == committed
            else [str(p) for p in set(fresh) ^ set(committed)]
        )
    if stale:
        print("generated code drifted from protos/: run `make proto`:", *stale, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
