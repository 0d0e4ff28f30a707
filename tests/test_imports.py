"""What imports what: aggregation and the plan run without torch, a Snakemake start loads
neither torch nor matplotlib, and the package's imports run one way (no circle; the stages
depend downward: plan <- data <- schedules <- train <- bench, report on plan only)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import NO_SLURM, REPO, copy_workflow

SOURCE = REPO / "workflow"
PACKAGE = SOURCE / "adamix"


def module_name(path: Path) -> str:
    """adamix/plan/cells.py -> adamix.plan.cells; a package's __init__.py -> the package."""
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def loaded_by(names: list[str], heavy: tuple[str, ...]) -> list[str]:
    """The packages of `heavy` that a fresh interpreter loads importing modules `names`."""
    code = (
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(SOURCE)!r})\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "assert sys.modules['adamix'].__file__.startswith(sys.path[0]), 'another adamix'\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(heavy)!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_aggregation_and_the_plan_never_import_torch():
    # Every module of adamix.report and adamix.plan.
    names = [n for n in MODULES if n.startswith(("adamix.report", "adamix.plan"))]
    assert loaded_by(names, ("torch", "snakemake")) == []


def test_the_plan_and_the_registry_are_light():
    # What the Snakefile and tests/test_plan.py import: yaml, no numerics, no Snakemake.
    names = [n for n in MODULES if n.startswith("adamix.plan")] + ["adamix.schedules.registry"]
    heavy = ("torch", "snakemake", "numpy", "pandas", "matplotlib", "numba")
    assert loaded_by(names, heavy) == []


def test_a_snakemake_start_imports_neither_torch_nor_matplotlib(tmp_path):
    # `snakemake -n` on the full study (config.yaml: the built-in rules only; a user's plug-in
    # may import torch itself), run by Snakemake's own CLI in one interpreter, which writes
    # the heavy modules it loaded when it exits.
    workdir = copy_workflow(tmp_path / "wf")
    loaded = tmp_path / "loaded.json"
    code = (
        "import atexit, json, sys\n"
        "def record():\n"
        "    heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib'))\n"
        f"    open({str(loaded)!r}, 'w').write(json.dumps(heavy))\n"
        "atexit.register(record)\n"
        "sys.argv = ['snakemake', '-n']\n"
        "from snakemake.cli import main\n"
        "main()\n"
    )
    env = {**os.environ, "PATH": f"{NO_SLURM}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert json.loads(loaded.read_text()) == []


def under_type_checking(tree: ast.AST) -> set[int]:
    """The ids of the import nodes inside `if TYPE_CHECKING:` blocks (never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skipped


def known(name: str) -> str | None:
    """The module of the package that importing `name` runs: itself, or the nearest package
    or module above it (`adamix.schedules.register` -> adamix.schedules)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str) -> set[str]:
    """The adamix modules that module `name` imports, at its top level or in a function.
    `from package import name` is an edge to the submodule where `name` is one, else to the
    package (its __init__ re-exports it)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped, edges = under_type_checking(tree), set()
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                base = f"{parent}.{base}" if base else parent
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        edges |= {known(t) for t in targets if t.split(".")[0] == "adamix"}
    return edges - {None, name}


GRAPH = {name: imports_of(name) for name in MODULES}


def test_the_package_has_no_import_circle():
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for target in sorted(GRAPH[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in GRAPH:
        visit(name, [])


def stage(name: str) -> str:
    """adamix.plan.cells -> plan; adamix.bench -> bench; adamix -> the root."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


UTILITIES = {"atomic", "joblog", "provenance"}  # shared by every stage, importing no stage
# What each stage may import besides itself and the utilities: downward only.
DEPENDS = {
    "plan": set(),
    "data": {"plan"},
    "schedules": {"plan", "data"},
    "report": {"plan"},
    "train": {"plan", "data", "schedules", "report"},
    "bench": {"plan", "data", "schedules", "report", "train"},
    "": set(),
}


def test_the_stages_depend_downward_only():
    wrong = []
    for name, targets in GRAPH.items():
        mine = stage(name)
        allowed = UTILITIES if mine in UTILITIES else {mine, *UTILITIES, *DEPENDS[mine]}
        wrong += [f"{name} imports {t}" for t in sorted(targets) if stage(t) not in allowed]
    assert not wrong, wrong


def test_plan_and_report_import_no_torch_stage_and_nothing_imports_bench():
    for name, targets in GRAPH.items():
        if stage(name) in ("plan", "report"):
            assert not {stage(t) for t in targets} & {"train", "schedules", "bench"}, name
        assert "adamix.bench" not in targets, name
