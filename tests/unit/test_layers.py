"""The one rule of flow, checked on every import statement (top level and inside functions).

    cli  ->  indexer  ->  assetdb
    inside assetdb: query code (search, index, faces, highlights, catalogue, sound, ...)
                    -> models, media -> errors/layout/timecode

A module may import its own layer and the layers below it, never one above.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# importer prefix -> prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "assetdb": ("indexer", "cli", "bench", "tests"),
    "indexer": ("cli", "bench", "tests"),
    # the shared layers know nothing of the query code above them
    "assetdb.models": ("assetdb.search", "assetdb.index", "assetdb.faces", "assetdb.highlights",
                       "assetdb.catalogue", "assetdb.sound", "assetdb.spaces", "assetdb.schema",
                       "assetdb.db", "assetdb.records"),
    "assetdb.media": ("assetdb.models", "assetdb.search", "assetdb.index", "assetdb.faces",
                      "assetdb.highlights", "assetdb.catalogue", "assetdb.sound",
                      "assetdb.spaces", "assetdb.schema", "assetdb.db", "assetdb.records"),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            # `from assetdb import search` imports assetdb.search
            out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
    return out


def _violations() -> list[str]:
    bad = []
    for top in ("assetdb", "indexer", "cli"):
        for path in sorted((REPO / top).rglob("*.py")):
            if "_migrations" in path.parts:
                continue
            module = _module_name(path)
            rules = [(imp, forb) for imp, forb in FORBIDDEN.items()
                     if module == imp or module.startswith(imp + ".")]
            seen: set[int] = set()
            for lineno, target in _imports(path, module):
                if lineno in seen:
                    continue
                for _importer, forbidden in rules:
                    if any(target == f or target.startswith(f + ".") for f in forbidden):
                        bad.append(f"{path.relative_to(REPO)}:{lineno} imports {target}")
                        seen.add(lineno)
                        break
    return bad


def test_imports_flow_one_way() -> None:
    bad = _violations()
    assert not bad, "imports against the flow cli -> indexer -> assetdb:\n" + "\n".join(bad)


def test_contract_catches_an_upward_import(tmp_path: Path) -> None:
    # the checker itself must see imports inside functions and relative ones
    src = "def f():\n    from indexer.ingest import ingest\n    from ..search import x\n"
    p = REPO / "assetdb" / "models" / "_probe_for_layers_test.py"
    p.parent.mkdir(exist_ok=True)
    p.write_text(src)
    try:
        found = [v for v in _violations() if "_probe_for_layers_test" in v]
    finally:
        p.unlink()
    assert any("indexer.ingest" in v for v in found)
    assert any("assetdb.search" in v for v in found)


@pytest.mark.parametrize("module", ["assetdb", "assetdb.db", "assetdb.catalogue", "cli.main"])
def test_light_imports(module: str) -> None:
    """`import assetdb` (and the CLI entry point) loads no heavy library."""
    code = (f"import sys, {module}\n"
            "heavy = [m for m in ('torch', 'sentence_transformers', 'faiss', 'ray', 'cv2', "
            "'open_clip', 'dlib', 'faster_whisper') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", f"import {module} loaded {out}"
