"""The journal tiles' vectors (tests/vectors/tiles-v1.json), built by make_vectors.py.

Three parts (docs/format.md, "Journal tiles v1"):
- `paths`: tile indexes and their path elements, and the tiles a tree of 70,000 needs
  (the example of c2sp.org/tlog-tiles);
- `layout`: a tree of 513 entries whose entry i (from 0) is the ASCII text `entry <i>`:
  every file of its tiles directory (path, length, SHA-256), the small ones in full,
  and the root. It has two full level-0 tiles and bundles, and partial tiles at levels
  0 and 1: every rule of the layout in a small tree;
- `journal`: the five entries of the export vectors published at size 5 (the v2
  checkpoint of tests/vectors/merkle-v1.json): every file in hex, a directory that
  `dossier-vault journal verify DIR --key <verifier_key>` accepts.
Inputs are fixed; no randomness.
"""

from __future__ import annotations

import hashlib
from typing import Any

from vault.journal.tiles import TileBuilder, index_path, path, widths

try:
    from tools.journal_vectors import GENUINE, KEY
    from tools.make_merkle_vectors import v2_note
except ModuleNotFoundError:  # run as a script: tools/ itself is on sys.path
    from journal_vectors import GENUINE, KEY  # type: ignore[import-not-found,no-redef]
    from make_merkle_vectors import v2_note  # type: ignore[import-not-found,no-redef]

LAYOUT_SIZE = 513
SHOWN = 256  # files up to this length are given in full in docs/format.md


def tiles_of(entries: list[bytes]) -> tuple[dict[str, bytes], bytes]:
    builder, files = TileBuilder(), dict[str, bytes]()
    for entry in entries:
        files.update(builder.append(entry))
    files.update(builder.partials())
    return dict(sorted(files.items())), builder.root()


def layout_entries() -> list[bytes]:
    return [b"entry %d" % i for i in range(LAYOUT_SIZE)]


def build() -> dict[str, Any]:
    layout, layout_root = tiles_of(layout_entries())
    journal, _ = tiles_of([entry.canonical for entry in GENUINE])
    return {
        "description": "journal tiles v1 (C2SP tlog-tiles over the journal's Merkle tree): "
        "docs/format.md",
        "paths": {
            "indexes": {str(i): index_path(i) for i in (0, 5, 999, 1000, 1234067)},
            "tree_of_70000": [path(level, index, width) for level, index, width in widths(70000)],
        },
        "layout": {
            "entries": "entry i (from 0) is the ASCII text `entry <i>`",
            "size": LAYOUT_SIZE,
            "root": layout_root.hex(),
            "files": [
                {
                    "path": name,
                    "length": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    **({"hex": data.hex()} if len(data) <= SHOWN else {}),
                }
                for name, data in layout.items()
            ],
        },
        "journal": {
            "verifier_key": KEY,
            "checkpoint": v2_note(5),
            "files": {name: data.hex() for name, data in journal.items()},
        },
    }


def render_markdown(vectors: dict[str, Any]) -> list[str]:
    """The vectors' section of docs/format.md."""
    paths, layout = vectors["paths"], vectors["layout"]
    lines = ["Tile indexes as path elements:", ""]
    lines += [f"- {index}: `{element}`" for index, element in paths["indexes"].items()]
    tree = ", ".join(f"`{name}`" for name in paths["tree_of_70000"])
    lines += ["", f"The rightmost tiles of a tree of 70,000 entries: {tree}.", ""]
    lines += [
        f"A tree of {layout['size']} entries, entry i (from 0) being the ASCII text "
        f"`entry <i>` (root `{layout['root']}`):",
        "",
        "| file | length | SHA-256 |",
        "|---|---|---|",
    ]
    lines += [f"| `{f['path']}` | {f['length']} | `{f['sha256']}` |" for f in layout["files"]]
    lines.append("")
    for shown in (f for f in layout["files"] if "hex" in f):
        lines += [f"`{shown['path']}`, in hex:", "", "```", *_wrapped(shown["hex"]), "```", ""]
    journal = vectors["journal"]
    lines += [
        "The five entries of the export vectors, tiled at size 5 (their v2 checkpoint is "
        "`checkpoint_v2_size_5` of tests/vectors/merkle-v1.json): "
        + ", ".join(
            f"`{name}` ({len(data) // 2} bytes, SHA-256 "
            f"`{hashlib.sha256(bytes.fromhex(data)).hexdigest()}`)"
            for name, data in journal["files"].items()
        )
        + "; the bundle begins `"
        + journal["files"]["tile/entries/000.p/5"][:12]
        + "...` (a length of 0x"
        + journal["files"]["tile/entries/000.p/5"][:4]
        + ' bytes, then `{"`...).',
    ]
    return lines


def _wrapped(text: str, width: int = 64) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]
