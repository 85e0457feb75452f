"""The package's layout rules, checked by reading the sources' imports (no import runs):

* ``shendu/backend`` (the array machinery) imports nothing of shendu outside itself;
* no file under ``_ops/``, ``nn/`` or ``optim/`` imports numba, threading, concurrent or
  the kernel machinery (``backend.kernels``): the maths asks the backend for speed.
"""
import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "shendu"


def _imports(path):
    """The absolute module names a source file imports (relative ones resolved)."""
    parts = path.relative_to(SRC).with_suffix("").parts
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                mod = ".".join(base + ((node.module,) if node.module else ()))
            else:
                mod = node.module
            out.append(mod)
            out += [f"{mod}.{a.name}" for a in node.names]     # `from . import kernels`
    return out


def _files(*dirs):
    return sorted(p for d in dirs for p in (PKG / d).rglob("*.py"))


def test_the_rules_see_relative_imports():
    names = _imports(PKG / "_ops" / "conv.py")
    assert "shendu.backend.conv" in names and "shendu._tensor" in names


@pytest.mark.parametrize("path", _files("backend"), ids=lambda p: p.name)
def test_backend_imports_nothing_of_shendu_outside_itself(path):
    bad = [m for m in _imports(path)
           if (m == "shendu" or m.startswith("shendu.")) and not m.startswith("shendu.backend")]
    assert not bad, f"{path.relative_to(SRC)} imports {bad}"


FORBIDDEN = ("numba", "threading", "concurrent", "shendu.backend.kernels")


@pytest.mark.parametrize("path", _files("_ops", "nn", "optim"),
                         ids=lambda p: str(p.relative_to(PKG)))
def test_maths_imports_no_threads_or_kernels(path):
    bad = [m for m in _imports(path)
           if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad, f"{path.relative_to(SRC)} imports {bad}"
