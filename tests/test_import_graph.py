"""The library never imports the trainers or the study app: neither at import time of any module of
``p2peval`` nor in any import statement of its source (the CLI names their modules only as strings
in its command table, for lazy dispatch)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "p2peval"
FORBIDDEN = ("trainers", "studies")


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
            names.append(str(node.args[0].value))
    return names


def test_no_import_statement_reaches_trainers_or_studies():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in _imports(ast.parse(path.read_text(), str(path))):
            if name.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}: {name}")
    assert offenders == []


def test_importing_every_module_loads_neither():
    code = """
import importlib, pkgutil, sys, p2peval
for m in pkgutil.walk_packages(p2peval.__path__, 'p2peval.'):
    if not m.name.endswith('__main__'):
        importlib.import_module(m.name)
print(sorted(k for k in sys.modules if k.split('.')[0] in ('trainers', 'studies')))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_scan_sees_an_import(tmp_path):
    """The AST scan itself finds each form of import (so an empty result means something)."""
    src = "import trainers.x\nfrom studies import app\nimportlib.import_module('trainers.y')\n"
    assert [n.split(".")[0] for n in _imports(ast.parse(src))] == ["trainers", "studies", "trainers"]
