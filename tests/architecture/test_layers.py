"""Issue 14, item 1: one direction of imports, checked by import-linter (``lint-imports``, which
``make test`` runs before pytest; the contracts are in pyproject.toml).

These tests keep the contract honest: it names every package (a new one cannot slip past it), the
tree keeps it, and an upward import breaks it.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SETTINGS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
PACKAGES = SETTINGS["root_packages"]
# Folders at the top of the tree that hold Python but are not part of the application.
NOT_APPLICATION = {"tests", "benchmarks", "docs", "examples", "data", "build", "dist"}


def _layers() -> list[set[str]]:
    contract = next(c for c in SETTINGS["contracts"] if c["type"] == "layers")
    # "a | b" independent, "a : b" not; "(a)" an optional layer (one that may be gone)
    return [{m.strip().strip("()") for m in layer.replace("|", ":").split(":") if m.strip()}
            for layer in contract["layers"]]


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd first on sys.path, so the packages analysed are the ones in cwd (not the installed ones)
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)}, timeout=120)


def test_the_contract_names_every_package_and_every_module_of_cadence():
    folders = {p.name for p in ROOT.iterdir()
               if p.is_dir() and not p.name.startswith(".") and p.name not in NOT_APPLICATION
               and any(p.glob("*.py"))}
    assert folders == set(PACKAGES), "add the new top-level package to [tool.importlinter] root_packages"
    children = {f"cadence.{p.stem if p.is_file() else p.name}" for p in (ROOT / "cadence").iterdir()
                if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()}
    placed = set().union(*_layers())
    assert children - placed == set(), "put the new cadence module in a layer of the contract in pyproject.toml"
    assert "cadence.core" in _layers()[-1], "cadence.core is the bottom layer"


def test_nothing_imports_app_py():
    """app.py is the Streamlit script: the top of the tree, outside the contract (import-linter
    analyses packages only), so this test holds its one rule: nothing imports it."""
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
                offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names if n.split(".")[0] == "app"]
    assert offenders == []


def test_the_tree_keeps_the_contracts():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    """A copy of the tree where the bottom layer imports the CLI: lint-imports fails and names it."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    errors = tmp_path / "cadence" / "core" / "errors.py"
    errors.write_text(errors.read_text(encoding="utf-8") + "\nimport cadence.cli  # upward\n", encoding="utf-8")

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "cadence.core is not allowed to import cadence.cli" in result.stdout
    assert "cadence.core.errors -> cadence.cli" in result.stdout
