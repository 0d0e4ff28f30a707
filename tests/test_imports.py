"""Aggregation (tables, claims, figures, the write-up) runs without torch: a fresh
interpreter imports those modules and finds no torch loaded."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

AGGREGATION = [
    "adamix.report.tables",
    "adamix.report.claims",
    "adamix.report.stats",
    "adamix.report.paper",
    "adamix.report.figures",
    "adamix.report.reproduction",
    "adamix.report.metrics",
]


def test_aggregation_never_imports_torch():
    code = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(REPO / 'workflow')!r})\n"
        f"for name in {AGGREGATION!r}:\n"
        "    importlib.import_module(name)\n"
        "assert sys.modules['adamix.report.tables'].__file__.startswith(sys.path[0]), 'another adamix'\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "print(loaded)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
